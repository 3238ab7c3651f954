// Entries of the mask bookkeeping family (delta_mask.cu): masks are uint8 device buffers, 0 a null pointer (dense).
#include "../context.h"
#include "../delta.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// out (uint8) = a (op) b, broadcast as binary's.
struct CompareArgs {
  int op, dtype;
  const void* a;
  const void* b;
  uint8_t* out;
  Dims aDims, bDims, outDims;
};
Napi::Value compare(const Info& info) {
  const Fields f(info);
  CompareArgs a;
  a.op = f.i32("op");
  a.dtype = f.i32("dtype");
  a.a = f.ptr("a");
  a.b = f.ptr("b");
  a.out = f.ptr<uint8_t>("out");
  broadcastDims(f, &a.aDims, &a.bDims, &a.outDims);
  launchCompare(ctx().stream, a.op, a.dtype, a.a, a.b, a.out, a.aDims, a.bDims, a.outDims);
  return f.undefined();
}

// out[i] = cond[i / condInner] ? a[i] : b[i].
struct SelectArgs {
  int elemBytes;
  const uint8_t* cond;
  int64_t condInner;
  const void* a;
  const void* b;
  void* out;
  int64_t n;
};
Napi::Value selectEntry(const Info& info) {
  const Fields f(info);
  SelectArgs a;
  a.elemBytes = f.i32("elemBytes");
  a.cond = f.ptr<const uint8_t>("cond");
  a.condInner = f.i64("condInner");
  a.a = f.ptr("a");
  a.b = f.ptr("b");
  a.out = f.ptr("out");
  a.n = f.i64("n");
  launchSelect(ctx().stream, a.elemBytes, a.cond, a.condInner, a.a, a.b, a.out, a.n);
  return f.undefined();
}

struct TileArgs {
  int elemBytes;
  const void* x;
  Dims inDims;
  void* out;
  Dims outDims;
};
Napi::Value tile(const Info& info) {
  const Fields f(info);
  TileArgs a;
  int64_t in[kMaxRank], out[kMaxRank];
  a.elemBytes = f.i32("elemBytes");
  a.x = f.ptr("x");
  const int rank = f.ints("inShape", in, kMaxRank);
  a.out = f.ptr("out");
  if (f.ints("outShape", out, kMaxRank) != rank) throw Error("field 'outShape' differs in rank from 'inShape'");
  a.inDims = makeDims(in, rank, nullptr);
  a.outDims = makeDims(out, rank, nullptr);
  launchTile(ctx().stream, a.elemBytes, a.x, a.inDims, a.out, a.outDims);
  return f.undefined();
}

// Bool reduction of x viewed as [outer, r, inner] over r.
struct AnyAllArgs {
  bool isAll;
  const uint8_t* x;
  uint8_t* y;
  int64_t outer, r, inner;
};
Napi::Value anyAll(const Info& info) {
  const Fields f(info);
  AnyAllArgs a;
  a.isAll = f.flag("isAll");
  a.x = f.ptr<const uint8_t>("x");
  a.y = f.ptr<uint8_t>("y");
  a.outer = f.i64("outer");
  a.r = f.i64("r");
  a.inner = f.i64("inner");
  launchAnyAll(ctx().stream, a.isAll, a.x, a.y, a.outer, a.r, a.inner);
  return f.undefined();
}

struct ClipArgs {
  const float* x;
  float* y;
  int64_t n;
  float lo, hi;
};
Napi::Value clip(const Info& info) {
  const Fields f(info);
  ClipArgs a;
  a.x = f.ptr<const float>("x");
  a.y = f.ptr<float>("y");
  a.n = f.i64("n");
  a.lo = f.f32("lo");
  a.hi = f.f32("hi");
  launchClip(ctx().stream, a.x, a.y, a.n, a.lo, a.hi);
  return f.undefined();
}

// Materialises a lazily written delta tensor: x = 0 at the pixels whose mask flag is 0.
struct ZeroInactiveArgs {
  float* x;
  const uint8_t* mask;
  int64_t pixels, channels;
};
Napi::Value zeroInactive(const Info& info) {
  const Fields f(info);
  ZeroInactiveArgs a;
  a.x = f.ptr<float>("x");
  a.mask = f.ptr<const uint8_t>("mask");
  a.pixels = f.i64("pixels");
  a.channels = f.i64("channels");
  launchZeroInactive(ctx().stream, a.x, a.mask, a.pixels, a.channels);
  return f.undefined();
}

struct BusyWaitArgs {
  double microseconds;
};
Napi::Value busyWait(const Info& info) {
  const Fields f(info);
  BusyWaitArgs a;
  a.microseconds = f.number("microseconds");
  launchBusyWait(ctx().stream, a.microseconds);
  return f.undefined();
}

const Entry kEntries[] = {
    {"compare", compare}, {"select", selectEntry},        {"tile", tile},         {"anyAll", anyAll},
    {"clip", clip},       {"zeroInactive", zeroInactive}, {"busyWait", busyWait},
};

}  // namespace

void registerDeltaMask(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
