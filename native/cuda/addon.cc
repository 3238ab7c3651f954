// Module init of the 'cuda' backend's addon: each op family registers its own entries (bindings/<family>.cc),
// every one behind the shared wrapper that turns C++ exceptions into JS Errors (bindings/binding.cc).
#include <cudnn.h>
#include <napi.h>

#include "bindings/binding.h"

namespace tfjs_delta {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  registerContext(env, exports);
  registerElementwise(env, exports);
  registerCopy(env, exports);
  registerReduce(env, exports);
  registerPool(env, exports);
  registerConv(env, exports);
  registerMatmul(env, exports);
  registerDeltaMask(env, exports);
  registerDeltaAccumulate(env, exports);
  registerDeltaCompanion(env, exports);
  registerDeltaConv(env, exports);
  registerDeltaGated(env, exports);
  registerPlan(env, exports);
  registerAsyncRead(env, exports);
  registerFrameBytes(env, exports);
  exports.Set("cudnnHeaderVersion", (double)CUDNN_VERSION);
  exports.Set("cudaHeaderVersion", (double)CUDART_VERSION);
  return exports;
}

}  // namespace
}  // namespace tfjs_delta

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return tfjs_delta::Init(env, exports); }
NODE_API_MODULE(tfjs_delta_cuda, InitAddon)
