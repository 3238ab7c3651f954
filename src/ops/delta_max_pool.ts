/**
 * deltaMaxPool: max pooling of a delta stream.
 *   out = maxPool(accumulated + delta) - maxPool(accumulated) for output pixels whose window holds
 *   an active input pixel (exact zeros elsewhere); new accumulated = accumulated + delta.
 * Defaults match tf.layers.maxPooling2d: poolSize 2, strides = poolSize, pad 'valid'.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaMaxPool, DeltaMaxPoolAttrs} from './kernel_names';
import {checkPool2D} from './companion_checks';
import {checkSameShape, DimRoundingMode, PadSpec2D, toFloatTensor} from './validation';

export interface DeltaMaxPoolResult {
  delta: Tensor4D;
  accumulated: Tensor4D;
}

function deltaMaxPool_(
  accumulated: Tensor4D | TensorLike,
  delta: Tensor4D | TensorLike,
  poolSize: [number, number] | number = 2,
  strides?: [number, number] | number | null,
  pad: PadSpec2D = 'valid',
  dimRoundingMode?: DimRoundingMode,
): DeltaMaxPoolResult {
  const op = 'deltaMaxPool';
  const a = toFloatTensor(op, 'accumulated', accumulated);
  const d = toFloatTensor(op, 'delta', delta);
  const window = checkPool2D(op, d, poolSize, strides, pad, dimRoundingMode, 'delta');
  checkSameShape(op, 'accumulated', a, 'delta', d);
  const attrs: DeltaMaxPoolAttrs = {filterSize: window.filterSize, strides: window.strides, pad, dimRoundingMode};
  const [outDelta, outAcc] = tf
    .engine()
    .runKernel(DeltaMaxPool, {accumulated: a, delta: d}, attrs as unknown as NamedAttrMap) as Tensor4D[];
  return {delta: outDelta, accumulated: outAcc};
}

export const deltaMaxPool = tf.op({deltaMaxPool_});
