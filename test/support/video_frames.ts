/**
 * Frames for stream tests: vtest.avi (real static-camera video) when TFJS_DELTA_VTEST_FRAMES names a raw
 * uint8 file of it (frames x height x width x 3, with a JSON sidecar `<file>.json` {frames, height, width}; the
 * GPU machine has no ffmpeg, so benchmarks/vtest_frames.py writes it there with OpenCV), else a synthetic
 * static-camera clip: a fresh random background, two objects moving across it and sensor noise on a few pixels.
 */
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs-core';

export interface FrameSource {
  name: string;
  height: number;
  width: number;
  count: number;
  /** Frame t (wrapping around) as float32 [height, width, 3] in [0, 1]. */
  frame(t: number): tf.Tensor3D;
}

export function vtestFrames(): FrameSource|null {
  const file = process.env.TFJS_DELTA_VTEST_FRAMES;
  if (!file || !fs.existsSync(file) || !fs.existsSync(`${file}.json`)) return null;
  const meta = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as {frames: number; height: number; width: number};
  const bytes = fs.readFileSync(file);
  const size = meta.height * meta.width * 3;
  if (bytes.length < meta.frames * size) throw new Error(`${file}: ${bytes.length} bytes, expected ${meta.frames * size}`);
  return {
    name: `vtest.avi ${meta.width}x${meta.height}`,
    height: meta.height,
    width: meta.width,
    count: meta.frames,
    frame: t => {
      const i = t % meta.frames;
      const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset + i * size, size);
      return tf.tidy(() => tf.div(tf.tensor3d(u8, [meta.height, meta.width, 3], 'int32'), 255) as tf.Tensor3D);
    },
  };
}

export function syntheticFrames(height: number, width: number, count = 1 << 30): FrameSource {
  const background = new Float32Array(height * width * 3);
  for (let i = 0; i < background.length; i++) background[i] = Math.random();
  return {
    name: `synthetic ${width}x${height}`,
    height,
    width,
    count,
    frame: t => {
      const v = background.slice();
      const paint = (y0: number, x0: number, size: number, value: number) => {
        for (let y = Math.max(0, y0); y < Math.min(height, y0 + size); y++) {
          for (let x = Math.max(0, x0); x < Math.min(width, x0 + size); x++) {
            for (let c = 0; c < 3; c++) v[(y * width + x) * 3 + c] = value;
          }
        }
      };
      paint(Math.floor(height / 4), (2 * t) % width, 7, 0.95);
      paint((3 * t) % height, Math.floor(width / 2), 5, 0.05);
      for (let k = 0; k < Math.ceil(height * width * 0.01); k++) {
        const i = Math.floor(Math.random() * height * width) * 3;
        v[i] = Math.min(1, v[i] + 0.2 * (Math.random() - 0.5) + 0.1);
      }
      return tf.tensor3d(v, [height, width, 3]);
    },
  };
}

/** vtest frames when available (the centre, at most height x width), else synthetic ones. */
export function streamFrames(height: number, width: number): FrameSource {
  const v = vtestFrames();
  if (v == null) return syntheticFrames(height, width);
  const h = Math.min(height, v.height);
  const w = Math.min(width, v.width);
  return {
    ...v,
    name: `${v.name}, centre ${w}x${h}`,
    height: h,
    width: w,
    frame: t => tf.tidy(() => tf.slice(v.frame(t), [(v.height - h) >> 1, (v.width - w) >> 1, 0], [h, w, 3])),
  };
}
