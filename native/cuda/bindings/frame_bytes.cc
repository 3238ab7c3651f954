// Entries of the frame byte conversions (frame_bytes.cu). `half`: the float side is in half storage.
#include "../context.h"
#include "../frame_bytes.h"
#include "binding.h"

namespace tfjs_delta {
namespace {

using Info = Napi::CallbackInfo;

struct FramesBytesArgs {
  const void* x;
  void* y;
  int64_t n;
  float scale;
  bool half;
};
FramesBytesArgs framesBytesArgs(const Fields& f) {
  FramesBytesArgs a;
  a.x = f.ptr("x");
  a.y = f.ptr("y");
  a.n = f.i64("n");
  a.scale = f.f32("scale");
  a.half = f.optFlag("half");
  return a;
}

Napi::Value framesFromBytes(const Info& info) {
  const Fields f(info);
  const FramesBytesArgs a = framesBytesArgs(f);
  launchFramesFromBytes(ctx().stream, static_cast<const uint8_t*>(a.x), a.y, a.n, a.scale, a.half);
  return f.undefined();
}

Napi::Value framesToBytes(const Info& info) {
  const Fields f(info);
  const FramesBytesArgs a = framesBytesArgs(f);
  launchFramesToBytes(ctx().stream, a.x, static_cast<uint8_t*>(a.y), a.n, a.scale, a.half);
  return f.undefined();
}

const Entry kEntries[] = {
    {"framesFromBytes", framesFromBytes},
    {"framesToBytes", framesToBytes},
};

}  // namespace

void registerFrameBytes(Napi::Env env, Napi::Object exports) { defineEntries(env, exports, kEntries); }

}  // namespace tfjs_delta
