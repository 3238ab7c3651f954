/**
 * deltaMaxPool: max pooling of a delta stream.
 *   out = maxPool(accumulated + delta) - maxPool(accumulated) for output pixels whose window holds
 *   an active input pixel (exact zeros elsewhere); new accumulated = accumulated + delta.
 * Defaults match tf.layers.maxPooling2d: poolSize 2, strides = poolSize, pad 'valid'.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaMaxPool, DeltaMaxPoolAttrs} from './kernel_names';
import {checkOutputSize, checkPad2D, checkRank, checkSameShape, DimRoundingMode, checkNonEmpty, PadSpec2D, positiveInts, toFloatTensor} from './validation';

export interface DeltaMaxPoolResult {
  delta: Tensor4D;
  accumulated: Tensor4D;
}

function deltaMaxPool_(
    accumulated: Tensor4D|TensorLike, delta: Tensor4D|TensorLike,
    poolSize: [number, number]|number = 2, strides?: [number, number]|number|null,
    pad: PadSpec2D = 'valid', dimRoundingMode?: DimRoundingMode): DeltaMaxPoolResult {
  const op = 'deltaMaxPool';
  const a = toFloatTensor(op, 'accumulated', accumulated);
  const d = toFloatTensor(op, 'delta', delta);
  checkRank(op, 'delta', d, 4, 'NHWC');
  checkNonEmpty(op, 'delta', d);
  checkSameShape(op, 'accumulated', a, 'delta', d);
  const filterSize = positiveInts(op, 'poolSize', poolSize, 2) as [number, number];
  const stridesPair = positiveInts(op, 'strides', strides ?? filterSize, 2) as [number, number];
  checkPad2D(op, pad, dimRoundingMode);
  const info = tf.backend_util.computePool2DInfo(
      d.shape as [number, number, number, number], filterSize, stridesPair, 1, pad, dimRoundingMode);
  checkOutputSize(op, d.shape, [info.outHeight, info.outWidth]);
  const attrs: DeltaMaxPoolAttrs = {filterSize, strides: stridesPair, pad, dimRoundingMode};
  const [outDelta, outAcc] =
      tf.engine().runKernel(DeltaMaxPool, {accumulated: a, delta: d}, attrs as {}) as Tensor4D[];
  return {delta: outDelta, accumulated: outAcc};
}

export const deltaMaxPool = tf.op({deltaMaxPool_});
