/** Argument checks shared by the companion ops (see validation.ts for the message style). */
import type {Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {
  DimRoundingMode,
  checkOutputSize,
  checkPad2D,
  checkRank,
  fail,
  PadSpec2D,
  positiveInts,
  shapeStr,
  toFloatTensor,
} from './validation';
import * as tf from '@tensorflow/tfjs-core';

/** A float32 vector of `channels` values (a per-channel scale, offset or bias). */
export function checkChannelVector(
  op: string,
  arg: string,
  value: Tensor | TensorLike,
  channels: number,
  x: Tensor,
  xArg = 'x',
): Tensor {
  const t = toFloatTensor(op, arg, value);
  if (t.rank !== 1 || t.shape[0] !== channels) {
    fail(
      op,
      arg,
      `must have shape [${channels}] (the channels of '${xArg}' ${shapeStr(x.shape)}), got ${shapeStr(t.shape)}`,
    );
  }
  return t;
}

/** Checks an NHWC input and a pooling window as tf.avgPool / tf.maxPool would accept them. */
export function checkPool2D(
  op: string,
  x: Tensor,
  poolSize: number | [number, number],
  strides: number | [number, number] | null | undefined,
  pad: PadSpec2D,
  dimRoundingMode?: DimRoundingMode,
  xArg = 'x',
): {filterSize: [number, number]; strides: [number, number]} {
  checkRank(op, xArg, x, 4, 'NHWC');
  if (x.size === 0) fail(op, xArg, `must not be empty, got shape ${shapeStr(x.shape)}`);
  const filterSize = positiveInts(op, 'poolSize', poolSize, 2) as [number, number];
  const stridesPair = positiveInts(op, 'strides', strides ?? filterSize, 2) as [number, number];
  checkPad2D(op, pad, dimRoundingMode);
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    filterSize,
    stridesPair,
    1,
    pad,
    dimRoundingMode,
  );
  checkOutputSize(op, x.shape, [info.outHeight, info.outWidth]);
  return {filterSize, strides: stridesPair};
}
