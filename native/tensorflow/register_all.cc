// The addon's entry: registers the ops into the TensorFlow that tfjs-node loaded (the same libraries, by soname)
// once, when it is loaded, and lists them. A refusal (say, an op of that name already there) throws to JavaScript
// with TensorFlow's message.
#include <napi.h>

#include "ops.h"
#include "tf_kernel_util.h"

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  try {
    tfjs_delta_tf::registerSparseAccumulate();
    tfjs_delta_tf::registerDeltaDepthwiseConv2D();
  } catch (const tfjs_delta_tf::KernelError& e) {
    throw Napi::Error::New(env, "tfjs-delta native 'tensorflow' ops: " + e.message);
  }
  Napi::Array ops = Napi::Array::New(env, 2);
  ops.Set(0u, Napi::String::New(env, "TfjsDeltaSparseAccumulate"));
  ops.Set(1u, Napi::String::New(env, "TfjsDeltaDepthwiseConv2D"));
  exports.Set("ops", ops);
  return exports;
}

}  // namespace

NODE_API_MODULE(tfjs_delta_tensorflow, init)
