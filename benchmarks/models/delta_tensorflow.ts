/**
 * PoseNet-MobileNetV1 (trained weights, scripts/fetch-posenet.sh) at 288x384 on tfjs-node: dense vs the
 * delta model (toDelta) at several thresholds, on vtest (static camera) and on a moving-camera clip (a
 * window sliding over larger vtest frames, 2 px right and 1 px down per frame, bouncing at the edges):
 *   npm run build && node dist/benchmarks/models/delta_tensorflow.js [--frames 60] [--warmup 8]
 *        [--thresholds 0,0.02,0.05,0.1] [--out file.json]
 * Per frame, the dense model and the delta model run back to back on the same frame (interleaved, so
 * both see the same machine load), each timed from the call to the end of reading every output. Ratio =
 * dense median ms / delta median ms. Errors against dense on the same frame, heatmaps only: max |delta -
 * dense| / max |dense|, and argmax agreement (share of the 17 joints whose heatmap argmax cell is the same).
 * Skipped share (MACs of delta convs skipped by the masks, toDelta's statistic) and the shares of delta
 * conv calls that took the tile route and of sparseAccumulate calls that took the pixel route come from
 * a separate untimed pass.
 * Writes benchmarks/results/delta_tensorflow_cpu-<cores>core.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import '../../src/index';
import {getDeltaStats, setDeltaStats, toDelta} from '../../src/delta/to_delta';
import {deltaConvRouteCounts} from '../../src/kernels/tensorflow/delta_conv_impl';
import {sparseAccumulateRouteCounts} from '../../src/kernels/tensorflow/SparseAccumulate';
import {posenet} from '../../src/models/posenet';
import {argmaxPerChannel} from '../../src/pipeline/overlay';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {vtestFrame} from '../../data/vtest';

const POSENET_JSON = path.join(PACKAGE_ROOT, '.cache', 'human-models', 'package', 'models', 'posenet.json');
const [H, W] = [288, 384];

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

/** PoseNet input in [-1, 1]. */
function staticFrames(count: number): tf.Tensor4D[] {
  return Array.from({length: count}, (_, i) => tf.tidy(() => tf.sub(tf.mul(vtestFrame(i, H, W), 2), 1) as tf.Tensor4D));
}

function movingFrames(count: number): tf.Tensor4D[] {
  const [bigH, bigW] = [H + 48, W + 64];
  let [y, x, dy, dx] = [0, 0, 1, 2];
  return Array.from({length: count}, (_, i) => {
    const frame = tf.tidy(
      () => tf.sub(tf.mul(tf.slice(vtestFrame(i, bigH, bigW), [0, y, x, 0], [1, H, W, 3]), 2), 1) as tf.Tensor4D,
    );
    if (y + dy < 0 || y + dy > bigH - H) dy = -dy;
    if (x + dx < 0 || x + dx > bigW - W) dx = -dx;
    [y, x] = [y + dy, x + dx];
    return frame;
  });
}

function timed(fn: () => tf.Tensor[]): {ms: number; values: Float32Array[]} {
  const t0 = process.hrtime.bigint();
  const out = fn();
  const values = out.map((o) => o.dataSync() as Float32Array);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  tf.dispose(out);
  return {ms, values};
}

function run(dense: tfl.LayersModel, frames: tf.Tensor4D[], warmup: number, threshold: number) {
  const delta = toDelta(dense, {threshold});
  const denseMs: number[] = [];
  const deltaMs: number[] = [];
  const relErr: number[] = [];
  const agree: number[] = [];
  frames.forEach((frame, i) => {
    const d = timed(() => dense.predict(frame) as tf.Tensor[]);
    const s = timed(() => delta.predict(frame) as tf.Tensor[]);
    if (i < warmup) return;
    denseMs.push(d.ms);
    deltaMs.push(s.ms);
    const [hd, hs] = [d.values[0], s.values[0]];
    let [diff, scale] = [0, 0];
    for (let k = 0; k < hd.length; k++) {
      diff = Math.max(diff, Math.abs(hd[k] - hs[k]));
      scale = Math.max(scale, Math.abs(hd[k]));
    }
    relErr.push(diff / scale);
    const [ad, as] = [argmaxPerChannel(hd, 17), argmaxPerChannel(hs, 17)];
    agree.push(ad.filter((a, j) => a === as[j]).length / 17);
  });
  // Statistics (they read masks back) and routes from a separate pass over the same frames.
  const stats = toDelta(dense, {threshold, stats: true});
  setDeltaStats(stats, true);
  const skipped: number[] = [];
  Object.assign(deltaConvRouteCounts, {tile: 0, dense: 0});
  Object.assign(sparseAccumulateRouteCounts, {pixel: 0, dense: 0});
  frames.forEach((frame, i) => {
    tf.dispose(stats.predict(frame) as tf.Tensor[]);
    if (i >= warmup) skipped.push(getDeltaStats(stats).skippedShare);
  });
  const routes = {...deltaConvRouteCounts};
  const accumulates = {...sparseAccumulateRouteCounts};
  const result = {
    threshold,
    denseMedianMs: median(denseMs),
    deltaMedianMs: median(deltaMs),
    ratio: median(denseMs) / median(deltaMs),
    skippedShare: mean(skipped),
    tileRouteShare: routes.tile / Math.max(1, routes.tile + routes.dense),
    accumulatePixelRouteShare: accumulates.pixel / Math.max(1, accumulates.pixel + accumulates.dense),
    heatmapRelErrMean: mean(relErr),
    heatmapRelErrMax: Math.max(...relErr),
    argmaxAgreement: mean(agree),
  };
  console.log(
    `  threshold ${threshold}: dense ${result.denseMedianMs.toFixed(1)} ms, delta ${result.deltaMedianMs.toFixed(1)} ms ` +
      `-> ${result.ratio.toFixed(2)}x dense; skipped ${(100 * result.skippedShare).toFixed(1)}%, tile route ` +
      `${(100 * result.tileRouteShare).toFixed(0)}% of delta conv calls, pixel route ` +
      `${(100 * result.accumulatePixelRouteShare).toFixed(0)}% of accumulates; heatmap rel err mean ${result.heatmapRelErrMean.toExponential(2)} ` +
      `max ${result.heatmapRelErrMax.toExponential(2)}; argmax agreement ${(100 * result.argmaxAgreement).toFixed(1)}%`,
  );
  return result;
}

async function main() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-node');
  await tf.setBackend('tensorflow');
  const count = Number(arg('frames', '60'));
  const warmup = Number(arg('warmup', '8'));
  const thresholds = arg('thresholds', '0,0.02,0.05,0.1').split(',').map(Number);
  const model = await posenet(POSENET_JSON);
  const clips: Record<string, unknown[]> = {};
  for (const [name, make] of [
    ['vtest static camera', staticFrames],
    ['vtest moving camera', movingFrames],
  ] as const) {
    console.log(
      `PoseNet ${H}x${W}, ${name}, ${count - warmup} timed frames after ${warmup}, tfjs-node, ${os.cpus().length} cores`,
    );
    const frames = make(count);
    clips[name] = thresholds.map((t) => run(model, frames, warmup, t));
    tf.dispose(frames);
  }
  const out = arg(
    'out',
    path.join(PACKAGE_ROOT, 'benchmarks', 'results', `delta_tensorflow_cpu-${os.cpus().length}core.json`),
  );
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        model: 'posenet-mobilenetv1-0.75',
        size: [H, W],
        backend: 'tensorflow',
        cpus: os.cpus().length,
        frames: count,
        warmup,
        date: new Date().toISOString(),
        clips,
      },
      null,
      1,
    ),
  );
  console.log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
