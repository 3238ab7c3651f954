/**
 * The companion delta ops are inference-only like the other delta ops (see no_gradient.ts): a
 * gradient request fails with a message naming the op and the dense op to train with instead.
 */
import * as tf from '@tensorflow/tfjs-core';

import {COMPANION_KERNELS} from './companion_kernel_names';

export function registerCompanionNoGradients(): void {
  for (const [kernelName, op, dense] of COMPANION_KERNELS) {
    tf.registerGradient({
      kernelName,
      gradFunc: () => {
        throw new Error(`${op} has no gradient: delta ops are inference-only; train the dense ` +
            `model (${dense}, or toDense(model)) and convert it with toDelta.`);
      },
    });
  }
}
