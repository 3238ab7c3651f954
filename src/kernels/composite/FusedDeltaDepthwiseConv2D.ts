/** The fused depthwise delta block as its two kernels, for backends without a fused one (and 'cuda's fallbacks). */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, NamedAttrMap, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {
  DeltaDepthwiseConv2D,
  DeltaDepthwiseConv2DAttrs,
  FusedDeltaDepthwiseConv2D,
  FusedDeltaDepthwiseConv2DAttrs,
  SparseAccumulate,
  SparseAccumulateAttrs,
} from '../../ops/kernel_names';
import {tensorOf} from './composite_util';

export function composedDeltaDepthwiseAccumulate(
  inputs: {[name: string]: TensorInfo},
  attrs: FusedDeltaDepthwiseConv2DAttrs,
): Tensor[] {
  const {strides, pad, dilations, dimRoundingMode, threshold, activation, alpha, inPlace} = attrs;
  return tf.tidy(() => {
    const convAttrs: DeltaDepthwiseConv2DAttrs = {strides, pad, dilations, dimRoundingMode};
    const y = tf
      .engine()
      .runKernel(
        DeltaDepthwiseConv2D,
        {x: tensorOf(inputs.x), filter: tensorOf(inputs.filter)},
        convAttrs as unknown as NamedAttrMap,
      ) as Tensor;
    const accumulateAttrs: SparseAccumulateAttrs = {threshold, activation, alpha, inPlace};
    return tf
      .engine()
      .runKernel(
        SparseAccumulate,
        {accumulated: tensorOf(inputs.accumulated), residual: tensorOf(inputs.residual), delta: y},
        accumulateAttrs as unknown as NamedAttrMap,
      ) as Tensor[];
  });
}

export const fusedDeltaDepthwiseConv2DConfig = (backendName: string): KernelConfig => ({
  kernelName: FusedDeltaDepthwiseConv2D,
  backendName,
  kernelFunc: ({inputs, attrs}) =>
    composedDeltaDepthwiseAccumulate(
      inputs as {[name: string]: TensorInfo},
      attrs as unknown as FusedDeltaDepthwiseConv2DAttrs,
    ),
});
