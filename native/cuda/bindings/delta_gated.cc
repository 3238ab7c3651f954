// Entries of the gated-convolution family (delta_gated.cu): the SE gate of conv3dGated.
#include "../context.h"
#include "../delta.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

// gate[n, co] = sigmoid(bg[co] + sum_ci mean[n, ci] * wg[ci, co]).
struct GateSigmoidArgs {
  const float* mean;
  const float* wg;
  const float* bg;
  float* gate;
  int64_t n, c;
};
Napi::Value gateSigmoid(const Info& info) {
  const Fields f(info);
  GateSigmoidArgs a;
  a.mean = f.ptr<const float>("mean");
  a.wg = f.ptr<const float>("wg");
  a.bg = f.ptr<const float>("bg");
  a.gate = f.ptr<float>("gate");
  a.n = f.i64("n");
  a.c = f.i64("c");
  launchGateSigmoid(ctx().stream, a.mean, a.wg, a.bg, a.gate, a.n, a.c);
  return f.undefined();
}

// out[n, v, c] = act(y[n, v, c] * gate[n, c]); y and out in half storage with `half`.
struct ApplyGateArgs {
  const void* y;
  const float* gate;
  void* out;
  int64_t n, voxels, c;
  int act;
  float alpha;
  bool half;
};
Napi::Value applyGate(const Info& info) {
  const Fields f(info);
  ApplyGateArgs a;
  a.y = f.ptr("y");
  a.gate = f.ptr<const float>("gate");
  a.out = f.ptr("out");
  a.n = f.i64("n");
  a.voxels = f.i64("voxels");
  a.c = f.i64("c");
  a.act = f.i32("act");
  a.alpha = f.f32("alpha");
  a.half = f.optFlag("half");
  launchApplyGate(ctx().stream, a.y, a.gate, a.out, a.n, a.voxels, a.c, a.act, a.alpha, a.half);
  return f.undefined();
}

const Entry kEntries[] = {{"gateSigmoid", gateSigmoid}, {"applyGate", applyGate}};

}  // namespace

void registerDeltaGated(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
