/**
 * deltaReshape: tf.reshape of a delta tensor (Flatten, Reshape). The output's pixels are the runs
 * of its last dimension; one is active iff any of its elements came from an active input pixel.
 * A masked input is copied into a buffer of its own, because a mask belongs to a buffer and the
 * input keeps its own.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaReshape, DeltaReshapeAttrs} from './kernel_names';
import {checkNonEmpty, fail, shapeStr, toFloatTensor} from './validation';

function deltaReshape_<R extends tf.Rank>(x: Tensor | TensorLike, shape: number[]): Tensor<R> {
  const op = 'deltaReshape';
  const $x = toFloatTensor(op, 'x', x);
  checkNonEmpty(op, 'x', $x);
  if (
    !Array.isArray(shape) ||
    shape.length < 1 ||
    !shape.every((d) => Number.isInteger(d) && (d > 0 || d === -1)) ||
    shape.filter((d) => d === -1).length > 1
  ) {
    fail(op, 'shape', `must be positive integers with at most one -1, got ${JSON.stringify(shape)}`);
  }
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const resolved = shape.map((d) => (d === -1 ? $x.size / known : d));
  if (!resolved.every((d) => Number.isInteger(d)) || resolved.reduce((p, d) => p * d, 1) !== $x.size) {
    fail(op, 'shape', `${JSON.stringify(shape)} does not fit the ${$x.size} elements of 'x' ${shapeStr($x.shape)}`);
  }
  const attrs: DeltaReshapeAttrs = {shape: resolved};
  return tf.engine().runKernel(DeltaReshape, {x: $x}, attrs as unknown as NamedAttrMap) as Tensor<R>;
}

export const deltaReshape = tf.op({deltaReshape_});
