/**
 * Drawing model outputs onto RGB24 frames: PoseNet skeletons, or a heatmap tint for any model; captions
 * (frames/s, PCK) rendered as SVG text by resvg; dense and delta frames side by side.
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';

import {Pose, SKELETON} from '../models/posenet_decode';

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

/** One colour per pose, so that neighbours' limbs are told apart. */
const PALETTE = [
  [255, 255, 0],
  [0, 255, 255],
  [255, 96, 255],
  [96, 255, 96],
  [255, 160, 32],
  [128, 160, 255],
];

function disc(
  frame: Uint8Array,
  width: number,
  height: number,
  cy: number,
  cx: number,
  r: number,
  rgb: number[],
): void {
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++)
      if (dy * dy + dx * dx <= r * r + r) putPixel(frame, width, height, cy + dy, cx + dx, rgb);
  }
}

/**
 * Draws each pose's keypoints scoring above `minScore` and the limbs between them on a frame, in place.
 * Poses are in frame pixels; (x0, y0) shifts them, e.g. into the right half of a side-by-side frame.
 */
export function drawPoses(
  frame: Uint8Array,
  width: number,
  height: number,
  poses: Pose[],
  minScore = 0.5,
  x0 = 0,
  y0 = 0,
): void {
  const thick = Math.max(1, Math.round(Math.min(width, height) / 300));
  poses.forEach((pose, n) => {
    const colour = PALETTE[n % PALETTE.length];
    const k = pose.keypoints;
    const visible = k.map((p) => p.score > minScore);
    for (const [a, b] of SKELETON) {
      if (!visible[a] || !visible[b]) continue;
      const steps = Math.max(2, Math.ceil(Math.hypot(k[b].y - k[a].y, k[b].x - k[a].x)));
      for (let s = 0; s <= steps; s++) {
        const y = Math.round(y0 + k[a].y + ((k[b].y - k[a].y) * s) / steps);
        const x = Math.round(x0 + k[a].x + ((k[b].x - k[a].x) * s) / steps);
        disc(frame, width, height, y, x, thick - 1, colour);
      }
    }
    k.forEach((p, i) => {
      if (visible[i]) disc(frame, width, height, Math.round(y0 + p.y), Math.round(x0 + p.x), thick + 1, [255, 0, 64]);
    });
  });
}

/** Two frames of width x height as one of 2 width x height, `left` on the left. */
export function sideBySide(left: Uint8Array, right: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(2 * width * height * 3);
  const row = width * 3;
  for (let y = 0; y < height; y++) {
    out.set(left.subarray(y * row, (y + 1) * row), 2 * y * row);
    out.set(right.subarray(y * row, (y + 1) * row), (2 * y + 1) * row);
  }
  return out;
}

/** DejaVu Sans Bold from the dejavu-fonts-ttf dependency, so captions render the same on a machine without fonts. */
function bundledFont(): string | null {
  try {
    return path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuSans-Bold.ttf');
  } catch {
    return null;
  }
}

let fontOptions: {loadSystemFonts: boolean; fontFiles?: string[]} | null = null;

/** One known font file (parsing every system font per frame costs ~0.1 s); the system's only without it. */
function fonts(): {loadSystemFonts: boolean; fontFiles?: string[]} {
  if (fontOptions == null) {
    const file = [bundledFont(), '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'].find(
      (f) => f != null && fs.existsSync(f),
    );
    fontOptions = file ? {loadSystemFonts: false, fontFiles: [file]} : {loadSystemFonts: true};
  }
  return fontOptions;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Writes lines of text in a dark box at (x0, y0) of a frame, in place: an SVG rendered by resvg and
 * blended over the frame. `size` is the font size in pixels.
 */
export function drawCaption(
  frame: Uint8Array,
  width: number,
  height: number,
  lines: string[],
  x0 = 0,
  y0 = 0,
  size = Math.max(12, Math.round(height / 28)),
): void {
  if (lines.length === 0) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const {Resvg} = require('@resvg/resvg-js') as {
    Resvg: new (svg: string, o: unknown) => {render(): {width: number; height: number; pixels: Buffer}};
  };
  const boxW = Math.min(width - x0, Math.ceil(size * 0.65 * Math.max(...lines.map((l) => l.length)) + size));
  const boxH = Math.min(height - y0, Math.ceil(size * 1.3 * lines.length + size * 0.5));
  if (boxW <= 0 || boxH <= 0) return;
  const text = lines
    .map((l, i) => `<text x="${size / 2}" y="${size * (1.15 + 1.3 * i)}">${escapeXml(l)}</text>`)
    .join('');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${boxW}" height="${boxH}">` +
    `<rect width="${boxW}" height="${boxH}" fill="black" fill-opacity="0.6"/>` +
    `<g font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="${size}" font-weight="bold" fill="white">${text}</g></svg>`;
  const image = new Resvg(svg, {font: fonts()}).render();
  const px = image.pixels; // RGBA, premultiplied alpha
  for (let y = 0; y < image.height && y0 + y < height; y++) {
    for (let x = 0; x < image.width && x0 + x < width; x++) {
      const s = (y * image.width + x) * 4;
      const a = px[s + 3] / 255;
      if (a === 0) continue;
      const d = ((y0 + y) * width + x0 + x) * 3;
      for (let c = 0; c < 3; c++) frame[d + c] = Math.round(px[s + c] + frame[d + c] * (1 - a));
    }
  }
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
      const a =
        0.6 * v[Math.min(h - 1, Math.floor((y * h) / height)) * w + Math.min(w - 1, Math.floor((x * w) / width))];
      const o = (y * width + x) * 3;
      frame[o] = Math.round(frame[o] * (1 - a) + 255 * a);
      frame[o + 1] = Math.round(frame[o + 1] * (1 - a));
      frame[o + 2] = Math.round(frame[o + 2] * (1 - a));
    }
  }
}

export interface OverlayPanel {
  /** Poses in frame pixels to draw, keypoints scoring above 0.5 ... */
  poses?: Pose[] | null;
  /** ... or, for other models, a map to tint the frame with. */
  heatmap?: tf.Tensor4D;
  /** Lines written in the panel's top-left corner. */
  caption: string[];
}

/** The overlay frame: one panel per model on a copy of `frame` each, side by side when there are two. */
export function overlayFrame(frame: Uint8Array, width: number, height: number, panels: OverlayPanel[]): Uint8Array {
  const drawn = panels.map((p) => {
    const canvas = Uint8Array.from(frame);
    if (p.poses) drawPoses(canvas, width, height, p.poses);
    else if (p.heatmap) drawHeatmap(canvas, width, height, p.heatmap);
    drawCaption(canvas, width, height, p.caption);
    return canvas;
  });
  if (drawn.length === 1) return drawn[0];
  if (drawn.length === 2) return sideBySide(drawn[0], drawn[1], width, height);
  throw new Error(`overlayFrame: 1 or 2 panels, not ${drawn.length}`);
}
