/**
 * storeHalf: a float32 tensor rounded to IEEE half precision (round to nearest, ties to even; beyond 65504 to
 * infinity), as delta state with statePrecision 'fp16' is stored. The result is a float32 tensor; on 'cuda' it is
 * held in half storage (2 bytes an element), which sparseAccumulate with half state then updates in place, and
 * other kernels read as float32. The delta layers store a stream's first frame with it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {StoreHalf} from './kernel_names';
import {toFloatTensor} from './validation';

function storeHalf_<T extends Tensor>(x: T | TensorLike): T {
  const t = toFloatTensor('storeHalf', 'x', x);
  return tf.engine().runKernel(StoreHalf, {x: t}) as T;
}

export const storeHalf = tf.op({storeHalf_});
