/**
 * deltaConcat: tf.concat of delta tensors. Along the channel axis (the last) the output mask is
 * the union of the input masks (the inactive side's channels are exact zeros already) and the
 * output is dense when any input is dense; along another axis the masks are concatenated.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, NamedTensorMap, Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaConcat, DeltaConcatAttrs} from './kernel_names';
import {checkNonEmpty, fail, shapeStr, toFloatTensor} from './validation';

function deltaConcat_<T extends Tensor>(tensors: Array<T | TensorLike>, axis = -1): T {
  const op = 'deltaConcat';
  if (!Array.isArray(tensors) || tensors.length === 0) {
    fail(op, 'tensors', `must be a non-empty array of tensors, got ${Array.isArray(tensors) ? '[]' : typeof tensors}`);
  }
  const xs = tensors.map((t, i) => toFloatTensor(op, `tensors[${i}]`, t));
  const first = xs[0];
  if (first.rank < 2)
    fail(op, 'tensors[0]', `must have rank >= 2 ([...pixels, channels]), got shape ${shapeStr(first.shape)}`);
  if (!Number.isInteger(axis) || axis < -first.rank || axis >= first.rank) {
    fail(op, 'axis', `must be an integer in [${-first.rank}, ${first.rank - 1}] for rank ${first.rank}, got ${axis}`);
  }
  const $axis = axis < 0 ? axis + first.rank : axis;
  xs.forEach((x, i) => {
    checkNonEmpty(op, `tensors[${i}]`, x);
    const same = x.rank === first.rank && x.shape.every((d, k) => k === $axis || d === first.shape[k]);
    if (!same) {
      fail(
        op,
        `tensors[${i}]`,
        `of shape ${shapeStr(x.shape)} must match 'tensors[0]' ${shapeStr(first.shape)} ` +
          `in every dimension but axis ${$axis}`,
      );
    }
  });
  const attrs: DeltaConcatAttrs = {axis: $axis};
  return tf.engine().runKernel(DeltaConcat, xs as unknown as NamedTensorMap, attrs as unknown as NamedAttrMap) as T;
}

export const deltaConcat = tf.op({deltaConcat_});
