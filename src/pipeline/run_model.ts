/**
 * Runs a LayersModel over a video, densely, as a delta model (toDelta), or both side by side, with
 * per-frame timings, active fractions, skipped multiply-adds, the deviation of delta from dense and its
 * fidelity (PCK of the decoded poses for PoseNet, top-1 agreement for classifiers: ./fidelity.ts), an
 * optional overlay video (PoseNet's decoded skeletons, or a heatmap tint for any model; with --compare
 * dense left and delta right, frames/s and PCK written on them) and a per-frame CSV/JSON record. On the 'cuda' backend both models run as compiled streams (one CUDA-graph replay per frame,
 * src/stream/compile_stream.ts) unless `compile` is false.
 */
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {DeltaFrameStats, denseTailLayersOf, foldedReference, getDeltaStats, toDelta} from '../delta/to_delta';
import {CompiledStream, compileStream} from '../stream/compile_stream';
import type {StreamPrecision} from '../stream/compile_stream';
import type {StatePrecision} from '../ops/kernel_names';
import {probeVideo, readFrames, VideoInfo, VideoWriter} from './ffmpeg';
import {classifierAgreement, isClassifierOutput, isPosenetOutputs, posePck, posesOf} from './fidelity';
import type {Pose} from '../models/posenet_decode';
import {framesFromBytes} from '../ops/frame_bytes';
import {overlayFrame} from './overlay';
import type {OverlayPanel} from './overlay';

export type RunMode = 'dense' | 'delta' | 'compare';

export interface RunOptions {
  input: string;
  model: tfl.LayersModel;
  mode: RunMode;
  /** Delta threshold of every activation, and of the input unless inputThreshold is given. */
  threshold: number;
  /** The input's change threshold (toDelta's inputThreshold; default `threshold`). */
  inputThreshold?: number;
  /**
   * Per-layer thresholds by layer name, relative to each layer's activation scale measured on the clip's first
   * CALIBRATION_FRAMES frames (toDelta's `thresholds` with thresholdScale 'activation'), e.g. a map tuneThresholds
   * made for this camera (benchmarks/models/tune_pck.ts). `threshold` and `inputThreshold` are then relative too,
   * for the layers it does not name.
   */
  thresholds?: {[layerName: string]: number};
  /** The input change test's neighbourhood, odd (toDelta's dilation; default 1: the pixel alone). */
  dilation?: number;
  /**
   * The delta model's dense tail (toDelta's denseAbove): layers whose output the first CALIBRATION_FRAMES
   * frames keep active above this fraction, and what they feed, run dense. Default: none (every layer delta).
   */
  denseAbove?: number;
  /** How the delta layers store their state (toDelta's statePrecision; default 'fp32'). */
  statePrecision?: StatePrecision;
  /** Model input size; frames are resized to it. */
  height: number;
  width: number;
  /** Pixel values 0..255 map linearly onto [lo, hi] (PoseNet: [-1, 1]). */
  range: [number, number];
  maxFrames?: number;
  /** Overlay video path. */
  output?: string;
  /** Per-frame record, .csv or .json. */
  statsFile?: string;
  /** Record per-layer delta statistics (reads masks back each frame: slows the delta model). */
  layerStats?: boolean;
  /** Called after each frame (and awaited): its record and, with `results`, what the model found in it. */
  onFrame?: (record: FrameRecord, info: VideoInfo, results?: FrameResults) => void | Promise<void>;
  /** Decode each frame's results for onFrame: PoseNet's poses, a classifier's top classes (of the delta model in delta and compare mode). */
  results?: boolean;
  shouldStop?: () => boolean;
  /**
   * Run the dense model with the batch norms and activation layers that follow a linear layer folded into it
   * (foldBatchNorms; default true), as the delta model runs them: the same outputs to float rounding, without a pass
   * per folded layer.
   */
  foldBatchNorms?: boolean;
  /** Run the models as compiled streams on the 'cuda' backend (default true; ignored on other backends). */
  compile?: boolean;
  /** Precision of the compiled streams: 'tf32' (default), 'fp32' or 'fp16' (see compileStream). */
  precision?: StreamPrecision;
  /**
   * Frames from elsewhere than ffmpeg (an application's own decoder, tests): RGB bytes of `info.width` x
   * `info.height`. `input` then only names the source in messages.
   */
  source?: {info: VideoInfo; frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>};
  /**
   * The measured fallback ('delta' and 'compare' modes; default off): once both models run in their steady
   * state (compiled streams replaying, eager models past their first two frames), the delta model and the dense
   * model are timed on the same `frames` frames. When the dense model's median frame time divided by the delta
   * model's falls below `minSpeedup` (default 1: delta must be faster), the delta model is dropped and the dense
   * model serves the delta side from the next frame on (in 'delta' mode the dense model runs only for the
   * measurement, or after the fallback). The verdict is RunSummary.fallback.
   */
  fallback?: {frames: number; minSpeedup?: number};
}

export interface FrameRecord {
  frame: number;
  denseMs?: number;
  deltaMs?: number;
  /** Active fraction of the delta model's input (pixels that changed by more than the threshold). */
  inputActive?: number;
  /** Share of the dense multiply-adds the delta model skipped. */
  macsSkipped?: number;
  /** max |delta - dense| / max |dense| over the first output. */
  deviation?: number;
  /** PoseNet: share of the dense model's confident keypoints (score > 0.5) the delta model finds within 2% of the frame diagonal. */
  pck?: number;
  /** PoseNet: how many confident dense keypoints the PCK is over. */
  pckKeypoints?: number;
  /** PoseNet: poses found by the dense and the delta model (multi-person decoding). */
  densePoses?: number;
  deltaPoses?: number;
  /** Classifiers: share of rows with the same top-1 class. */
  top1Agreement?: number;
  /** Classifiers: max |delta - dense| / max |dense| of the logits, per row. */
  logitRelError?: number;
  /** Which model served the delta side: the delta model, or after a measured fallback the dense one. */
  deltaRoute?: 'delta' | 'dense';
}

/** The measured fallback's verdict (RunOptions.fallback). */
export interface FallbackVerdict {
  /** The frames timed (0-based, inclusive). */
  firstFrame: number;
  lastFrame: number;
  /** Median frame times over them. */
  denseMs: number;
  deltaMs: number;
  /** denseMs / deltaMs. */
  speedup: number;
  /** Whether the delta model stayed; if not, the dense model served the delta side from lastFrame + 1 on. */
  kept: boolean;
}

/** What the model found in a frame: PoseNet's poses in frame pixels, or a classifier's five top classes. */
export interface FrameResults {
  poses?: Pose[];
  classes?: Array<{class: number; score: number}>;
}

/** The `k` largest entries of row 0 of a classifier's logits or probabilities, largest first. */
export function topClasses(output: tf.Tensor, k = 5): Array<{class: number; score: number}> {
  const row = output.dataSync().subarray(0, output.shape[1]!);
  return Array.from(row, (score, index) => ({class: index, score}))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

export interface RunSummary {
  frames: number;
  denseFps?: number;
  deltaFps?: number;
  /**
   * Median ms a frame after the first two (a compiled stream's eager and capturing frames), over the frames the delta
   * model ran (a measured fallback's later frames left out): the steady rate of each model.
   */
  denseMedianMs?: number;
  deltaMedianMs?: number;
  meanInputActive?: number;
  meanMacsSkipped?: number;
  maxDeviation?: number;
  /** PoseNet: PCK over all frames' confident dense keypoints together. */
  pck?: number;
  meanTop1Agreement?: number;
  maxLogitRelError?: number;
  /** With denseAbove: the weighted layers of the delta model that run dense (its dense tail). */
  denseTailLayers?: number;
  /** The batch norms the dense side ran folded into the layers before them (RunOptions.foldBatchNorms). */
  denseFoldedBatchNorms: number;
  /** The activation layers it ran as those layers' activations (the same option). */
  denseFoldedActivations: number;
  /** With RunOptions.fallback: the verdict, once enough steady frames were timed. */
  fallback?: FallbackVerdict;
  interrupted: boolean;
  records: FrameRecord[];
}

function outputsOf(result: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(result) ? result : [result];
}

/** model.predict, or the compiled stream's step when there is one. */
type Runner = {model: tfl.LayersModel; stream: CompiledStream | null};

async function timed(runner: Runner, x: tf.Tensor): Promise<{outputs: tf.Tensor[]; ms: number}> {
  const t0 = performance.now();
  const outputs = outputsOf(
    runner.stream ? runner.stream.step(x) : (runner.model.predict(x) as tf.Tensor | tf.Tensor[]),
  );
  await Promise.all(outputs.map((o) => o.data()));
  return {outputs, ms: performance.now() - t0};
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * The measured fallback's decision over frame times taken side by side: the delta model stays when the dense
 * model's median over its own is at least `minSpeedup`.
 */
export function fallbackVerdict(
  denseMs: number[],
  deltaMs: number[],
  minSpeedup: number,
  firstFrame: number,
): FallbackVerdict {
  if (denseMs.length === 0 || denseMs.length !== deltaMs.length)
    throw new Error(`fallbackVerdict: need as many dense as delta times (got ${denseMs.length} and ${deltaMs.length})`);
  const [dense, delta] = [median(denseMs), median(deltaMs)];
  const speedup = dense / delta;
  return {
    firstFrame,
    lastFrame: firstFrame + denseMs.length - 1,
    denseMs: dense,
    deltaMs: delta,
    speedup,
    kept: speedup >= minSpeedup,
  };
}

function checkFallback(fallback: RunOptions['fallback']): void {
  if (fallback == null) return;
  const {frames, minSpeedup} = fallback;
  if (!Number.isInteger(frames) || frames < 0)
    throw new Error(`runModelOnVideo: fallback.frames must be an integer >= 0, got ${JSON.stringify(frames)}`);
  // Infinity is allowed: the delta model is then always dropped once measured.
  if (minSpeedup != null && !(typeof minSpeedup === 'number' && minSpeedup >= 0))
    throw new Error(`runModelOnVideo: fallback.minSpeedup must be a number >= 0, got ${String(minSpeedup)}`);
}

function mean(values: Array<number | undefined>): number | undefined {
  const v = values.filter((x): x is number => x != null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
}

export function writeRecords(file: string, records: FrameRecord[]): void {
  if (file.endsWith('.json')) {
    fs.writeFileSync(file, JSON.stringify(records, null, 1));
    return;
  }
  const columns: Array<keyof FrameRecord> = [
    'frame',
    'denseMs',
    'deltaMs',
    'inputActive',
    'macsSkipped',
    'deviation',
    'pck',
    'pckKeypoints',
    'densePoses',
    'deltaPoses',
    'top1Agreement',
    'logitRelError',
    'deltaRoute',
  ];
  const lines = [columns.join(',')].concat(records.map((r) => columns.map((c) => r[c] ?? '').join(',')));
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

/** The overlay's captions of the dense and the delta panel for a frame's record. */
export function captions(record: FrameRecord): [string[], string[]] {
  const fps = (ms?: number) => (ms ? `${(1000 / ms).toFixed(1)} frames/s` : '');
  const dense = [`dense  ${fps(record.denseMs)}`];
  const delta = [`${record.deltaRoute === 'dense' ? 'dense (delta did not pay)' : 'delta'}  ${fps(record.deltaMs)}`];
  if (record.pck != null) delta.push(`PCK ${(100 * record.pck).toFixed(1)}% of ${record.pckKeypoints} keypoints`);
  else if (record.pckKeypoints === 0) delta.push('PCK - (no confident keypoint)');
  if (record.top1Agreement != null) delta.push(`top-1 agreement ${(100 * record.top1Agreement).toFixed(1)}%`);
  return [dense, delta];
}

/** Frames that choose a dense tail (RunOptions.denseAbove); they are then run like every other frame. */
export const CALIBRATION_FRAMES = 8;

/**
 * The first `count` items of `source`, an iterable of all of them (those first, then the rest; leaving it early
 * closes the source), and `close` for when it will not be iterated at all (a decoder process then stops).
 */
async function peek<T>(
  source: AsyncIterable<T> | Iterable<T>,
  count: number,
): Promise<{first: T[]; all: AsyncIterable<T>; close: () => Promise<void>}> {
  const it = (Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()) as
    AsyncIterator<T> | Iterator<T>;
  const first: T[] = [];
  while (first.length < count) {
    const next = await it.next();
    if (next.done) break;
    first.push(next.value);
  }
  const close = async () => {
    await it.return?.();
  };
  async function* all() {
    try {
      yield* first;
      for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
    } finally {
      await close();
    }
  }
  return {first, all: all(), close};
}

export async function runModelOnVideo(options: RunOptions): Promise<RunSummary> {
  checkFallback(options.fallback);
  const info = options.source?.info ?? probeVideo(options.input);
  const {height, width, mode} = options;
  const [lo, hi] = options.range;
  const layerStats = options.layerStats ?? true;
  const toInput = (frame: Uint8Array) =>
    tf.tidy(() => {
      // Bytes go to the backend as bytes and are scaled there; bilinear resizing is linear, so it may follow.
      const pixels = framesFromBytes(frame, [1, info.height, info.width, 3], (hi - lo) / 255) as tf.Tensor4D;
      const resized =
        height === info.height && width === info.width ? pixels : tf.image.resizeBilinear(pixels, [height, width]);
      return tf.add(resized, lo);
    });
  let frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
    options.source?.frames ?? readFrames(options.input, {maxFrames: options.maxFrames});
  let delta: tfl.LayersModel | null = null;
  if (mode !== 'dense') {
    let calibrationFrames: tf.Tensor[] | undefined;
    let close = async () => {};
    try {
      if (options.denseAbove != null || options.thresholds != null) {
        const peeked = await peek(frames, Math.min(CALIBRATION_FRAMES, options.maxFrames ?? Infinity));
        [frames, close] = [peeked.all, peeked.close];
        calibrationFrames = peeked.first.length >= 2 ? peeked.first.map(toInput) : undefined;
      }
      if (options.thresholds != null && calibrationFrames == null)
        throw new Error('runModelOnVideo: per-layer relative thresholds need 2 or more frames to measure scales on');
      delta = toDelta(options.model, {
        threshold: options.threshold,
        inputThreshold: options.inputThreshold,
        ...(options.thresholds != null ? {thresholds: options.thresholds, thresholdScale: 'activation' as const} : {}),
        dilation: options.dilation,
        stats: layerStats,
        // A clip too short to measure keeps every layer delta.
        denseAbove: calibrationFrames != null ? options.denseAbove : undefined,
        calibrationFrames,
        statePrecision: options.statePrecision,
      });
    } catch (e) {
      await close();
      throw e;
    } finally {
      tf.dispose(calibrationFrames ?? []);
    }
  }
  const denseTailLayers = delta != null && options.denseAbove != null ? denseTailLayersOf(delta).length : undefined;
  const compile = (options.compile ?? true) && tf.getBackend() === 'cuda';
  const runnerOf = (model: tfl.LayersModel | null): Runner | null =>
    model == null
      ? null
      : {
          model,
          stream: compile
            ? compileStream(model, {stats: model === delta && layerStats, precision: options.precision})
            : null,
        };
  // The measured fallback: in 'delta' mode the dense model runs for the measurement (and serves after a fallback).
  const fallbackFrames = delta != null ? (options.fallback?.frames ?? 0) : 0;
  // The dense side runs folded (the delta model folds the same batch norms): the reference a delta model must beat.
  const foldDense = (mode !== 'delta' || fallbackFrames > 0) && (options.foldBatchNorms ?? true);
  const reference = foldDense ? foldedReference(options.model) : {model: options.model, batchNorms: 0, activations: 0};
  const denseModel = reference.model;
  const dense = runnerOf(mode === 'delta' ? null : denseModel);
  let deltaRunner = runnerOf(delta);
  let referee: Runner | null = fallbackFrames > 0 ? (dense ?? runnerOf(denseModel)) : null;
  // Frame times of the trial: consecutive frames, since both runners stay steady once they are.
  const trial = {denseMs: [] as number[], deltaMs: [] as number[]};
  let fallback: FallbackVerdict | undefined;
  // A runner's frame times count once they no longer include a capture, a first frame or a first kernel run.
  const framesRun = new Map<Runner, number>();
  const isSteady = (runner: Runner) =>
    runner.stream ? runner.stream.info.replayedFrames >= 2 : (framesRun.get(runner) ?? 0) >= 3;
  const timedRun = async (runner: Runner, x: tf.Tensor) => {
    const r = await timed(runner, x);
    framesRun.set(runner, (framesRun.get(runner) ?? 0) + 1);
    return r;
  };
  // Statistics of the frame just run: from the plan once it replays, from the layers while it warms up.
  const frameStats = (): DeltaFrameStats =>
    deltaRunner!.stream?.info.captured ? deltaRunner!.stream.stats() : getDeltaStats(delta!);
  const writer = options.output
    ? new VideoWriter(options.output, {
        width: (mode === 'compare' ? 2 : 1) * info.width,
        height: info.height,
        fps: info.fps,
        input: options.input,
      })
    : null;
  const records: FrameRecord[] = [];
  let [pckCorrect, pckTotal] = [0, 0];
  let interrupted = false;
  try {
    let index = 0;
    for await (const frame of frames) {
      if (options.maxFrames != null && index >= options.maxFrames) break;
      const x = toInput(frame);
      const record: FrameRecord = {frame: index};
      const ran = {dense: null as tf.Tensor[] | null, delta: null as tf.Tensor[] | null};
      let refereeMs: number | undefined;
      if (dense) {
        const r = await timedRun(dense, x);
        ran.dense = r.outputs;
        record.denseMs = refereeMs = r.ms;
      } else if (referee) {
        const r = await timedRun(referee, x);
        tf.dispose(r.outputs);
        refereeMs = r.ms;
      }
      if (deltaRunner) {
        const r = await timedRun(deltaRunner, x);
        ran.delta = r.outputs;
        record.deltaMs = r.ms;
        record.deltaRoute = fallback?.kept === false ? 'dense' : 'delta';
        if (layerStats && record.deltaRoute === 'delta') {
          const stats = frameStats();
          record.inputActive = stats.layers[0]?.activeFraction;
          record.macsSkipped = stats.skippedShare;
        }
      }
      // The referee runs until the verdict (it is dropped then, or serves the delta side).
      if (referee && isSteady(referee) && isSteady(deltaRunner!)) {
        trial.denseMs.push(refereeMs!);
        trial.deltaMs.push(record.deltaMs!);
        if (trial.deltaMs.length === fallbackFrames) {
          const first = index - fallbackFrames + 1;
          fallback = fallbackVerdict(trial.denseMs, trial.deltaMs, options.fallback?.minSpeedup ?? 1, first);
          if (fallback.kept) {
            if (referee !== dense) referee.stream?.dispose();
          } else {
            // The dense model serves the delta side from the next frame on ('compare': its stream runs twice).
            deltaRunner!.stream?.dispose();
            deltaRunner = referee;
            delta!.dispose(); // its state is not needed any more
            delta = null;
          }
          referee = null;
        }
      }
      const pose = isPosenetOutputs((ran.dense ?? ran.delta)!);
      // Poses in frame pixels, decoded only when something uses them.
      const poses = (outputs: tf.Tensor[] | null): Pose[] | null =>
        outputs && pose && (writer || (ran.dense && ran.delta) || options.results)
          ? posesOf(outputs, height, width, info.height, info.width)
          : null;
      const [densePoses, deltaPoses] = [poses(ran.dense), poses(ran.delta)];
      // Fidelity is the delta model's: frames the dense model served after a fallback are left out.
      if (ran.dense && ran.delta && record.deltaRoute === 'delta') {
        const [a, b] = [ran.dense[0], ran.delta[0]];
        record.deviation = tf.tidy(
          () => tf.div(tf.max(tf.abs(tf.sub(a, b))), tf.maximum(tf.max(tf.abs(a)), 1e-12)).dataSync()[0],
        );
        if (densePoses && deltaPoses) {
          const r = posePck(densePoses, deltaPoses, info.height, info.width);
          [record.pck, record.pckKeypoints, record.densePoses, record.deltaPoses] = [
            r.pck,
            r.total,
            densePoses.length,
            deltaPoses.length,
          ];
          [pckCorrect, pckTotal] = [pckCorrect + r.correct, pckTotal + r.total];
        } else if (isClassifierOutput(ran.dense)) {
          const r = classifierAgreement(a.dataSync(), b.dataSync(), a.shape[1]!);
          [record.top1Agreement, record.logitRelError] = [r.top1Agreement, r.maxRelError];
        }
      }
      if (writer) {
        const panels: OverlayPanel[] = [];
        const [denseCaption, deltaCaption] = captions(record);
        const heatmap = (outputs: tf.Tensor[]) => (outputs[0].rank === 4 ? (outputs[0] as tf.Tensor4D) : undefined);
        if (ran.dense) panels.push({poses: densePoses, heatmap: heatmap(ran.dense), caption: denseCaption});
        if (ran.delta) panels.push({poses: deltaPoses, heatmap: heatmap(ran.delta), caption: deltaCaption});
        const canvas = overlayFrame(frame, info.width, info.height, panels);
        await writer.write(canvas);
      }
      let results: FrameResults | undefined;
      if (options.results) {
        const outputs = (ran.delta ?? ran.dense)!;
        results = pose
          ? {poses: (ran.delta ? deltaPoses : densePoses) ?? []}
          : isClassifierOutput(outputs)
            ? {classes: topClasses(outputs[0])}
            : {};
      }
      tf.dispose([x, ...(ran.dense ?? []), ...(ran.delta ?? [])]);
      records.push(record);
      await options.onFrame?.(record, info, results);
      index++;
      if (options.shouldStop?.()) {
        interrupted = true;
        break;
      }
    }
    if (records.length === 0) throw new Error(`run: '${options.input}' has no frames`);
    await writer?.finish();
  } catch (e) {
    await writer?.abort();
    throw e;
  } finally {
    new Set([dense, deltaRunner, referee]).forEach((r) => r?.stream?.dispose());
    delta?.dispose();
    if (denseModel !== options.model) denseModel.dispose();
  }
  if (options.statsFile) writeRecords(options.statsFile, records);
  // The first frame builds kernels and state: leave it out of the rates.
  const steady = records.length > 1 ? records.slice(1) : records;
  const fps = (key: 'denseMs' | 'deltaMs') => {
    const m = mean(steady.map((r) => r[key]));
    return m == null ? undefined : 1000 / m;
  };
  // The steady medians compare the two models: frames the dense model served after a fallback are left out of both.
  const settled = (records.length > 2 ? records.slice(2) : steady).filter((r) => r.deltaRoute !== 'dense');
  const medianMs = (key: 'denseMs' | 'deltaMs') => {
    const v = settled.map((r) => r[key]).filter((x): x is number => x != null);
    return v.length > 0 ? median(v) : undefined;
  };
  return {
    frames: records.length,
    denseFps: fps('denseMs'),
    deltaFps: fps('deltaMs'),
    denseMedianMs: medianMs('denseMs'),
    deltaMedianMs: medianMs('deltaMs'),
    meanInputActive: mean(steady.map((r) => r.inputActive)),
    meanMacsSkipped: mean(steady.map((r) => r.macsSkipped)),
    maxDeviation: records.some((r) => r.deviation != null)
      ? Math.max(...records.map((r) => r.deviation ?? 0))
      : undefined,
    pck: pckTotal > 0 ? pckCorrect / pckTotal : undefined,
    meanTop1Agreement: mean(records.map((r) => r.top1Agreement)),
    maxLogitRelError: records.some((r) => r.logitRelError != null)
      ? Math.max(...records.map((r) => r.logitRelError ?? 0))
      : undefined,
    denseTailLayers,
    denseFoldedBatchNorms: reference.batchNorms,
    denseFoldedActivations: reference.activations,
    fallback,
    interrupted,
    records,
  };
}
