/** Drawing model outputs onto RGB24 frames: PoseNet keypoints, or a heatmap tint for any model. */
import * as tf from '@tensorflow/tfjs-core';

export interface Keypoint {
  y: number;
  x: number;
  score: number;
}

/**
 * PoseNet keypoints of batch row 0: the argmax cell of each heatmap refined by its offsets
 * (offsets hold 17 y then 17 x values per cell), in input pixels; score = sigmoid(max logit).
 */
export function posenetKeypoints(heatmaps: tf.Tensor4D, offsets: tf.Tensor4D, outputStride: number): Keypoint[] {
  const [, h, w, k] = heatmaps.shape;
  const hv = heatmaps.dataSync();
  const ov = offsets.dataSync();
  const cells = argmaxPerChannel(hv.subarray(0, h * w * k), k);
  const keypoints: Keypoint[] = [];
  for (let j = 0; j < k; j++) {
    const best = cells[j];
    const cy = Math.floor(best / w);
    const cx = best % w;
    keypoints.push({
      y: cy * outputStride + ov[best * 2 * k + j],
      x: cx * outputStride + ov[best * 2 * k + k + j],
      score: 1 / (1 + Math.exp(-hv[best * k + j])),
    });
  }
  return keypoints;
}

/**
 * For channel-last values ([..., channels]), the row index of each channel's maximum (the first one wins, as
 * tf.argMax). On the host: model outputs here are small and already read, and no backend needs an ArgMax kernel.
 */
export function argmaxPerChannel(values: ArrayLike<number>, channels: number): number[] {
  const best = new Array<number>(channels).fill(0);
  for (let i = channels; i < values.length; i++) {
    const c = i % channels;
    if (values[i] > values[best[c] * channels + c]) best[c] = (i - c) / channels;
  }
  return best;
}

/** Argmax cell of each channel of a [1, h, w, k] map (over all rows of a larger batch). */
export function argmaxCells(map: tf.Tensor4D): number[] {
  return argmaxPerChannel(map.dataSync(), map.shape[3]);
}

function putPixel(frame: Uint8Array, width: number, height: number, y: number, x: number, rgb: number[]): void {
  if (y < 0 || x < 0 || y >= height || x >= width) return;
  frame.set(rgb, (y * width + x) * 3);
}

const SKELETON: Array<[number, number]> = [[5, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [6, 12], [11, 12],
  [11, 13], [13, 15], [12, 14], [14, 16]];

/** Draws keypoints above `minScore` (and the limbs between them) on a frame, in place. */
export function drawKeypoints(frame: Uint8Array, width: number, height: number, keypoints: Keypoint[],
                              scaleY: number, scaleX: number, minScore = 0.3): void {
  const visible = keypoints.map(k => k.score >= minScore);
  for (const [a, b] of SKELETON) {
    if (!visible[a] || !visible[b]) continue;
    const steps = 64;
    for (let s = 0; s <= steps; s++) {
      const y = (keypoints[a].y + (keypoints[b].y - keypoints[a].y) * s / steps) * scaleY;
      const x = (keypoints[a].x + (keypoints[b].x - keypoints[a].x) * s / steps) * scaleX;
      putPixel(frame, width, height, Math.round(y), Math.round(x), [255, 255, 0]);
    }
  }
  keypoints.forEach((k, i) => {
    if (!visible[i]) return;
    const cy = Math.round(k.y * scaleY);
    const cx = Math.round(k.x * scaleX);
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) putPixel(frame, width, height, cy + dy, cx + dx, [255, 0, 64]);
  });
}

/** Tints a frame red where the channel-max of `map` ([1, h, w, c], any scale) is high, in place. */
export function drawHeatmap(frame: Uint8Array, width: number, height: number, map: tf.Tensor4D): void {
  const [, h, w] = map.shape;
  const values = tf.tidy(() => {
    const m = tf.squeeze(tf.max(map, 3), [0]);
    const lo = tf.min(m);
    return tf.div(tf.sub(m, lo), tf.maximum(tf.sub(tf.max(m), lo), 1e-12));
  });
  const v = values.dataSync();
  values.dispose();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = 0.6 * v[Math.min(h - 1, Math.floor(y * h / height)) * w + Math.min(w - 1, Math.floor(x * w / width))];
      const o = (y * width + x) * 3;
      frame[o] = Math.round(frame[o] * (1 - a) + 255 * a);
      frame[o + 1] = Math.round(frame[o + 1] * (1 - a));
      frame[o + 2] = Math.round(frame[o + 2] * (1 - a));
    }
  }
}
