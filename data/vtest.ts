/**
 * vtest.avi (Debian's opencv-doc, a static camera over a street; scripts/fetch-test-data.sh installs it and
 * ffmpeg), the real video of the delta tests and benchmarks, as raw RGB bytes or float32 frames.
 *
 * On the GPU machine (no ffmpeg) the frames are decoded once by `python3 benchmarks/models/delta_vtest_torch.py
 * frames` (OpenCV) into a directory of files `vtest_<H>x<W>.rgb` (uint8 RGB, frame after frame, area-scaled),
 * and TFJS_DELTA_VTEST_FRAMES=<that directory> points here. Without it, frames come from ffmpeg
 * (decoded once per process and size, kept in memory, where ffmpeg and vtest.avi are installed).
 */
import * as fs from 'fs';
import * as path from 'path';

import {spawnSync} from 'child_process';

import * as tf from '@tensorflow/tfjs-core';

import {ffmpegBinary} from '../src/pipeline/ffmpeg';
import {envString} from '../src/io/env';

export const VTEST = envString('TFJS_DELTA_VTEST') ?? '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

/** Why the video `file` cannot be decoded here (missing, or no ffmpeg), or null when it can. */
export function fileUnavailable(file: string, howToGet: string): string | null {
  if (!fs.existsSync(file)) return `${file} is missing: ${howToGet}`;
  try {
    ffmpegBinary();
  } catch (e) {
    return `${(e as Error).message}; run scripts/fetch-test-data.sh`;
  }
  return null;
}

/** Why vtest.avi cannot be had, or null when it can. */
export function videoUnavailable(): string | null {
  return fileUnavailable(VTEST, 'run scripts/fetch-test-data.sh (installs opencv-doc and ffmpeg)');
}

const cache = new Map<string, Uint8Array>();

/** Up to `frames` frames of the video `file` from its start, as RGB bytes, height x width (area-averaged down). */
export function decodeRgb(file: string, frames: number, height: number, width: number): Uint8Array {
  const frameBytes = height * width * 3;
  const run = spawnSync(
    ffmpegBinary(),
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      file,
      '-frames:v',
      String(frames),
      '-vf',
      `scale=${width}:${height}:flags=area`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    {maxBuffer: frames * frameBytes + (1 << 20)},
  );
  if (run.status !== 0) throw new Error(`ffmpeg could not decode ${file}: ${run.stderr?.toString().trim()}`);
  return new Uint8Array(run.stdout.buffer, run.stdout.byteOffset, run.stdout.byteLength);
}

/** At least the first `count` frames of vtest.avi as RGB bytes, height x width (area-averaged down). */
export function vtestBytes(count: number, height: number, width: number): Uint8Array {
  const key = `${height}x${width}`;
  const cached = cache.get(key);
  const frameBytes = height * width * 3;
  if (cached != null && cached.length >= count * frameBytes) return cached;
  // Decode generously (the tests walk through the frames one by one), within the 795 it has.
  const decode = Math.min(795, Math.max(count, (2 * (cached?.length ?? 0)) / frameBytes, 320));
  const bytes = decodeRgb(VTEST, decode, height, width);
  if (bytes.length < count * frameBytes) {
    throw new Error(`${VTEST} gave ${bytes.length / frameBytes} frames at ${width}x${height}, ${count} wanted`);
  }
  cache.set(key, bytes);
  return bytes;
}

/** Frame `index` as a float32 [batch, height, width, 3] tensor in [0, 1] (batch rows: frames index, index+offset, ...). */
export function vtestFrame(index: number, height: number, width: number, batch = 1, offset = 100): tf.Tensor4D {
  const frameBytes = height * width * 3;
  const bytes = vtestBytes(index + (batch - 1) * offset + 1, height, width);
  return tf.tidy(() => {
    const rows = Array.from({length: batch}, (_, b) => {
      const start = (index + b * offset) * frameBytes;
      return tf.tensor3d(bytes.subarray(start, start + frameBytes), [height, width, 3], 'int32');
    });
    return tf.div(tf.cast(tf.stack(rows), 'float32'), 255) as tf.Tensor4D;
  });
}

export const FRAMES_ENV = 'TFJS_DELTA_VTEST_FRAMES';

/** The raw-frames file for height x width under TFJS_DELTA_VTEST_FRAMES, or null when that is unset. */
export function framesFile(height: number, width: number): string | null {
  const dir = envString(FRAMES_ENV);
  return dir != null ? path.join(dir, `vtest_${height}x${width}.rgb`) : null;
}

/** Why `count` frames at height x width cannot be had, or null when they can. */
export function framesUnavailable(count: number, height: number, width: number): string | null {
  const file = framesFile(height, width);
  if (file == null) {
    const why = videoUnavailable();
    return why == null ? null : `${FRAMES_ENV} is unset and ${why}`;
  }
  if (!fs.existsSync(file))
    return `${FRAMES_ENV}: ${file} is missing (python3 benchmarks/models/delta_vtest_torch.py frames writes it)`;
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
export function frameTensor(
  rgb: Uint8Array,
  index: number,
  height: number,
  width: number,
  lo = 0,
  hi = 1,
): tf.Tensor4D {
  const frameBytes = height * width * 3;
  const values = new Float32Array(frameBytes);
  const scale = (hi - lo) / 255;
  for (let i = 0, o = index * frameBytes; i < frameBytes; i++) values[i] = rgb[o + i] * scale + lo;
  return tf.tensor4d(values, [1, height, width, 3]);
}
