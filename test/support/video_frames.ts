/**
 * Frames for stream tests: vtest.avi (real static-camera video) at 96x128 when it can be had
 * (data/vtest.ts: TFJS_DELTA_VTEST_FRAMES on the GPU machine, or ffmpeg), else a synthetic
 * static-camera clip: a fresh random background, two objects moving across it, a noise floor on every pixel and
 * larger sensor noise on a few.
 */
import * as tf from '@tensorflow/tfjs-core';

import {frameTensor, framesUnavailable, vtestRgb} from '../../data/vtest';

export interface FrameSource {
  name: string;
  height: number;
  width: number;
  /** Frame t as float32 [height, width, 3] in [0, 1]. */
  frame(t: number): tf.Tensor3D;
}

const VTEST = {height: 96, width: 128, count: 200};
let vtest: Uint8Array | null | undefined;

function vtestClip(): Uint8Array | null {
  if (vtest === undefined) {
    vtest =
      framesUnavailable(VTEST.count, VTEST.height, VTEST.width) == null
        ? vtestRgb(VTEST.count, VTEST.height, VTEST.width)
        : null;
  }
  return vtest;
}

export function syntheticFrames(height: number, width: number): FrameSource {
  const background = new Float32Array(height * width * 3);
  for (let i = 0; i < background.length; i++) background[i] = Math.random();
  return {
    name: `synthetic ${width}x${height}`,
    height,
    width,
    frame: (t) => {
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
      // A camera's noise floor on every pixel (well below a [0, 1] threshold, far above one meant for 0-255 pixels),
      // then larger flicker on a few.
      for (let i = 0; i < v.length; i++) v[i] = Math.min(1, Math.max(0, v[i] + 0.004 * (Math.random() - 0.5)));
      for (let k = 0; k < Math.ceil(height * width * 0.01); k++) {
        const i = Math.floor(Math.random() * height * width) * 3;
        v[i] = Math.min(1, v[i] + 0.2 * (Math.random() - 0.5) + 0.1);
      }
      return tf.tensor3d(v, [height, width, 3]);
    },
  };
}

/** vtest frames (the centre of the 128x96 clip, at most height x width, cycling) when available, else synthetic. */
export function streamFrames(height: number, width: number): FrameSource {
  const rgb = vtestClip();
  if (rgb == null) return syntheticFrames(height, width);
  const h = Math.min(height, VTEST.height);
  const w = Math.min(width, VTEST.width);
  return {
    name: `vtest.avi 128x96, centre ${w}x${h}`,
    height: h,
    width: w,
    frame: (t) =>
      tf.tidy(
        () =>
          tf.slice(
            tf.squeeze(frameTensor(rgb, t % VTEST.count, VTEST.height, VTEST.width), [0]),
            [(VTEST.height - h) >> 1, (VTEST.width - w) >> 1, 0],
            [h, w, 3],
          ) as tf.Tensor3D,
      ),
  };
}
