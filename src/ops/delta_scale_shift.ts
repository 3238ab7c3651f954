/**
 * deltaScaleShift: x * scale (+ offset) per channel, the delta form of an affine layer such as a
 * folded batch normalization (scale = gamma / sqrt(variance + epsilon), offset = beta - mean *
 * scale). Without an offset the mask is kept; pass the offset on a stream's first frame only, and
 * the output is dense.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor1D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaScaleShift} from './kernel_names';
import {checkChannelVector} from './companion_checks';
import {checkNonEmpty, fail, shapeStr, toFloatTensor} from './validation';

function deltaScaleShift_<T extends Tensor>(
  x: T | TensorLike,
  scale: Tensor1D | TensorLike,
  offset?: Tensor1D | TensorLike,
): T {
  const op = 'deltaScaleShift';
  const $x = toFloatTensor(op, 'x', x);
  if ($x.rank < 2) fail(op, 'x', `must have rank >= 2 ([...pixels, channels]), got shape ${shapeStr($x.shape)}`);
  checkNonEmpty(op, 'x', $x);
  const channels = $x.shape[$x.rank - 1];
  const inputs: {[name: string]: Tensor} = {x: $x, scale: checkChannelVector(op, 'scale', scale, channels, $x)};
  if (offset != null) inputs.offset = checkChannelVector(op, 'offset', offset, channels, $x);
  return tf.engine().runKernel(DeltaScaleShift, inputs) as T;
}

export const deltaScaleShift = tf.op({deltaScaleShift_});
