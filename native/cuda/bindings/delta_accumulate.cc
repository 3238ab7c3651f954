// Entries of the delta accumulation family (delta_accumulate.cu): sparseAccumulate, deltaSparsify and deltaMaxPool.
#include "../context.h"
#include "../delta.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// mask 0: a dense delta. In place when outA == a and outR == r (inactive pixels then untouched). halfState: a, r,
// outA and outR hold IEEE halves. scratch: 1 + pixels int32s for a pixel list (0: none); returns whether the list ran
// (pixel_list.cuh: a mask, in place, lazy zeros). listReady (optional): the producing deltaConv wrote the list into
// scratch and the zeros of outMask (its accumulateList).
struct SparseAccumulateArgs {
  const void* a;
  const void* r;
  const float* d;
  const uint8_t* mask;
  float* outD;
  void* outA;
  void* outR;
  uint8_t* outMask;
  int64_t pixels, channels;
  double threshold;
  int act;
  double alpha;
  bool writeZeros, halfState, listReady;
  int* scratch;
};
Napi::Value sparseAccumulate(const Info& info) {
  const Fields f(info);
  SparseAccumulateArgs a;
  a.a = f.ptr<const void>("a");
  a.r = f.ptr<const void>("r");
  a.d = f.ptr<const float>("d");
  a.mask = f.ptr<const uint8_t>("mask");
  a.outD = f.ptr<float>("outD");
  a.outA = f.ptr<void>("outA");
  a.outR = f.ptr<void>("outR");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.pixels = f.i64("pixels");
  a.channels = f.i64("channels");
  a.threshold = f.number("threshold");
  a.act = f.i32("act");
  a.alpha = f.number("alpha");
  a.writeZeros = f.flag("writeZeros");
  a.halfState = f.flag("halfState");
  a.scratch = f.ptr<int>("scratch");
  a.listReady = f.optFlag("listReady");
  const bool listed = launchSparseAccumulate(ctx().stream, a.a, a.r, a.d, a.mask, a.outD, a.outA, a.outR, a.outMask,
                                             a.pixels, a.channels, a.threshold, a.act, a.alpha, a.writeZeros,
                                             a.halfState, a.scratch, a.listReady);
  return Napi::Boolean::New(info.Env(), listed);
}

// NHWC; rows: scratch for a dilated test (0 without dilation). In place when outA == a.
Napi::Value deltaSparsify(const Info& info) {
  const Fields f(info);
  launchDeltaSparsify(ctx().stream, f.ptr<const float>("x"), f.ptr<const float>("a"), f.ptr<float>("outD"),
                      f.ptr<float>("outA"), f.ptr<uint8_t>("outMask"), f.ptr<uint8_t>("rows"), f.i64("n"), f.i64("h"),
                      f.i64("w"), f.i64("channels"), f.number("threshold"), f.i32("dilation"), f.flag("writeZeros"));
  return f.undefined();
}

struct DeltaMaxPoolArgs {
  DeltaPoolParams p;
  const float* a;
  const float* d;
  const uint8_t* mask;
  float* outD;
  float* outA;
  uint8_t* outMask;
  bool writeZeros;
};
Napi::Value deltaMaxPool(const Info& info) {
  const Fields f(info);
  DeltaMaxPoolArgs a;
  DeltaPoolParams& p = a.p;
  p.n = f.i32("n");
  p.h = f.i32("h");
  p.w = f.i32("w");
  p.c = f.i32("c");
  p.oh = f.i32("oh");
  p.ow = f.i32("ow");
  p.kh = f.i32("kh");
  p.kw = f.i32("kw");
  p.sh = f.i32("sh");
  p.sw = f.i32("sw");
  p.pt = f.i32("pt");
  p.pl = f.i32("pl");
  a.a = f.ptr<const float>("a");
  a.d = f.ptr<const float>("d");
  a.mask = f.ptr<const uint8_t>("mask");
  a.outD = f.ptr<float>("outD");
  a.outA = f.ptr<float>("outA");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.writeZeros = f.flag("writeZeros");
  launchDeltaMaxPool(ctx().stream, a.p, a.a, a.d, a.mask, a.outD, a.outA, a.outMask, a.writeZeros);
  return f.undefined();
}

const Entry kEntries[] = {
    {"sparseAccumulate", sparseAccumulate}, {"deltaSparsify", deltaSparsify}, {"deltaMaxPool", deltaMaxPool}};

}  // namespace

void registerDeltaAccumulate(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
