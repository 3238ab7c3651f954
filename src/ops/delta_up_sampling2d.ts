/**
 * deltaUpSampling2d: what tf.layers.upSampling2d computes (resize by integer factors), for an NHWC
 * delta tensor. Nearest replicates each pixel's mask into its block; bilinear marks an output
 * pixel active when an active input pixel has a non-zero weight in it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaUpSampling2D, DeltaUpSampling2DAttrs} from './kernel_names';
import {checkNonEmpty, checkRank, fail, positiveInts, toFloatTensor} from './validation';

function deltaUpSampling2d_(
  x: Tensor4D | TensorLike,
  size: number | [number, number] = 2,
  interpolation: 'nearest' | 'bilinear' = 'nearest',
): Tensor4D {
  const op = 'deltaUpSampling2d';
  const $x = toFloatTensor(op, 'x', x);
  checkRank(op, 'x', $x, 4, 'NHWC');
  checkNonEmpty(op, 'x', $x);
  const sizePair = positiveInts(op, 'size', size, 2) as [number, number];
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') {
    fail(op, 'interpolation', `must be 'nearest' or 'bilinear', got ${JSON.stringify(interpolation)}`);
  }
  const attrs: DeltaUpSampling2DAttrs = {size: sizePair, interpolation};
  return tf.engine().runKernel(DeltaUpSampling2D, {x: $x}, attrs as unknown as NamedAttrMap) as Tensor4D;
}

export const deltaUpSampling2d = tf.op({deltaUpSampling2d_});
