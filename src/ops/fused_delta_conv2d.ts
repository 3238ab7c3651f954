/**
 * fusedDeltaConv2d: deltaConv2d (no bias) followed by sparseAccumulate of its output with the layer's state, as one
 * op: what a delta Conv2D layer with a truncating activation runs after its first frame. The result equals the two
 * ops in sequence. On 'cuda' a pointwise conv (1x1, stride 1) runs as one block over a work list of the active
 * pixels with the accumulator as its epilogue (native/cuda/delta_pointwise.cu); other geometries run the two kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor4D} from '@tensorflow/tfjs-core';

import {FusedConvAccumulateArgs, runFusedConvAccumulate} from './fused_conv_accumulate';
import {FusedDeltaConv2D} from './kernel_names';
import type {SparseAccumulateResult} from './sparse_accumulate';

export interface FusedDeltaConv2dArgs extends FusedConvAccumulateArgs {
  /** [kh, kw, inChannels, outChannels] (HWIO, as tf.conv2d). */
  filter: FusedConvAccumulateArgs['filter'];
}

function fusedDeltaConv2d_(args: FusedDeltaConv2dArgs): SparseAccumulateResult<Tensor4D> {
  return runFusedConvAccumulate('fusedDeltaConv2d', FusedDeltaConv2D, 'regular', args);
}

export const fusedDeltaConv2d = tf.op({fusedDeltaConv2d_});
