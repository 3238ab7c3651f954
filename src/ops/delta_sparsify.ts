/**
 * deltaSparsify: DeltaCNN's input sparsify (DCSparsify), frames in, deltas out. With `sent` the frame as sent so
 * far (the stream's state):
 *   d = frame - sent;  moved(p) = max over channels |d(p)| > threshold
 *   p is sent iff some pixel of the (dilation x dilation) window centred on p moved (clipped at the image edges)
 *   sent pixels: emit d, sent += d;  the others: emit zeros, keep sent
 * A pixel that is not sent keeps its whole change pending (the next frame is compared with what was sent), so no
 * pixel of sent is ever more than `threshold` from the frame. A dilation > 1 (odd) sends the neighbourhood of
 * every moved pixel too: DeltaCNN's remedy for noisy video, where a high threshold then drops isolated noise
 * and the dilation keeps what moves whole.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaSparsify, DeltaSparsifyAttrs} from './kernel_names';
import {checkBoolean, checkNonEmpty, checkSameShape, checkThreshold, fail, shapeStr, toFloatTensor} from './validation';

export interface DeltaSparsifyConfig {
  /** Per-pixel change threshold on max_c |frame - sent| (default 0: every change is sent). */
  threshold?: number;
  /** Side of the square neighbourhood a moved pixel sends (an odd integer; default 1: the pixel alone). NHWC only when > 1. */
  dilation?: number;
  /**
   * Let the backend write the new state into `sent` and return it (default false), for a caller that owns `sent`
   * and drops it: the 'cuda' kernel then writes only the sent pixels. Never pass a tensor something else still reads.
   */
  inPlace?: boolean;
}

export interface DeltaSparsifyResult<T extends Tensor = Tensor> {
  /** frame - sent at the sent pixels, zero elsewhere; its mask marks the sent pixels. */
  delta: T;
  /** The frame as sent after this call; dense. */
  sent: T;
}

function deltaSparsify_<T extends Tensor>(
  frame: T | TensorLike,
  sent: T | TensorLike,
  config: DeltaSparsifyConfig = {},
): DeltaSparsifyResult<T> {
  const op = 'deltaSparsify';
  const x = toFloatTensor(op, 'frame', frame);
  const s = toFloatTensor(op, 'sent', sent);
  const {threshold = 0, dilation = 1, inPlace = false} = config;
  if (x.rank < 2) {
    fail(op, 'frame', `must have rank >= 2 ([...pixels, channels], e.g. NHWC), got shape ${shapeStr(x.shape)}`);
  }
  checkNonEmpty(op, 'frame', x);
  checkSameShape(op, 'sent', s, 'frame', x);
  checkThreshold(op, threshold);
  if (!Number.isInteger(dilation) || dilation < 1 || dilation % 2 === 0) {
    fail(op, 'dilation', `must be an odd integer >= 1, got ${JSON.stringify(dilation)}`);
  }
  if (dilation > 1 && x.rank !== 4) {
    fail(op, 'frame', `must be NHWC (rank 4) with dilation ${dilation}, got shape ${shapeStr(x.shape)}`);
  }
  checkBoolean(op, 'inPlace', inPlace);
  const attrs: DeltaSparsifyAttrs = {threshold, dilation, inPlace};
  const [delta, next] = tf
    .engine()
    .runKernel(DeltaSparsify, {frame: x, sent: s}, attrs as unknown as NamedAttrMap) as Tensor[];
  return {delta: delta as T, sent: next as T};
}

export const deltaSparsify = tf.op({deltaSparsify_});
