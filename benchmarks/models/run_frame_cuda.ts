/**
 * Where a frame of `run`'s default job goes on 'cuda': PoseNet (trained) on a clip (default the built-in one, at
 * run's size for it), dense, dense with batch norms folded (what a dense tail runs) and the delta model with run's
 * defaults (threshold 0.05, input test 0.1 x 7, dense tail above 0.5 calibrated on the first 8 frames), each as a
 * compiled stream, and that delta model with per-layer statistics gathered and read every frame (`delta-stats`, as
 * `run` does by default). Per model, in one process:
 *   - wall: step + reading every output, per frame, as `run` times it (median);
 *   - host: the host's part of a step (no sync; median): what a GPU-bound step hides;
 *   - queued: steps issued back to back, one sync at the end (the host's per-step work overlapped with the GPU);
 *   - graph: the captured graph alone, `--replays` launches back to back, each after copying the next frame into the
 *     plan's input (the clip played forwards, then backwards: no jump); the GPU's time per frame;
 *   - static: the graph replayed on one unchanged frame: a delta model's floor (nothing changes), dense's full cost.
 *     Replaying one frame is not a delta model's frame time: its layers see no change after the first replay.
 * `--profile-replays N` brackets N graph launches of each model (over the clip's frames, as graph) with the
 * profiler range, for
 *   ncu --profile-from-start off --graph-profiling node --metrics gpu__time_duration.sum --csv node ...
 * which then times every kernel node of those replays (`--models delta` profiles one model alone).
 *
 *   node dist/benchmarks/models/run_frame_cuda.js [--video FILE] [--size HxW] [--frames 60] [--replays 500]
 *        [--models dense,folded,delta,delta-stats] [--profile-replays 0] [--out benchmarks/results/run_frame_<GPU>.json]
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import '../../src/index';
import {denseTailLayersOf, foldBatchNorms, toDelta} from '../../src/delta/to_delta';
import {compileStream} from '../../src/stream/compile_stream';
import type {CompiledStream} from '../../src/stream/compile_stream';
import {posenet} from '../../src/models/posenet';
import {posenetInputSize} from '../../src/models/posenet_decode';
import {posenetJsonPath} from '../../src/io/cache';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {probeVideo} from '../../src/pipeline/ffmpeg';
import {decodeRgb} from '../../data/vtest';
import type {CudaBackend} from '../../src/backends/cuda/backend';
import {median} from '../bench_util';

interface Args {
  video: string;
  size: [number, number] | null;
  frames: number;
  replays: number;
  profileReplays: number;
  models: string[];
  out: string | null;
}

const MODELS = ['dense', 'folded', 'delta', 'delta-stats'];

function parseArgs(argv: string[]): Args {
  const args: Args = {
    video: path.join(PACKAGE_ROOT, 'assets', 'pedestrians.mp4'),
    size: null,
    frames: 60,
    replays: 500,
    profileReplays: 0,
    models: MODELS,
    out: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value == null) throw new Error(`${flag} needs a value`);
    if (flag === '--video') args.video = value;
    else if (flag === '--size') args.size = value.split('x').map(Number) as [number, number];
    else if (flag === '--frames') args.frames = Number(value);
    else if (flag === '--replays') args.replays = Number(value);
    else if (flag === '--profile-replays') args.profileReplays = Number(value);
    else if (flag === '--models') args.models = value.split(',');
    else if (flag === '--out') args.out = value;
    else throw new Error(`unknown argument ${flag}`);
  }
  const whole = (n: number, min: number) => Number.isInteger(n) && n >= min;
  if (!whole(args.frames, 16) || !whole(args.replays, 1) || !whole(args.profileReplays, 0))
    throw new Error(`bad arguments: ${JSON.stringify(args)} (--frames >= 16)`);
  if (args.size != null && !args.size.every((n) => whole(n, 1))) throw new Error(`bad --size: ${args.size.join('x')}`);
  const unknown = args.models.filter((m) => !MODELS.includes(m));
  if (unknown.length > 0) throw new Error(`unknown --models ${unknown.join(',')}: choose from ${MODELS.join(',')}`);
  return args;
}

interface ModelTimes {
  graphNodes: number;
  wallMs: number;
  hostMs: number;
  queuedMs: number;
  graphMs: number;
  staticMs: number;
}

interface PlanAccess {
  plan: {id: number} | null;
  loadInputs(plan: {id: number}, xs: tf.Tensor[]): void;
}

/**
 * Launches the stream's graph directly, without the step's output copies: after copying `frame` into the plan's
 * input (a device copy, as a step does), or on whatever the input holds (null).
 */
function replay(backend: CudaBackend, stream: CompiledStream, frame: tf.Tensor | null): void {
  const s = stream as unknown as PlanAccess;
  if (frame != null) s.loadInputs(s.plan!, [frame]);
  backend.n.planLaunch({plan: s.plan!.id});
}

async function timeModel(
  backend: CudaBackend,
  model: tfl.LayersModel,
  frames: tf.Tensor[],
  args: Args,
  stats: boolean,
): Promise<ModelTimes> {
  const stream = compileStream(model, {stats});
  try {
    const read = async (out: tf.Tensor | tf.Tensor[]) => {
      const outs = Array.isArray(out) ? out : [out];
      await Promise.all(outs.map((o) => o.data()));
      tf.dispose(outs);
      if (stats && stream.info.replayedFrames > 0) stream.stats();
    };
    const warm = 4; // eager frames, the capture, a first replay
    for (let i = 0; i < warm; i++) await read(stream.step(frames[i]));
    const wall: number[] = [];
    const host: number[] = [];
    for (let i = warm; i < frames.length; i++) {
      const t0 = performance.now();
      const out = stream.step(frames[i]);
      host.push(performance.now() - t0);
      await read(out);
      wall.push(performance.now() - t0);
    }
    let t0 = performance.now();
    for (let i = warm; i < frames.length; i++) tf.dispose(stream.step(frames[i]));
    backend.n.sync();
    const queuedMs = (performance.now() - t0) / (frames.length - warm);
    // The clip forwards then backwards, so that consecutive replays always see neighbouring frames.
    const clip = frames.slice(warm);
    const order = [...clip, ...clip.slice().reverse()];
    const replays = (count: number, from: number) => {
      for (let i = 0; i < count; i++) replay(backend, stream, order[(from + i) % order.length]);
    };
    replays(20, 0);
    backend.n.sync();
    t0 = performance.now();
    replays(args.replays, 20);
    backend.n.sync();
    const graphMs = (performance.now() - t0) / args.replays;
    replay(backend, stream, clip[0]);
    for (let i = 0; i < 20; i++) replay(backend, stream, null);
    backend.n.sync();
    t0 = performance.now();
    for (let i = 0; i < args.replays; i++) replay(backend, stream, null);
    backend.n.sync();
    const staticMs = (performance.now() - t0) / args.replays;
    if (args.profileReplays > 0) {
      replays(20, 0);
      backend.n.sync();
      backend.n.profiler({on: true});
      replays(args.profileReplays, 20);
      backend.n.profiler({on: false});
    }
    return {
      graphNodes: stream.info.graphNodes,
      wallMs: median(wall),
      hostMs: median(host),
      queuedMs,
      graphMs,
      staticMs,
    };
  } finally {
    stream.dispose();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cuda = require('../../src/backends/cuda/index') as typeof import('../../src/backends/cuda/index');
  const avail = cuda.cudaAvailability();
  if (!avail.available) throw new Error(`run_frame_cuda needs the 'cuda' backend: ${avail.reason}`);
  cuda.setCudaOptions({allowTF32: true});
  await tf.setBackend('cuda');
  const backend = tf.backend() as unknown as CudaBackend;
  const info = probeVideo(args.video);
  const [H, W] = args.size ?? posenetInputSize(info.height, info.width);
  const count = Math.min(args.frames, info.frames || args.frames);
  const rgb = decodeRgb(args.video, count, H, W);
  const n = Math.floor(rgb.length / (H * W * 3));
  if (n < 16) throw new Error(`${args.video} gave ${n} frames at ${H}x${W}; 16 or more are needed`);
  const frames = Array.from({length: n}, (_, i) =>
    tf.tidy(() =>
      tf.sub(tf.div(tf.tensor4d(rgb.subarray(i * H * W * 3, (i + 1) * H * W * 3), [1, H, W, 3], 'int32'), 127.5), 1),
    ),
  );
  const model = await posenet(posenetJsonPath());
  const folded = foldBatchNorms(model);
  const delta = toDelta(model, {
    threshold: 0.05,
    inputThreshold: 0.1,
    dilation: 7,
    stats: false,
    denseAbove: 0.5,
    calibrationFrames: frames.slice(0, 8),
  });
  const denseLayers = denseTailLayersOf(delta).length;
  console.log(`run_frame_cuda on ${avail.device?.name}: PoseNet ${H}x${W}, ${n} frames of ${args.video}`);
  console.log(`delta model: run's defaults, ${denseLayers} weighted layers dense (tail)`);
  const results: {[name: string]: ModelTimes} = {};
  const byName: {[name: string]: tfl.LayersModel} = {dense: model, folded, delta, 'delta-stats': delta};
  for (const [name, m] of args.models.map((k) => [k, byName[k]] as [string, tfl.LayersModel])) {
    const t = (results[name] = await timeModel(backend, m, frames, args, name === 'delta-stats'));
    console.log(
      `  ${name.padEnd(11)} ${String(t.graphNodes).padStart(4)} graph nodes; wall ${t.wallMs.toFixed(3)} ms ` +
        `(host ${t.hostMs.toFixed(3)}), queued ${t.queuedMs.toFixed(3)} ms, graph ${t.graphMs.toFixed(3)} ms ` +
        `per frame (one unchanged frame: ${t.staticMs.toFixed(3)})`,
    );
  }
  const ratio = (key: keyof ModelTimes, ref: string, of: string) =>
    results[ref] && results[of] ? results[ref][key] / results[of][key] : null;
  const ratios = Object.fromEntries(
    (['wallMs', 'queuedMs', 'graphMs', 'staticMs'] as const).map((k) => [
      k,
      {
        vsDense: ratio(k, 'dense', 'delta'),
        vsFolded: ratio(k, 'folded', 'delta'),
        withStatsVsDense: ratio(k, 'dense', 'delta-stats'),
      },
    ]),
  );
  for (const [k, r] of Object.entries(ratios)) {
    const against = [
      r.vsDense != null ? `${r.vsDense.toFixed(2)}x dense` : '',
      r.vsFolded != null ? `${r.vsFolded.toFixed(2)}x folded` : '',
    ].filter((s) => s !== '');
    if (against.length > 0) console.log(`  delta speed-up, ${k}: ${against.join(', ')}`);
    if (r.withStatsVsDense != null)
      console.log(`  delta with statistics, speed-up, ${k}: ${r.withStatsVsDense.toFixed(2)}x dense`);
  }
  tf.dispose(frames);
  [delta, folded, model].forEach((m) => m.dispose());
  const out =
    args.out ??
    path.join('benchmarks', 'results', `run_frame_${(avail.device?.name ?? 'gpu').replace(/\W+/g, '_')}.json`);
  fs.mkdirSync(path.dirname(out), {recursive: true});
  const result = {
    benchmark: 'run_frame_cuda',
    gpu: avail.device?.name ?? null,
    date: new Date().toISOString(),
    command: `node dist/benchmarks/models/run_frame_cuda.js ${process.argv.slice(2).join(' ')}`.trim(),
    video: path.basename(args.video),
    size: [H, W],
    frames: n,
    replays: args.replays,
    delta: {threshold: 0.05, inputThreshold: 0.1, dilation: 7, denseAbove: 0.5, denseLayers},
    models: results,
    ratios,
  };
  fs.writeFileSync(out, JSON.stringify(result, null, 1));
  console.log(`results: ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
