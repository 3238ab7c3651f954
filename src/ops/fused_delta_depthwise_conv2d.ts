/**
 * fusedDeltaDepthwiseConv2d: deltaDepthwiseConv2d (no bias) followed by sparseAccumulate of its output with the
 * layer's state, as one op: what a delta DepthwiseConv2D layer with a truncating activation runs after its first
 * frame. The result equals the two ops in sequence; a backend with a fused kernel ('cuda') never writes the
 * conv's output to memory and reads the delta input only at active taps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor4D} from '@tensorflow/tfjs-core';

import {FusedConvAccumulateArgs, runFusedConvAccumulate} from './fused_conv_accumulate';
import {FusedDeltaDepthwiseConv2D} from './kernel_names';
import type {SparseAccumulateResult} from './sparse_accumulate';

export interface FusedDeltaDepthwiseConv2dArgs extends FusedConvAccumulateArgs {
  /** [kh, kw, inChannels, channelMultiplier]. */
  filter: FusedConvAccumulateArgs['filter'];
}

function fusedDeltaDepthwiseConv2d_(args: FusedDeltaDepthwiseConv2dArgs): SparseAccumulateResult<Tensor4D> {
  return runFusedConvAccumulate('fusedDeltaDepthwiseConv2d', FusedDeltaDepthwiseConv2D, 'depthwise', args);
}

export const fusedDeltaDepthwiseConv2d = tf.op({fusedDeltaDepthwiseConv2d_});
