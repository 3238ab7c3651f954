/**
 * cockatoo.mp4 (Debian's python3-imageio: 1280x720, 20 fps, 280 frames, a hand-held camera following a bird), the
 * moving-camera clip of the delta tests: every pixel changes from frame to frame. scripts/fetch-test-data.sh takes it
 * out of the package into .cache/test-data/; TFJS_DELTA_COCKATOO names another copy.
 */
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';

import {envString} from '../src/io/env';
import {PACKAGE_ROOT} from '../src/io/package_root';
import {decodeRgb, fileUnavailable} from './vtest';

export const COCKATOO =
  envString('TFJS_DELTA_COCKATOO') ?? path.join(PACKAGE_ROOT, '.cache', 'test-data', 'cockatoo.mp4');

/** Why the clip cannot be had, or null when it can. */
export function cockatooUnavailable(): string | null {
  return fileUnavailable(COCKATOO, 'run scripts/fetch-test-data.sh (takes it out of python3-imageio)');
}

const cache = new Map<string, Uint8Array>();

/** The first `count` frames (at most 280) as float32 [1, height, width, 3] tensors, scaled to [lo, hi]. */
export function cockatooFrames(count: number, height: number, width: number, lo = 0, hi = 1): tf.Tensor4D[] {
  const key = `${height}x${width}`;
  const frameBytes = height * width * 3;
  let bytes = cache.get(key);
  if (bytes == null || bytes.length < count * frameBytes) {
    bytes = decodeRgb(COCKATOO, count, height, width);
    if (bytes.length < count * frameBytes)
      throw new Error(`${COCKATOO} gave ${bytes.length / frameBytes} frames at ${width}x${height}, ${count} wanted`);
    cache.set(key, bytes);
  }
  const all = bytes;
  return Array.from({length: count}, (_, t) =>
    tf.tidy(() => {
      const rgb = tf.tensor4d(all.subarray(t * frameBytes, (t + 1) * frameBytes), [1, height, width, 3], 'int32');
      return tf.add(tf.mul(tf.cast(rgb, 'float32'), (hi - lo) / 255), lo) as tf.Tensor4D;
    }),
  );
}
