/**
 * deltaAdd: a + b for two delta tensors of one shape (a residual connection). The output mask is
 * the union of the input masks; it is dense when either input is dense.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaAdd} from './kernel_names';
import {checkNonEmpty, checkSameShape, fail, shapeStr, toFloatTensor} from './validation';

function deltaAdd_<T extends Tensor>(a: T | TensorLike, b: T | TensorLike): T {
  const op = 'deltaAdd';
  const $a = toFloatTensor(op, 'a', a);
  const $b = toFloatTensor(op, 'b', b);
  if ($a.rank < 2) fail(op, 'a', `must have rank >= 2 ([...pixels, channels]), got shape ${shapeStr($a.shape)}`);
  checkNonEmpty(op, 'a', $a);
  checkSameShape(op, 'b', $b, 'a', $a);
  return tf.engine().runKernel(DeltaAdd, {a: $a, b: $b}) as T;
}

export const deltaAdd = tf.op({deltaAdd_});
