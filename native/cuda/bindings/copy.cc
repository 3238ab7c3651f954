// Entries of the data-movement family (copy.cu).
#include "../context.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// dst[dstOffset + sum(i_k * dstStrides[k])] = src[srcOffset + sum(i_k * srcStrides[k])] over shape.
struct StridedCopyArgs {
  int elemBytes;
  const void* src;
  int64_t srcOffset;
  Dims srcDims;
  void* dst;
  int64_t dstOffset;
  Dims dstDims;
};
Napi::Value stridedCopy(const Info& info) {
  const Fields f(info);
  StridedCopyArgs a;
  int64_t shape[kMaxRank], ss[kMaxRank], ds[kMaxRank];
  a.elemBytes = f.i32("elemBytes");
  a.src = f.ptr("src");
  a.srcOffset = f.i64("srcOffset");
  const int rank = f.ints("shape", shape, kMaxRank);
  if (f.ints("srcStrides", ss, kMaxRank) != rank) throw Error("field 'srcStrides' differs in rank from 'shape'");
  a.dst = f.ptr("dst");
  a.dstOffset = f.i64("dstOffset");
  if (f.ints("dstStrides", ds, kMaxRank) != rank) throw Error("field 'dstStrides' differs in rank from 'shape'");
  a.srcDims = makeDims(shape, rank, ss);
  a.dstDims = makeDims(shape, rank, ds);
  launchStridedCopy(ctx().stream, a.elemBytes, a.src, a.srcOffset, a.srcDims, a.dst, a.dstOffset, a.dstDims);
  return f.undefined();
}

// mode 0 constant (value), 1 reflect, 2 symmetric; before[k]: the pad before dim k.
struct PadArgs {
  int dtype;
  const void* x;
  Dims inDims;
  void* y;
  Dims outDims;
  int64_t before[kMaxRank];
  int mode;
  double value;
};
Napi::Value pad(const Info& info) {
  const Fields f(info);
  PadArgs a;
  int64_t in[kMaxRank], out[kMaxRank];
  a.dtype = f.i32("dtype");
  a.x = f.ptr("x");
  const int rank = f.ints("inShape", in, kMaxRank);
  a.y = f.ptr("y");
  if (f.ints("outShape", out, kMaxRank) != rank) throw Error("field 'outShape' differs in rank from 'inShape'");
  if (f.ints("before", a.before, kMaxRank) != rank) throw Error("field 'before' differs in rank from 'inShape'");
  a.mode = f.i32("mode");
  a.value = f.number("value");
  a.inDims = makeDims(in, rank, nullptr);
  a.outDims = makeDims(out, rank, nullptr);
  launchPad(ctx().stream, a.dtype, a.x, a.inDims, a.y, a.outDims, a.before, a.mode, a.value);
  return f.undefined();
}

// NHWC, tfjs semantics.
struct ResizeArgs {
  bool bilinear;
  const float* x;
  int64_t n, h, w, c;
  float* y;
  int64_t outH, outW;
  bool alignCorners, halfPixelCenters;
};
Napi::Value resize(const Info& info) {
  const Fields f(info);
  ResizeArgs a;
  a.bilinear = f.flag("bilinear");
  a.x = f.ptr<const float>("x");
  a.n = f.i64("n");
  a.h = f.i64("h");
  a.w = f.i64("w");
  a.c = f.i64("c");
  a.y = f.ptr<float>("y");
  a.outH = f.i64("outH");
  a.outW = f.i64("outW");
  a.alignCorners = f.flag("alignCorners");
  a.halfPixelCenters = f.flag("halfPixelCenters");
  launchResize(ctx().stream, a.bilinear, a.x, a.y, a.n, a.h, a.w, a.c, a.outH, a.outW, a.alignCorners,
               a.halfPixelCenters);
  return f.undefined();
}

const Entry kEntries[] = {{"stridedCopy", stridedCopy}, {"pad", pad}, {"resize", resize}};

}  // namespace

void registerCopy(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
