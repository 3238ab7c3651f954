// The ops this library registers into tfjs-node's TensorFlow; each throws a KernelError when TF refuses it.
#pragma once

namespace tfjs_delta_tf {

void registerSparseAccumulate();
void registerDeltaDepthwiseConv2D();
void registerPixelRows();
void registerSparsify();
void registerConvReach();

}  // namespace tfjs_delta_tf
