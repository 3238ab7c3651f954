/**
 * PoseNet-MobileNetV1 (trained weights, scripts/fetch-posenet.sh) at 288x384 on tfjs-node: dense vs the
 * delta model (toDelta with thresholds relative to each layer's activation scale, calibrated on the clip's
 * first 8 frames, as models.posenetDeltaDefaults) at several thresholds, on vtest (static camera) and on a
 * moving-camera clip (a window sliding over larger vtest frames, 2 px right and 1 px down per frame,
 * bouncing at the edges):
 *   npm run build && node dist/benchmarks/models/delta_tensorflow.js [--frames 60] [--warmup 8]
 *        [--thresholds 0.01,0.02,0.05,0.1,0.2] [--restart 0.5] [--flush 0.9] [--profile] [--out file.json]
 * Per frame, the dense model and the delta model run back to back on the same frame (interleaved, so
 * both see the same machine load), each timed from the call to the end of reading every output. Ratio =
 * dense median ms / delta median ms; the spread (quartiles of the per-frame ratio) says how noisy the run
 * was. Fidelity against dense on the same frame: PCK of the decoded poses (the share of the dense model's
 * confident keypoints the delta model puts within 2% of the diagonal, as `run --compare`), max |delta -
 * dense| / max |dense| of the heatmaps and their argmax agreement. `--restart f`: toDelta's restartAbove
 * (a frame with more than f of its pixels changed is sent whole; 0 turns it off); `--flush f`: toDelta's
 * flushAbove (an activation whose delta is more than f active flushes every pixel; 0: off). Skipped share (MACs of
 * delta convs skipped by the masks, toDelta's statistic) and the shares of delta conv calls that took the
 * tile route and of sparseAccumulate calls that took the pixel route come from a separate untimed pass.
 * `--profile`: the time of every 'tensorflow' kernel and of every TF op inside them, per frame, for dense
 * and delta (timing wrappers around the kernels: slower, so not combined with the ratios).
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
import type {NodeBackend} from '../../src/kernels/tensorflow/tf_ops';
import {posenet, posenetDeltaDefaults} from '../../src/models/posenet';
import {argmaxPerChannel} from '../../src/pipeline/overlay';
import {posePck, posesOf} from '../../src/pipeline/fidelity';
import {posenetJsonPath} from '../../src/io/cache';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {vtestFrame} from '../../data/vtest';
import {arg} from '../bench_util';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

const [H, W] = [288, 384];
const CALIBRATION_FRAMES = 8;

const quantile = (v: number[], q: number) => {
  const s = [...v].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const [lo, hi] = [Math.floor(at), Math.ceil(at)];
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
};
const median = (v: number[]) => quantile(v, 0.5);
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

function timed(fn: () => tf.Tensor[]): {ms: number; outputs: tf.Tensor[]} {
  const t0 = process.hrtime.bigint();
  const outputs = fn();
  outputs.forEach((o) => o.dataSync());
  return {ms: Number(process.hrtime.bigint() - t0) / 1e6, outputs};
}

/** Per-frame milliseconds of each kernel and of each TF op inside a kernel ('kernel/op'), while installed. */
class KernelProfile {
  readonly kernels = new Map<string, {ms: number; calls: number}>();
  readonly ops = new Map<string, {ms: number; calls: number}>();
  private restore: Array<() => void> = [];

  install(): void {
    const now = () => Number(process.hrtime.bigint()) / 1e6;
    const add = (table: Map<string, {ms: number; calls: number}>, key: string, ms: number) => {
      const entry = table.get(key) ?? {ms: 0, calls: 0};
      table.set(key, {ms: entry.ms + ms, calls: entry.calls + 1});
    };
    let current = '(outside kernels)';
    for (const config of tf.getKernelsForBackend('tensorflow')) {
      const {kernelFunc} = config;
      config.kernelFunc = (args) => {
        const [outer, t0] = [current, now()];
        current = config.kernelName;
        try {
          return kernelFunc(args);
        } finally {
          current = outer;
          add(this.kernels, config.kernelName, now() - t0);
        }
      };
      this.restore.push(() => (config.kernelFunc = kernelFunc));
    }
    const backend = tf.backend() as NodeBackend;
    const {executeSingleOutput, readSync} = backend;
    backend.executeSingleOutput = (name, attrs, inputs) => {
      const t0 = now();
      try {
        return executeSingleOutput.call(backend, name, attrs, inputs);
      } finally {
        add(this.ops, `${current}/${name}`, now() - t0);
      }
    };
    backend.readSync = (dataId) => {
      const t0 = now();
      try {
        return readSync.call(backend, dataId);
      } finally {
        add(this.ops, `${current}/(read to host)`, now() - t0);
      }
    };
    this.restore.push(() => Object.assign(backend, {executeSingleOutput, readSync}));
  }

  uninstall(): void {
    this.restore.forEach((r) => r());
    this.restore = [];
  }

  clear(): void {
    this.kernels.clear();
    this.ops.clear();
  }

  /** The tables per frame, largest first. */
  perFrame(frames: number, top = 25): {kernels: Record<string, string>; ops: Record<string, string>} {
    const table = (m: Map<string, {ms: number; calls: number}>) =>
      Object.fromEntries(
        [...m.entries()]
          .sort((a, b) => b[1].ms - a[1].ms)
          .slice(0, top)
          .map(([k, v]) => [k, `${(v.ms / frames).toFixed(2)} ms, ${(v.calls / frames).toFixed(1)} calls`]),
      );
    return {kernels: table(this.kernels), ops: table(this.ops)};
  }
}

function heatmapErrors(dense: Float32Array, delta: Float32Array): {relErr: number; agree: number} {
  let [diff, scale] = [0, 0];
  for (let k = 0; k < dense.length; k++) {
    diff = Math.max(diff, Math.abs(dense[k] - delta[k]));
    scale = Math.max(scale, Math.abs(dense[k]));
  }
  const [ad, as] = [argmaxPerChannel(dense, 17), argmaxPerChannel(delta, 17)];
  return {relErr: diff / scale, agree: ad.filter((a, j) => a === as[j]).length / 17};
}

/** toDelta's restartAbove and flushAbove (0: off). */
const policy = {restart: 0.5, flush: 0.9};

function deltaModel(dense: tfl.LayersModel, frames: tf.Tensor4D[], threshold: number, restart: number, stats = false) {
  return toDelta(dense, {
    flushAbove: policy.flush > 0 ? policy.flush : undefined,
    ...posenetDeltaDefaults,
    threshold,
    calibrationFrames: frames.slice(0, CALIBRATION_FRAMES),
    restartAbove: restart > 0 ? restart : undefined,
    stats,
  });
}

function run(dense: tfl.LayersModel, frames: tf.Tensor4D[], warmup: number, threshold: number, restart: number) {
  const delta = deltaModel(dense, frames, threshold, restart);
  const [denseMs, deltaMs, ratios, relErr, agree] = [[], [], [], [], []] as number[][];
  let [pckCorrect, pckTotal] = [0, 0];
  frames.forEach((frame, i) => {
    const d = timed(() => dense.predict(frame) as tf.Tensor[]);
    const s = timed(() => delta.predict(frame) as tf.Tensor[]);
    if (i >= warmup) {
      denseMs.push(d.ms);
      deltaMs.push(s.ms);
      ratios.push(d.ms / s.ms);
      const e = heatmapErrors(d.outputs[0].dataSync() as Float32Array, s.outputs[0].dataSync() as Float32Array);
      relErr.push(e.relErr);
      agree.push(e.agree);
      const pck = posePck(posesOf(d.outputs, H, W), posesOf(s.outputs, H, W), H, W);
      [pckCorrect, pckTotal] = [pckCorrect + pck.correct, pckTotal + pck.total];
    }
    tf.dispose([...d.outputs, ...s.outputs]);
  });
  delta.dispose();
  // Statistics (they read masks back) and routes from a separate pass over the same frames.
  const stats = deltaModel(dense, frames, threshold, restart, true);
  setDeltaStats(stats, true);
  const skipped: number[] = [];
  const inputActive: number[] = [];
  Object.assign(deltaConvRouteCounts, {native: 0, tile: 0, dense: 0});
  Object.assign(sparseAccumulateRouteCounts, {native: 0, pixel: 0, dense: 0});
  frames.forEach((frame, i) => {
    tf.dispose(stats.predict(frame) as tf.Tensor[]);
    if (i < warmup) return;
    const s = getDeltaStats(stats);
    skipped.push(s.skippedShare);
    inputActive.push(s.layers[0]?.activeFraction ?? 1);
  });
  stats.dispose();
  const routes = {...deltaConvRouteCounts};
  const accumulates = {...sparseAccumulateRouteCounts};
  const result = {
    threshold,
    restartAbove: restart > 0 ? restart : null,
    flushAbove: policy.flush > 0 ? policy.flush : null,
    denseMedianMs: median(denseMs),
    deltaMedianMs: median(deltaMs),
    ratio: median(denseMs) / median(deltaMs),
    ratioQuartiles: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
    pck: pckTotal > 0 ? pckCorrect / pckTotal : null,
    pckKeypoints: pckTotal,
    skippedShare: mean(skipped),
    inputActiveMean: mean(inputActive),
    tileRouteShare: routes.tile / Math.max(1, routes.tile + routes.dense),
    accumulatePixelRouteShare: accumulates.pixel / Math.max(1, accumulates.pixel + accumulates.dense),
    heatmapRelErrMean: mean(relErr),
    heatmapRelErrMax: Math.max(...relErr),
    argmaxAgreement: mean(agree),
  };
  console.log(
    `  threshold ${threshold}: dense ${result.denseMedianMs.toFixed(1)} ms, delta ${result.deltaMedianMs.toFixed(1)} ms ` +
      `-> ${result.ratio.toFixed(2)}x dense (per-frame quartiles ${result.ratioQuartiles.map((r) => r.toFixed(2)).join('-')}); ` +
      `PCK ${result.pck == null ? '-' : (100 * result.pck).toFixed(1)}% of ${pckTotal}; input active ` +
      `${(100 * result.inputActiveMean).toFixed(1)}%, skipped ${(100 * result.skippedShare).toFixed(1)}%; tile route ` +
      `${(100 * result.tileRouteShare).toFixed(0)}% of delta conv calls, pixel route ` +
      `${(100 * result.accumulatePixelRouteShare).toFixed(0)}% of accumulates; heatmap rel err mean ` +
      `${result.heatmapRelErrMean.toExponential(2)} max ${result.heatmapRelErrMax.toExponential(2)}; argmax agreement ` +
      `${(100 * result.argmaxAgreement).toFixed(1)}%`,
  );
  return result;
}

/** Where the time goes: dense and delta, each over the same frames, with the kernels timed. */
function profile(dense: tfl.LayersModel, frames: tf.Tensor4D[], warmup: number, threshold: number, restart: number) {
  const delta = deltaModel(dense, frames, threshold, restart);
  const result: Record<string, unknown> = {threshold};
  for (const [name, model] of [
    ['dense', dense],
    ['delta', delta],
  ] as const) {
    const p = new KernelProfile();
    p.install();
    if (name === 'delta') frames.slice(0, warmup).forEach((f) => tf.dispose(model.predict(f) as tf.Tensor[]));
    p.clear();
    const timedFrames = frames.slice(name === 'delta' ? warmup : 0);
    const t0 = process.hrtime.bigint();
    timedFrames.forEach((f) => tf.dispose(model.predict(f) as tf.Tensor[]));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / timedFrames.length;
    p.uninstall();
    result[name] = {msPerFrameProfiled: ms, ...p.perFrame(timedFrames.length)};
    console.log(`  ${name} (profiled, ${ms.toFixed(1)} ms/frame):`, JSON.stringify(result[name], null, 1));
  }
  delta.dispose();
  return result;
}

async function main() {
  loadTfjsNode();
  await tf.setBackend('tensorflow');
  const loadAverageAtStart = os.loadavg();
  const count = Number(arg('frames', '60'));
  const warmup = Number(arg('warmup', '8'));
  const thresholds = arg('thresholds', '0.01,0.02,0.05,0.1,0.2').split(',').map(Number);
  const restart = Number(arg('restart', String(policy.restart)));
  policy.flush = Number(arg('flush', String(policy.flush)));
  const profiling = process.argv.includes('--profile');
  const model = await posenet(posenetJsonPath());
  const clips: Record<string, unknown[]> = {};
  for (const [name, make] of [
    ['vtest static camera', staticFrames],
    ['vtest moving camera', movingFrames],
  ] as const) {
    console.log(
      `PoseNet ${H}x${W}, ${name}, ${count - warmup} timed frames after ${warmup}, tfjs-node, ${os.cpus().length} cores` +
        `, restartAbove ${restart > 0 ? restart : 'off'}, flushAbove ${policy.flush > 0 ? policy.flush : 'off'}`,
    );
    const frames = make(count);
    clips[name] = thresholds.map((t) =>
      profiling ? profile(model, frames, warmup, t, restart) : run(model, frames, warmup, t, restart),
    );
    tf.dispose(frames);
  }
  const out = arg(
    'out',
    path.join(
      PACKAGE_ROOT,
      'benchmarks',
      'results',
      `delta_tensorflow${profiling ? '_profile' : ''}_cpu-${os.cpus().length}core.json`,
    ),
  );
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        model: 'posenet-mobilenetv1-0.75',
        size: [H, W],
        backend: 'tensorflow',
        cpus: os.cpus().length,
        loadAverageAtStart,
        frames: count,
        warmup,
        thresholds: 'relative to each layer activation scale (posenetDeltaDefaults), calibrated on the first 8 frames',
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
