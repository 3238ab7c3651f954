// The addon's entry: registers the ops into the TensorFlow that tfjs-node loaded (the same libraries, by soname)
// once, when it is loaded, and lists them. A refusal TF reports as a status throws to JavaScript with its message.
#include <napi.h>

#include <iterator>
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
      tfjs_delta_tf::registerPixelRows();
      tfjs_delta_tf::registerSparsify();
      tfjs_delta_tf::registerConvReach();
    } catch (const tfjs_delta_tf::KernelError& e) {
      failure = e.message;
    }
  });
  if (!failure.empty()) throw Napi::Error::New(env, "tfjs-delta native 'tensorflow' ops: " + failure);
  const char* names[] = {"TfjsDeltaSparseAccumulate", "TfjsDeltaScatterAccumulate", "TfjsDeltaDepthwiseConv2D",
                         "TfjsDeltaGatherRows",       "TfjsDeltaScatterRows",       "TfjsDeltaSparsify",
                         "TfjsDeltaConvReach"};
  Napi::Array ops = Napi::Array::New(env, std::size(names));
  for (uint32_t i = 0; i < std::size(names); i++) ops.Set(i, Napi::String::New(env, names[i]));
  exports.Set("ops", ops);
  return exports;
}

}  // namespace

NODE_API_MODULE(tfjs_delta_tensorflow, init)
