// Entries of the delta companion family (delta_companion.cu, pool.cu): batch-norm scale, residual add, zero padding
// and global average pool of delta tensors, at active pixels only. Inactive outputs are written (zeros) only with
// writeZeros.
#include "../context.h"
#include "../delta.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

struct DeltaScaleArgs {
  const float* x;
  const uint8_t* mask;
  const float* scale;
  float* y;
  int64_t pixels, channels;
  bool writeZeros;
};
Napi::Value deltaScale(const Info& info) {
  const Fields f(info);
  DeltaScaleArgs a;
  a.x = f.ptr<const float>("x");
  a.mask = f.ptr<const uint8_t>("mask");
  a.scale = f.ptr<const float>("scale");
  a.y = f.ptr<float>("y");
  a.pixels = f.i64("pixels");
  a.channels = f.i64("channels");
  a.writeZeros = f.flag("writeZeros");
  launchDeltaScale(ctx().stream, a.x, a.mask, a.scale, a.y, a.pixels, a.channels, a.writeZeros);
  return f.undefined();
}

// outMask 0 when either input is dense (the output is then dense).
struct DeltaAddArgs {
  const float* a;
  const uint8_t* maskA;
  const float* b;
  const uint8_t* maskB;
  float* y;
  uint8_t* outMask;
  int64_t pixels, channels;
  bool writeZeros;
};
Napi::Value deltaAdd(const Info& info) {
  const Fields f(info);
  DeltaAddArgs a;
  a.a = f.ptr<const float>("a");
  a.maskA = f.ptr<const uint8_t>("maskA");
  a.b = f.ptr<const float>("b");
  a.maskB = f.ptr<const uint8_t>("maskB");
  a.y = f.ptr<float>("y");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.pixels = f.i64("pixels");
  a.channels = f.i64("channels");
  a.writeZeros = f.flag("writeZeros");
  launchDeltaAdd(ctx().stream, a.a, a.maskA, a.b, a.maskB, a.y, a.outMask, a.pixels, a.channels, a.writeZeros);
  return f.undefined();
}

struct DeltaPadArgs {
  DeltaPadParams p;
  const float* x;
  const uint8_t* mask;
  float* y;
  uint8_t* outMask;
  bool writeZeros;
};
Napi::Value deltaPad(const Info& info) {
  const Fields f(info);
  DeltaPadArgs a;
  DeltaPadParams& p = a.p;
  p.n = f.i32("n");
  p.h = f.i32("h");
  p.w = f.i32("w");
  p.c = f.i32("c");
  p.oh = f.i32("oh");
  p.ow = f.i32("ow");
  p.top = f.i32("top");
  p.left = f.i32("left");
  a.x = f.ptr<const float>("x");
  a.mask = f.ptr<const uint8_t>("mask");
  a.y = f.ptr<float>("y");
  a.outMask = f.ptr<uint8_t>("outMask");
  a.writeZeros = f.flag("writeZeros");
  launchDeltaPad(ctx().stream, a.p, a.x, a.mask, a.y, a.outMask, a.writeZeros);
  return f.undefined();
}

Napi::Value deltaGlobalAvgPool(const Info& info) {
  const Fields f(info);
  const auto* x = f.ptr<const float>("x");
  const auto* mask = f.ptr<const uint8_t>("mask");
  auto* y = f.ptr<float>("y");
  auto* outMask = f.ptr<uint8_t>("outMask");
  launchDeltaGlobalAvgPool(ctx().stream, x, mask, y, outMask, f.i32("n"), f.i32("h"), f.i32("w"), f.i32("c"));
  return f.undefined();
}

const Entry kEntries[] = {{"deltaScale", deltaScale},
                          {"deltaAdd", deltaAdd},
                          {"deltaPad", deltaPad},
                          {"deltaGlobalAvgPool", deltaGlobalAvgPool}};

}  // namespace

void registerDeltaCompanion(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
