/**
 * Video frames between 8-bit bytes (what ffmpeg decodes and encodes) and float tensors, converted on the
 * backend: `framesFromBytes` uploads one byte per value and scales there, `framesToBytes` rounds and clamps
 * there and reads one byte per value back. tfjs has no uint8 dtype, so the bytes travel packed four to an
 * int32 element; on 'cuda' that makes an upload or a read a quarter of a float32 one, with no per-value
 * JavaScript loop on either side.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor} from '@tensorflow/tfjs-core';

import {FramesFromBytes, FramesFromBytesAttrs, FramesToBytes, FramesToBytesAttrs} from './kernel_names';
import {checkNonEmpty, fail, toFloatTensor} from './validation';

/** int32 elements that hold `count` packed bytes. */
export function packedLength(count: number): number {
  return Math.ceil(count / 4);
}

/**
 * A float32 tensor of `shape` from `bytes` (one per element, row-major), each value times `scale`
 * (default 1/255: pixels in [0, 1]).
 */
export function framesFromBytes(bytes: Uint8Array, shape: number[], scale = 1 / 255): Tensor {
  const op = 'framesFromBytes';
  if (!(bytes instanceof Uint8Array))
    fail(op, 'bytes', `must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    fail(op, 'shape', `must be positive integers, got ${JSON.stringify(shape)}`);
  }
  const size = shape.reduce((p, d) => p * d, 1);
  if (size !== bytes.length) fail(op, 'bytes', `holds ${bytes.length} values, shape [${shape}] needs ${size}`);
  if (!Number.isFinite(scale)) fail(op, 'scale', `must be a finite number, got ${scale}`);
  // Pack on a 4-byte boundary: a copy only when the view is unaligned or its length is not a multiple of 4.
  const aligned = bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0;
  const words = aligned
    ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
    : (() => {
        const padded = new Uint8Array(packedLength(bytes.length) * 4);
        padded.set(bytes);
        return new Int32Array(padded.buffer);
      })();
  const packed = tf.tensor1d(words, 'int32');
  try {
    const attrs: FramesFromBytesAttrs = {shape, scale};
    return tf.engine().runKernel(FramesFromBytes, {packed}, attrs as unknown as NamedAttrMap) as Tensor;
  } finally {
    packed.dispose();
  }
}

/**
 * The values of `frames` times `scale` (default 255), rounded half away from zero and clamped to [0, 255],
 * as bytes in row-major order. The conversion is queued on the backend at once and the read is
 * asynchronous, so a caller can start the next frame's work before awaiting this one.
 */
export function framesToBytes(frames: Tensor, scale = 255): Promise<Uint8Array> {
  const op = 'framesToBytes';
  const $x = toFloatTensor(op, 'frames', frames);
  checkNonEmpty(op, 'frames', $x);
  if (!Number.isFinite(scale)) fail(op, 'scale', `must be a finite number, got ${scale}`);
  const attrs: FramesToBytesAttrs = {scale};
  const packed = tf.engine().runKernel(FramesToBytes, {x: $x}, attrs as unknown as NamedAttrMap) as Tensor;
  const count = $x.size;
  if ($x !== frames) $x.dispose(); // made here from a TensorLike
  return packed
    .data()
    .then((words) => {
      const w = words as Int32Array;
      return new Uint8Array(w.buffer, w.byteOffset, count);
    })
    .finally(() => packed.dispose());
}
