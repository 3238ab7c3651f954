/**
 * deltaAvgPool: tf.avgPool of an NHWC delta tensor (average pooling is linear); an output pixel is
 * active iff its window holds an active input pixel. Defaults match tf.layers.averagePooling2d:
 * poolSize 2, strides = poolSize, pad 'valid'.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaAvgPool, DeltaAvgPoolAttrs} from './kernel_names';
import {checkPool2D} from './companion_checks';
import {DimRoundingMode, PadSpec2D, toFloatTensor} from './validation';

function deltaAvgPool_(
  x: Tensor4D | TensorLike,
  poolSize: [number, number] | number = 2,
  strides?: [number, number] | number | null,
  pad: PadSpec2D = 'valid',
  dimRoundingMode?: DimRoundingMode,
): Tensor4D {
  const op = 'deltaAvgPool';
  const $x = toFloatTensor(op, 'x', x);
  const window = checkPool2D(op, $x, poolSize, strides, pad, dimRoundingMode);
  const attrs: DeltaAvgPoolAttrs = {...window, pad, dimRoundingMode};
  return tf.engine().runKernel(DeltaAvgPool, {x: $x}, attrs as unknown as NamedAttrMap) as Tensor4D;
}

export const deltaAvgPool = tf.op({deltaAvgPool_});
