/**
 * deltaGlobalAvgPool: the mean over H and W of an NHWC delta tensor, [B, C] (what
 * tf.layers.globalAveragePooling2d computes). A batch row is active iff any of its pixels is.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor2D, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaGlobalAvgPool} from './kernel_names';
import {checkNonEmpty, checkRank, toFloatTensor} from './validation';

function deltaGlobalAvgPool_(x: Tensor4D | TensorLike): Tensor2D {
  const op = 'deltaGlobalAvgPool';
  const $x = toFloatTensor(op, 'x', x);
  checkRank(op, 'x', $x, 4, 'NHWC');
  checkNonEmpty(op, 'x', $x);
  return tf.engine().runKernel(DeltaGlobalAvgPool, {x: $x}) as Tensor2D;
}

export const deltaGlobalAvgPool = tf.op({deltaGlobalAvgPool_});
