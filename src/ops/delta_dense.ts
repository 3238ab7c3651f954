/**
 * deltaDense: x . kernel over the last axis (what tf.layers.dense computes), for a delta tensor
 * x [..., Cin] and kernel [Cin, Cout]. Each pixel maps to itself, so the mask is kept; pass `bias`
 * on a stream's first frame only, and the output is dense.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor1D, Tensor2D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaDense} from './kernel_names';
import {checkChannelVector} from './companion_checks';
import {checkNonEmpty, checkRank, fail, shapeStr, toFloatTensor} from './validation';

function deltaDense_<T extends Tensor>(
  x: T | TensorLike,
  kernel: Tensor2D | TensorLike,
  bias?: Tensor1D | TensorLike,
): T {
  const op = 'deltaDense';
  const $x = toFloatTensor(op, 'x', x);
  const $kernel = toFloatTensor(op, 'kernel', kernel);
  if ($x.rank < 2) fail(op, 'x', `must have rank >= 2 ([...pixels, channels]), got shape ${shapeStr($x.shape)}`);
  checkNonEmpty(op, 'x', $x);
  checkRank(op, 'kernel', $kernel, 2, '[inChannels, outChannels]');
  const inChannels = $x.shape[$x.rank - 1];
  if ($kernel.shape[0] !== inChannels) {
    fail(
      op,
      'kernel',
      `must have ${inChannels} rows to match 'x' ${shapeStr($x.shape)}, got ${shapeStr($kernel.shape)}`,
    );
  }
  const inputs: {[name: string]: Tensor} = {x: $x, kernel: $kernel};
  const outChannels = $kernel.shape[1] as number;
  if (bias != null) inputs.bias = checkChannelVector(op, 'bias', bias, outChannels, $kernel, 'kernel');
  return tf.engine().runKernel(DeltaDense, inputs) as T;
}

export const deltaDense = tf.op({deltaDense_});
