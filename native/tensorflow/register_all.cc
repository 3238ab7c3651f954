// The addon's entry: registers the ops into the TensorFlow that tfjs-node loaded (the same libraries, by soname)
// once, when it is loaded, and lists them. A refusal TF reports as a status throws to JavaScript with its message.
#include <napi.h>

#include <mutex>
#include <string>

#include "ops.h"
#include "tf_kernel_util.h"

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  // Once a process: Node-API runs this again for each worker thread, and TF ends the process on an op registered
  // twice. (A second copy of this library at another path is kept from loading by native_ops.ts.)
  static std::once_flag registered;
  static std::string failure;
  std::call_once(registered, [] {
    try {
      tfjs_delta_tf::registerSparseAccumulate();
      tfjs_delta_tf::registerDeltaDepthwiseConv2D();
    } catch (const tfjs_delta_tf::KernelError& e) {
      failure = e.message;
    }
  });
  if (!failure.empty()) throw Napi::Error::New(env, "tfjs-delta native 'tensorflow' ops: " + failure);
  Napi::Array ops = Napi::Array::New(env, 2);
  ops.Set(0u, Napi::String::New(env, "TfjsDeltaSparseAccumulate"));
  ops.Set(1u, Napi::String::New(env, "TfjsDeltaDepthwiseConv2D"));
  exports.Set("ops", ops);
  return exports;
}

}  // namespace

NODE_API_MODULE(tfjs_delta_tensorflow, init)
