/**
 * vtest.avi frames for the end-to-end delta benchmark and the cuda sequence test, as raw RGB bytes.
 *
 * On the GPU machine (no ffmpeg) the frames are decoded once by `python3 benchmarks/delta_vtest_torch.py
 * frames` (OpenCV) into a directory of files `vtest_<H>x<W>.rgb` (uint8 RGB, frame after frame, area-scaled),
 * and TFJS_DELTA_VTEST_FRAMES=<that directory> points here. Without it, frames come from ffmpeg
 * (test/to_delta_data.ts, where ffmpeg and vtest.avi are installed).
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';

import {videoUnavailable, vtestBytes} from '../test/to_delta_data';

export const FRAMES_ENV = 'TFJS_DELTA_VTEST_FRAMES';

/** The raw-frames file for height x width under TFJS_DELTA_VTEST_FRAMES, or null when that is unset. */
export function framesFile(height: number, width: number): string|null {
  const dir = process.env[FRAMES_ENV];
  return dir ? path.join(dir, `vtest_${height}x${width}.rgb`) : null;
}

/** Why `count` frames at height x width cannot be had, or null when they can. */
export function framesUnavailable(count: number, height: number, width: number): string|null {
  const file = framesFile(height, width);
  if (file == null) {
    const why = videoUnavailable();
    return why == null ? null : `${FRAMES_ENV} is unset and ${why}`;
  }
  if (!fs.existsSync(file)) return `${FRAMES_ENV}: ${file} is missing (python3 benchmarks/delta_vtest_torch.py frames writes it)`;
  const have = fs.statSync(file).size / (height * width * 3);
  if (have < count) return `${file} holds ${have} frames, ${count} wanted`;
  return null;
}

/** The first `count` frames at height x width: `count` * height * width * 3 RGB bytes. */
export function vtestRgb(count: number, height: number, width: number): Uint8Array {
  const why = framesUnavailable(count, height, width);
  if (why != null) throw new Error(why);
  const frameBytes = height * width * 3;
  const file = framesFile(height, width);
  if (file == null) return vtestBytes(count, height, width).subarray(0, count * frameBytes);
  const fd = fs.openSync(file, 'r');
  try {
    const bytes = new Uint8Array(count * frameBytes);
    let done = 0;
    while (done < bytes.length) {
      const n = fs.readSync(fd, bytes, done, bytes.length - done, done);
      if (n <= 0) throw new Error(`${file}: short read at byte ${done}`);
      done += n;
    }
    return bytes;
  } finally {
    fs.closeSync(fd);
  }
}

/** Frame `index` of `rgb` as a float32 [1, H, W, 3] tensor on the current backend, scaled to [lo, hi]. */
export function frameTensor(rgb: Uint8Array, index: number, height: number, width: number, lo = 0, hi = 1): tf.Tensor4D {
  const frameBytes = height * width * 3;
  const values = new Float32Array(frameBytes);
  const scale = (hi - lo) / 255;
  for (let i = 0, o = index * frameBytes; i < frameBytes; i++) values[i] = rgb[o + i] * scale + lo;
  return tf.tensor4d(values, [1, height, width, 3]);
}
