/**
 * The delta ops are inference-only: a delta stream is a sum over frames with data-dependent
 * truncation, which has no useful gradient. Asking for one fails with a message saying what to
 * do instead, rather than tfjs's generic "gradient not defined".
 */
import * as tf from '@tensorflow/tfjs-core';

import {DELTA_KERNELS} from './kernel_names';

export function registerNoGradients(): void {
  for (const [kernelName, op, dense] of DELTA_KERNELS) {
    if (tf.getGradient(kernelName) != null) continue; // registered already: tfjs would warn about overriding it
    tf.registerGradient({
      kernelName,
      gradFunc: () => {
        throw new Error(
          `${op} has no gradient: delta ops are inference-only. Train the dense model ` +
            `(${dense}, or toDense(model)) and convert it with toDelta.`,
        );
      },
    });
  }
}
