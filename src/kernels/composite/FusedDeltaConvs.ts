/**
 * The fused delta conv blocks (FusedDeltaConv2D, FusedDeltaDepthwiseConv2D) as their two kernels, the conv and
 * SparseAccumulate, for backends without a fused kernel (and for the shapes 'cuda's fused kernels do not take).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, NamedAttrMap, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {
  DeltaConv2D,
  DeltaConv2DAttrs,
  DeltaDepthwiseConv2D,
  FusedDeltaConv2D,
  FusedDeltaDepthwiseConv2D,
  SparseAccumulate,
  SparseAccumulateAttrs,
} from '../../ops/kernel_names';
import {tensorOf} from './composite_util';

/** The conv kernel of each fused block. */
const CONV_OF: {[fused: string]: string} = {
  [FusedDeltaConv2D]: DeltaConv2D,
  [FusedDeltaDepthwiseConv2D]: DeltaDepthwiseConv2D,
};

export function composedDeltaConvAccumulate(
  fusedKernel: string,
  inputs: {[name: string]: TensorInfo},
  attrs: DeltaConv2DAttrs & SparseAccumulateAttrs,
): Tensor[] {
  const {strides, pad, dilations, dimRoundingMode, threshold, activation, alpha, inPlace, statePrecision} = attrs;
  return tf.tidy(() => {
    const convAttrs: DeltaConv2DAttrs = {strides, pad, dilations, dimRoundingMode};
    const y = tf
      .engine()
      .runKernel(
        CONV_OF[fusedKernel],
        {x: tensorOf(inputs.x), filter: tensorOf(inputs.filter)},
        convAttrs as unknown as NamedAttrMap,
      ) as Tensor;
    const accumulateAttrs: SparseAccumulateAttrs = {threshold, activation, alpha, inPlace, statePrecision};
    return tf
      .engine()
      .runKernel(
        SparseAccumulate,
        {accumulated: tensorOf(inputs.accumulated), residual: tensorOf(inputs.residual), delta: y},
        accumulateAttrs as unknown as NamedAttrMap,
      ) as Tensor[];
  });
}

function composedConfig(fusedKernel: string): (backendName: string) => KernelConfig {
  return (backendName) => ({
    kernelName: fusedKernel,
    backendName,
    kernelFunc: ({inputs, attrs}) =>
      composedDeltaConvAccumulate(
        fusedKernel,
        inputs as {[name: string]: TensorInfo},
        attrs as unknown as DeltaConv2DAttrs & SparseAccumulateAttrs,
      ),
  });
}

export const fusedDeltaConv2DConfig = composedConfig(FusedDeltaConv2D);
export const fusedDeltaDepthwiseConv2DConfig = composedConfig(FusedDeltaDepthwiseConv2D);
