/**
 * deltaPad2d: zero padding of the two spatial dimensions of an NHWC delta tensor (what
 * tf.layers.zeroPadding2d computes). The padded pixels are inactive; a dense input gets a mask
 * that is active everywhere but in the padding.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaPad2D, DeltaPad2DAttrs} from './kernel_names';
import {checkNonEmpty, checkRank, fail, toFloatTensor} from './validation';

type Padding2D = number | [number, number] | [[number, number], [number, number]];

/** number p: p on every side; [h, w]: h above and below, w left and right; or [[top, bottom], [left, right]]. */
function deltaPad2d_(x: Tensor4D | TensorLike, padding: Padding2D = 1): Tensor4D {
  const op = 'deltaPad2d';
  const $x = toFloatTensor(op, 'x', x);
  checkRank(op, 'x', $x, 4, 'NHWC');
  checkNonEmpty(op, 'x', $x);
  let pairs: unknown = padding;
  if (typeof padding === 'number')
    pairs = [
      [padding, padding],
      [padding, padding],
    ];
  else if (Array.isArray(padding) && padding.length === 2 && padding.every((p) => typeof p === 'number')) {
    const [h, w] = padding as [number, number];
    pairs = [
      [h, h],
      [w, w],
    ];
  }
  const ok =
    Array.isArray(pairs) &&
    pairs.length === 2 &&
    pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0));
  if (!ok) {
    fail(
      op,
      'padding',
      `must be a non-negative integer, [height, width] or [[top, bottom], [left, right]], ` +
        `got ${JSON.stringify(padding)}`,
    );
  }
  const attrs: DeltaPad2DAttrs = {padding: pairs as DeltaPad2DAttrs['padding']};
  return tf.engine().runKernel(DeltaPad2D, {x: $x}, attrs as unknown as NamedAttrMap) as Tensor4D;
}

export const deltaPad2d = tf.op({deltaPad2d_});
