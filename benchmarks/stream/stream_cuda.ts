/**
 * Compiled streaming plans on the GPU machine: per-frame time of model.predict (eager) and of
 * compileStream(model).step (one CUDA-graph replay) against PyTorch eager and PyTorch CUDA-graph replay measured
 * in the same device run (benchmarks/stream/stream_torch.py), batch 1:
 *   - ResNet-50 trunk (dense) at 256x256 and 768x576, TF32 and strict fp32 (with the TF32 output's error vs fp32);
 *   - FLAVR 2x at 512x512 and 1280x720, TF32 (and the TF32 error vs fp32 at 512);
 *   - ResNet-50 pose (seeded weights, as delta_vtest.ts), dense and delta (toDelta, thresholds 0/0.02/0.05 or
 *     TFJS_DELTA_BENCH_THRESHOLDS), on consecutive vtest.avi frames at
 *     256x256 and 768x576 (data/vtest.ts: TFJS_DELTA_VTEST_FRAMES on the GPU machine): time per
 *     frame, keypoint (heatmap argmax) agreement and mean |difference| of delta vs dense.
 * Time per frame = wall clock of the call plus a device sync, median after warm-up (GPU time by CUDA events
 * beside it). Writes <outDir>/stream_cuda_<gpu>.json and prints a table with ratios.
 *
 *   node dist/benchmarks/stream/stream_cuda.js [torch.json] [outDir] [--quick]
 *   node dist/benchmarks/stream/stream_cuda.js --plot <stream_cuda_<gpu>.json>     (the PNG again, no GPU needed)
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {flavr} from '../../src/models/flavr';
import {toDelta} from '../../src/delta/to_delta';
import {cudaAvailability, setCudaOptions, useCudaIfAvailable} from '../../src/backends/cuda/index';
import {CudaBackend} from '../../src/backends/cuda/backend';
import {renderVegaLitePng} from '../../src/pipeline/chart';
import {compileStream} from '../../src/stream/compile_stream';
import type {StreamPrecision} from '../../src/stream/compile_stream';
import {resnet50Trunk} from '../backends/cuda_dense';
import {compare} from '../models/delta_vtest';
import {seededResNet50Pose} from '../../data/models';
import {frameTensor, framesUnavailable, vtestRgb} from '../../data/vtest';

const quick = process.argv.includes('--quick');
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function backend(): CudaBackend {
  return tf.backend() as CudaBackend;
}

/** Median wall ms (call + device sync) and GPU ms (events) of `step(i)` over `runs` calls after `warmup`. */
function timeSteps(
  step: (i: number) => tf.Tensor | tf.Tensor[],
  runs: number,
  warmup: number,
): {wallMs: number; gpuMs: number} {
  const n = backend().n;
  const drop = (t: tf.Tensor | tf.Tensor[]) => (Array.isArray(t) ? t : [t]).forEach((x) => x.dispose());
  for (let i = 0; i < warmup; i++) {
    drop(step(i));
    n.sync();
  }
  const wall: number[] = [],
    gpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const timer = n.timerStart();
    const t0 = process.hrtime.bigint();
    const y = step(warmup + i);
    n.sync();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    gpu.push(n.timerEnd({timer}));
    drop(y);
  }
  return {wallMs: median(wall), gpuMs: median(gpu)};
}

function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]));
}

interface Row {
  name: string;
  mode: string;
  wallMs: number;
  gpuMs: number;
  torchEagerMs?: number;
  torchGraphMs?: number;
  note?: string;
}

/** Random-uniform frames in [0, 1], created once (the timing loop cycles through them). */
function randomFrames(shape: number[], count: number): tf.Tensor[] {
  return Array.from({length: count}, () => tf.randomUniform(shape));
}

/** model.predict as a compiled stream of `precision` runs it eagerly (fp16: TF32 allowed, half storage on). */
function predictAt(model: tfl.LayersModel, x: tf.Tensor, precision: StreamPrecision): tf.Tensor {
  setCudaOptions({allowTF32: precision !== 'fp32'});
  backend().halfStorage = precision === 'fp16';
  try {
    return model.predict(x) as tf.Tensor;
  } finally {
    backend().halfStorage = false;
    setCudaOptions({allowTF32: true});
  }
}

function denseCase(
  rows: Row[],
  name: string,
  model: tfl.LayersModel,
  shape: number[],
  precision: StreamPrecision,
  runs: number,
  warmup: number,
): void {
  const frames = randomFrames(shape, 4);
  const eager = timeSteps((i) => predictAt(model, frames[i % frames.length], precision), runs, warmup);
  rows.push({name, mode: `eager ${precision}`, ...eager});
  const stream = compileStream(model, {precision});
  const compiled = timeSteps((i) => stream.step(frames[i % frames.length]), runs, warmup);
  rows.push({
    name,
    mode: `compiled ${precision}`,
    ...compiled,
    note: `graph ${stream.info.graphNodes} nodes, plan ${(stream.info.planBytes / 2 ** 20).toFixed(0)} MiB`,
  });
  stream.dispose();
  tf.dispose(frames);
}

/** The output error of `precision` against strict fp32 on one random input (relative to the output's max |value|). */
function precisionError(model: tfl.LayersModel, shape: number[], precision: StreamPrecision): number {
  const x = tf.randomUniform(shape);
  const fp32 = predictAt(model, x, 'fp32');
  const other = predictAt(model, x, precision);
  const e = maxRelErr(other, fp32);
  tf.dispose([x, fp32, other]);
  return e;
}

interface VtestClip {
  frames: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** Consecutive vtest.avi frames at width x height (data/vtest.ts), or null when unavailable. */
function vtestClip(width: number, height: number, count: number): VtestClip | null {
  if (framesUnavailable(count, height, width) != null) return null;
  return {frames: vtestRgb(count, height, width), count, height, width};
}

function clipFrame(c: VtestClip, i: number): tf.Tensor4D {
  return frameTensor(c.frames, i % c.count, c.height, c.width);
}

function poseCase(
  rows: Row[],
  summary: Record<string, unknown>,
  clip: VtestClip,
  thresholds: number[],
  frames: number,
): void {
  const label = `resnet50 pose vtest ${clip.width}x${clip.height}`;
  // Frames uploaded before timing (as the PyTorch side): a step's time is the model's, not the upload's.
  const xs = Array.from({length: frames}, (_, i) => clipFrame(clip, i));
  const at = (i: number) => xs[i % frames];
  // Seeded weights with realistic activation scales (benchmarks/models/delta_vtest.ts): thresholds are absolute, and
  // tfjs's default initialisers shrink activations through 50 layers until any threshold truncates everything.
  const dense = seededResNet50Pose();
  const denseStream = compileStream(dense);
  const t = timeSteps((i) => denseStream.step(at(i)), frames, 5);
  rows.push({name: label, mode: 'compiled tf32 dense', ...t});
  const eager = timeSteps((i) => dense.predict(at(i)) as tf.Tensor, Math.min(frames, 30), 5);
  rows.push({name: label, mode: 'eager tf32 dense', ...eager});
  for (const threshold of thresholds) {
    const delta = toDelta(dense, {threshold});
    const stream = compileStream(delta);
    // Accuracy pass over the same consecutive frames (untimed): delta vs dense on every frame.
    let agree = 0,
      joints = 0,
      meanAbs = 0;
    denseStream.reset();
    for (let i = 0; i < frames; i++) {
      const x = at(i);
      const got = stream.step(x) as tf.Tensor;
      const want = denseStream.step(x) as tf.Tensor;
      const a = compare(got.dataSync() as Float32Array, want.dataSync() as Float32Array, 'heatmaps', want.shape[3]!);
      agree += a.agree;
      joints += a.total;
      meanAbs += a.meanAbs / frames;
      tf.dispose([got, want]);
    }
    stream.reset();
    const timed = timeSteps((i) => stream.step(at(i)), frames, 0);
    rows.push({
      name: label,
      mode: `compiled tf32 delta t=${threshold}`,
      ...timed,
      note:
        `keypoint agreement ${((100 * agree) / joints).toFixed(1)}%, mean |diff| ${meanAbs.toExponential(2)}, ` +
        `plan ${(stream.info.planBytes / 2 ** 20).toFixed(0)} MiB`,
    });
    summary[`${label} t=${threshold}`] = {keypointAgreement: agree / joints, meanAbsDiff: meanAbs, frames};
    stream.dispose();
    delta.dispose();
  }
  denseStream.dispose();
  dense.dispose();
  tf.dispose(xs);
}

/**
 * A bar chart (PNG beside the JSON) of ms per frame: our eager and compiled runs against PyTorch eager and CUDA
 * graph, per case (TF32). Runs anywhere: `node dist/benchmarks/stream/stream_cuda.js --plot <results.json>`.
 */
async function plot(file: string): Promise<string> {
  const result = JSON.parse(fs.readFileSync(file, 'utf8')) as {gpu: string; rows: Row[]};
  const values: Array<{case: string; mode: string; ms: number}> = [];
  const seen = new Set<string>();
  for (const r of result.rows) {
    if (r.mode.includes('fp32')) continue;
    values.push({case: r.name, mode: `tfjs-delta ${r.mode.replace(' tf32', '')}`, ms: r.wallMs});
    if (seen.has(r.name)) continue;
    seen.add(r.name);
    if (r.torchEagerMs) values.push({case: r.name, mode: 'PyTorch eager', ms: r.torchEagerMs});
    if (r.torchGraphMs) values.push({case: r.name, mode: 'PyTorch CUDA graph', ms: r.torchGraphMs});
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `ms per frame, batch 1, TF32, ${result.gpu} (lower is better)`,
    data: {values},
    facet: {row: {field: 'case', type: 'nominal', title: null, header: {labelAngle: 0, labelAlign: 'left'}}},
    resolve: {scale: {x: 'independent', y: 'independent'}},
    spec: {
      width: 700,
      mark: 'bar',
      encoding: {
        y: {field: 'mode', type: 'nominal', title: null, axis: {labelLimit: 320}},
        x: {field: 'ms', type: 'quantitative', title: 'ms'},
        color: {field: 'mode', type: 'nominal', legend: null},
      },
    },
  };
  const png = file.replace(/\.json$/, '.png');
  await renderVegaLitePng(spec, png, 1100);
  return png;
}

async function main(): Promise<void> {
  if (process.argv.includes('--plot')) {
    console.log(`wrote ${await plot(args[0])}`);
    return;
  }
  const [torchFile, outDir = 'benchmarks/results'] = args;
  const status = cudaAvailability();
  if (!status.available || !(await useCudaIfAvailable())) throw new Error(`'cuda' unavailable: ${status.reason}`);
  const gpu = status.device!.name;
  const torch: Record<string, number> =
    torchFile && fs.existsSync(torchFile) ? JSON.parse(fs.readFileSync(torchFile, 'utf8')) : {};
  const runs = quick ? 5 : 50,
    warmup = quick ? 3 : 10;
  const rows: Row[] = [];
  const summary: Record<string, unknown> = {};

  for (const [h, w] of [
    [256, 256],
    [576, 768],
  ]) {
    const model = resnet50Trunk(h, w);
    const name = `resnet50 ${w}x${h} b1`;
    for (const precision of ['tf32', 'fp32', 'fp16'] as const) {
      denseCase(rows, name, model, [1, h, w, 3], precision, runs, warmup);
      if (precision !== 'fp32')
        summary[`${name} ${precision} error vs fp32`] = precisionError(model, [1, h, w, 3], precision);
    }
    model.dispose();
  }
  const fl = flavr({factor: 2});
  for (const [h, w] of quick
    ? [[256, 256]]
    : [
        [512, 512],
        [720, 1280],
      ]) {
    const name = `flavr2x ${w}x${h}`;
    for (const precision of ['tf32', 'fp16'] as const) {
      denseCase(rows, name, fl, [1, 4, h, w, 3], precision, quick ? 3 : 20, quick ? 2 : 5);
      if (h === 512 || quick)
        summary[`${name} ${precision} error vs fp32`] = precisionError(fl, [1, 4, h, w, 3], precision);
    }
  }
  fl.dispose();

  const thresholds = (process.env.TFJS_DELTA_BENCH_THRESHOLDS ?? '0,0.02,0.05').split(',').map(Number);
  for (const [w, h] of [
    [256, 256],
    [768, 576],
  ]) {
    const frames = quick ? 10 : 200;
    const clip = vtestClip(w, h, frames);
    if (clip == null) {
      console.log(`(vtest frames at ${w}x${h} unavailable: ${framesUnavailable(frames, h, w)}; delta pose skipped)`);
      continue;
    }
    poseCase(rows, summary, clip, thresholds, frames);
  }

  for (const r of rows) {
    const base = r.name.startsWith('resnet50 pose') ? `resnet50 pose ${r.name.split(' ')[3]} b1` : r.name;
    const prec = r.mode.includes('fp32') ? 'fp32' : r.mode.includes('fp16') ? 'fp16' : 'tf32';
    r.torchEagerMs = torch[`${base} ${prec} eager`];
    r.torchGraphMs = torch[`${base} ${prec} cudagraph`];
  }
  console.log(`GPU: ${gpu}; batch 1; wall = call + device sync, median; torch = same device run`);
  console.log(
    '| case | mode | wall ms | GPU ms | PyTorch eager ms | PyTorch graph ms | vs eager (x faster) | vs graph | note |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  const f = (v?: number, d = 2) => (v === undefined ? '-' : v.toFixed(d));
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.mode} | ${f(r.wallMs)} | ${f(r.gpuMs)} | ${f(r.torchEagerMs)} | ${f(r.torchGraphMs)} | ` +
        `${f(r.torchEagerMs && r.torchEagerMs / r.wallMs)} | ${f(r.torchGraphMs && r.torchGraphMs / r.wallMs)} | ${r.note ?? ''} |`,
    );
  }
  for (const [k, v] of Object.entries(summary)) console.log(`${k}: ${JSON.stringify(v)}`);
  fs.mkdirSync(outDir, {recursive: true});
  const file = path.join(outDir, `stream_cuda_${gpu.replace(/[^A-Za-z0-9]+/g, '_')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({gpu, date: new Date().toISOString(), quick, torch, rows, summary}, null, 1) + '\n',
  );
  console.log(`wrote ${file}, ${await plot(file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
