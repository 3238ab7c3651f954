/**
 * `tfjs-delta run`: a model over a video, dense and/or delta, with an overlay video, a per-frame
 * record and a summary. The built-in defaults are PoseNet-MobileNetV1 (real trained weights, fetched
 * once from the npm registry) on a short static-camera clip shipped with the package.
 */
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {posenet} from '../models/posenet';
import {posenetInputSize} from '../models/posenet_decode';
import {nodeFileSystem} from '../io/node_file_system';
import {FallbackVerdict, RunMode, runModelOnVideo, RunSummary} from '../pipeline/run_model';
import {speedupCeiling} from '../delta/to_delta';
import type {StreamPrecision} from '../stream/compile_stream';
import type {StatePrecision} from '../ops/kernel_names';
import {evenSize, probeVideo} from '../pipeline/ffmpeg';
import {interruptible, progressBar} from './progress';
import {PACKAGE_ROOT} from '../io/package_root';
import {ensurePosenet} from '../io/cache';

export {ensurePosenet};

export const DEFAULT_CLIP = path.join(PACKAGE_ROOT, 'assets', 'pedestrians.mp4');

export interface RunCommandOptions {
  delta?: boolean;
  compare?: boolean;
  threshold: number;
  /** The input's change threshold (default: twice `threshold`). */
  inputThreshold?: number;
  /** The input change test's neighbourhood (toDelta's dilation). */
  dilation: number;
  /**
   * The delta model's dense tail: toDelta's denseAbove, measured on the clip's first frames (1: none; default:
   * denseAboveFor the backend).
   */
  denseAbove?: number;
  output?: string;
  stats?: string;
  size?: string;
  frames?: number;
  range?: string;
  layerStats: boolean;
  /** The dense model's batch norms folded into the layers before them (commander's --no-fold-batch-norms: false). */
  foldBatchNorms?: boolean;
  /** Compiled streams on 'cuda' (commander's --no-compile sets false). */
  compile?: boolean;
  /** The delta layers' state precision (toDelta's statePrecision; default fp32). */
  statePrecision?: StatePrecision;
  /** Their precision: tf32 (default), fp32 or fp16. */
  precision?: StreamPrecision;
  /** Steady frames timed side by side before the delta model is kept or replaced by the dense one (0: never). */
  fallbackFrames: number;
}

function fmt(value: number | undefined, kind: 'fps' | 'ms' | 'pct' | 'exp'): string {
  if (value == null) return '-';
  if (kind === 'ms') return value.toFixed(3);
  return kind === 'fps' ? value.toFixed(2) : kind === 'pct' ? `${(100 * value).toFixed(1)}%` : value.toExponential(2);
}

export function summaryTable(s: RunSummary): string {
  const rows: Array<[string, string, string]> = [
    ['frames/s (after the first)', fmt(s.denseFps, 'fps'), fmt(s.deltaFps, 'fps')],
    [
      'speed-up (mean after the first)',
      '',
      s.denseFps && s.deltaFps ? `${(s.deltaFps / s.denseFps).toFixed(2)}x` : '-',
    ],
    ['median ms a frame (steady)', fmt(s.denseMedianMs, 'ms'), fmt(s.deltaMedianMs, 'ms')],
    [
      'speed-up (median frame)',
      '',
      s.denseMedianMs && s.deltaMedianMs ? `${(s.denseMedianMs / s.deltaMedianMs).toFixed(2)}x` : '-',
    ],
    ['mean input active pixels', '', fmt(s.meanInputActive, 'pct')],
    [
      s.denseTailLayers ? 'multiply-adds skipped (delta)' : 'mean multiply-adds skipped',
      '',
      fmt(s.meanMacsSkipped, 'pct'),
    ],
    ['max output deviation', '', fmt(s.maxDeviation, 'exp')],
  ];
  // What the skipped work would buy if a delta layer cost nothing else: the speed-up's bound (of the whole model's
  // work, so not with a dense tail, whose share is of the delta layers').
  if (s.meanMacsSkipped != null && s.denseTailLayers == null)
    rows.push(['ceiling (skipped work free)', '', `${speedupCeiling(s.meanMacsSkipped).toFixed(2)}x`]);
  if (s.denseTailLayers != null) rows.push(['layers run dense (tail)', '', `${s.denseTailLayers}`]);
  if (s.denseFoldedBatchNorms > 0) rows.push(['batch norms folded', `${s.denseFoldedBatchNorms}`, '']);
  if (s.denseFoldedActivations > 0) rows.push(['activation layers folded', `${s.denseFoldedActivations}`, '']);
  if (s.pck != null) rows.push(['PCK vs dense (2% diagonal)', '', fmt(s.pck, 'pct')]);
  if (s.meanTop1Agreement != null) rows.push(['top-1 agreement', '', fmt(s.meanTop1Agreement, 'pct')]);
  if (s.maxLogitRelError != null) rows.push(['max logit error (relative)', '', fmt(s.maxLogitRelError, 'exp')]);
  const lines = [
    `${''.padEnd(28)}${'dense'.padStart(10)}${'delta'.padStart(10)}`,
    ...rows.map(([name, a, b]) => `${name.padEnd(28)}${a.padStart(10)}${b.padStart(10)}`.trimEnd()),
  ];
  if (s.fallback) lines.push('', fallbackLine(s.fallback, s.maxDeviation != null, s.meanInputActive != null));
  return lines.join('\n');
}

/**
 * The measured fallback's verdict in a sentence (`compared`: the run measured deviation and agreement; `layerStats`:
 * the delta model gathered per-layer statistics, whose cost was in its times).
 */
export function fallbackLine(v: FallbackVerdict, compared: boolean, layerStats = false): string {
  const measured =
    `delta model measured at ${v.speedup.toFixed(2)}x dense over frames ${v.firstFrame}-${v.lastFrame} ` +
    `(median ${v.deltaMs.toFixed(2)} ms vs ${v.denseMs.toFixed(2)} ms)`;
  return v.kept
    ? `${measured}: kept`
    : `${measured}: it did not pay, so the dense model served the delta side from frame ${v.lastFrame + 1} on ` +
        '(--fallback-frames 0 keeps the delta model' +
        (layerStats ? '; its times include the per-layer statistics, which --no-layer-stats leaves out' : '') +
        ')' +
        (compared ? '; the deviation and agreement above are over the frames the delta model ran' : '');
}

export const DENSE_ABOVE_DEFAULT = 0.5;

/**
 * `run`'s default dense tail on `backend`. On 'cpu' none: its delta kernels outrun tfjs-backend-cpu's dense
 * convolutions even on layers nearly every pixel of which is active (a tail's), so a tail only costs (built-in clip, `run --compare`, 60 frames: 2.17x
 * dense with the tail, 6.85x without, the same PCK). On 'cuda' and 'tensorflow' a tail of the layers active above half
 * their pixels pays (docs/delta-kernels.md, docs/tensorflow-delta-convs.md).
 */
export function denseAboveFor(backend: string): number {
  return backend === 'cpu' ? 1 : DENSE_ABOVE_DEFAULT;
}

export async function runCommand(modelName: string, input: string, options: RunCommandOptions): Promise<RunSummary> {
  const info = probeVideo(input);
  const isPosenet = modelName === 'posenet';
  const model = isPosenet ? await posenet(await ensurePosenet()) : await tfl.loadLayersModel(nodeFileSystem(modelName));
  const fixed = model.inputs[0].shape;
  let [height, width] = [fixed[1], fixed[2]];
  if (options.size != null) {
    [height, width] = options.size.split('x').map(Number);
  } else if (isPosenet) {
    [height, width] = posenetInputSize(info.height, info.width);
  } else if (height == null || width == null) {
    const scale = Math.min(1, 384 / Math.max(info.width, info.height));
    [height, width] = [Math.round(info.height * scale), Math.round(info.width * scale)];
  }
  const range = (options.range ?? (isPosenet ? '-1,1' : '0,1')).split(',').map(Number) as [number, number];
  if (range.length !== 2 || range.some((v) => !Number.isFinite(v)))
    throw new Error(`--range must look like LO,HI, got '${options.range}'`);
  const mode: RunMode = options.compare ? 'compare' : options.delta ? 'delta' : 'dense';
  const compiled = (options.compile ?? true) && tf.getBackend() === 'cuda';
  const inputThreshold = options.inputThreshold ?? 2 * options.threshold;
  const denseAbove = options.denseAbove ?? denseAboveFor(tf.getBackend());
  console.log(
    `model: ${isPosenet ? 'PoseNet-MobileNetV1 (trained)' : modelName} at ${height}x${width}, ${mode}` +
      `${mode !== 'dense' ? `, threshold ${options.threshold} (input ${inputThreshold}, dilation ${options.dilation}), ${denseAbove < 1 ? `dense above ${denseAbove} active` : 'every layer delta'}${options.statePrecision === 'fp16' ? ', fp16 state' : ''}${options.fallbackFrames > 0 ? `, fallback to dense measured over ${options.fallbackFrames} frames` : ''}` : ''}${compiled ? `, compiled (CUDA graph per frame, ${options.precision ?? 'tf32'})` : ''}; ` +
      `input: ${input} (${info.width}x${info.height}, ${info.fps} fps, ~${info.frames} frames)`,
  );
  if (options.output != null) {
    const encoded = evenSize(info.width, info.height);
    if (encoded.width !== info.width || encoded.height !== info.height) {
      console.log(
        `note: ${info.width}x${info.height} is odd; 4:2:0 video needs even sizes, so the overlay video is ` +
          `${encoded.width}x${encoded.height} (the frames padded with one black column or row)`,
      );
    }
  }
  const interrupt = interruptible('the current frame');
  const total = Math.min(options.frames ?? Infinity, info.frames || Infinity);
  const bar = progressBar(
    mode === 'dense' ? 'running' : `running ${mode}`,
    'frames',
    Number.isFinite(total) ? total : 0,
  );
  try {
    const summary = await runModelOnVideo({
      input,
      model,
      mode,
      threshold: options.threshold,
      inputThreshold,
      dilation: options.dilation,
      denseAbove: denseAbove < 1 ? denseAbove : undefined,
      statePrecision: options.statePrecision,
      height,
      width,
      range,
      maxFrames: options.frames,
      output: options.output,
      statsFile: options.stats,
      layerStats: options.layerStats,
      compile: options.compile,
      foldBatchNorms: options.foldBatchNorms,
      precision: options.precision,
      fallback: options.fallbackFrames > 0 ? {frames: options.fallbackFrames} : undefined,
      onFrame: (r) => bar.update(r.frame + 1),
      shouldStop: interrupt.stopRequested,
    });
    bar.stop();
    console.log(`\n${summaryTable(summary)}`);
    if (summary.interrupted) process.exitCode = 130;
    if (options.output)
      console.log(`overlay video: ${options.output}${summary.interrupted ? ' (interrupted: shorter)' : ''}`);
    if (options.stats) console.log(`per-frame record: ${options.stats}`);
    return summary;
  } finally {
    bar.stop();
    interrupt.release();
    model.dispose();
  }
}
