/**
 * The delta ops are inference-only: a delta stream is a sum over frames with data-dependent
 * truncation, which has no useful gradient. Asking for one fails with a message saying what to
 * do instead, rather than tfjs's generic "gradient not defined".
 */
import * as tf from '@tensorflow/tfjs-core';

import {DeltaConv2D, DeltaConv2DTranspose, DeltaDepthwiseConv2D, DeltaMaxPool, SparseAccumulate} from './kernel_names';

const OPS: Array<[string, string, string]> = [
  [DeltaConv2D, 'deltaConv2d', 'tf.conv2d'],
  [DeltaDepthwiseConv2D, 'deltaDepthwiseConv2d', 'tf.depthwiseConv2d'],
  [DeltaConv2DTranspose, 'deltaConv2dTranspose', 'tf.conv2dTranspose'],
  [SparseAccumulate, 'sparseAccumulate', 'the dense activation'],
  [DeltaMaxPool, 'deltaMaxPool', 'tf.maxPool'],
];

export function registerNoGradients(): void {
  for (const [kernelName, op, dense] of OPS) {
    tf.registerGradient({
      kernelName,
      gradFunc: () => {
        throw new Error(`${op} has no gradient: delta ops are inference-only. Train the dense model ` +
            `(${dense}, or toDense(model)) and convert it with toDelta.`);
      },
    });
  }
}
