/**
 * `tfjs-delta bench`: dense vs delta on a built-in clip over a range of thresholds. Prints a table
 * (frames/s, speed-up, multiply-adds skipped, output deviation, and fidelity to dense: PCK of the decoded poses
 * for PoseNet, top-1 agreement for classifiers), writes the
 * numbers as JSON and a PNG plot (speed vs threshold; per-layer active fraction per threshold).
 */
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {foldedReference, getDeltaStats, setDeltaStats, toDelta} from '../delta/to_delta';
import type {InputTest} from '../delta/to_delta';
import {posenet} from '../models/posenet';
import {nodeFileSystem} from '../io/node_file_system';
import {posenetInputSize} from '../models/posenet_decode';
import type {Pose} from '../models/posenet_decode';
import {classifierAgreement, isClassifierOutput, isPosenetOutputs, posePck, posesOf} from '../pipeline/fidelity';
import {probeVideo, readFrames} from '../pipeline/ffmpeg';
import {renderVegaLitePng} from '../pipeline/chart';
import {progressBar} from './progress';
import {ensurePosenet} from './run';

export interface BenchOptions {
  frames: number;
  thresholds: number[];
  /** Each threshold with each input test; null: the threshold itself at the input, no dilation. Default [null]. */
  inputTests?: Array<InputTest | null>;
  /**
   * Amplitudes of uniform noise (in the model's input units) to score the dense model under, against itself: how
   * far its outputs move when every pixel moves imperceptibly, i.e. how strict a fidelity bar is for this model.
   */
  noise?: number[];
  output: string;
}

interface BenchRow {
  threshold: number | null; // null: dense
  /** The input change test (absent: the threshold itself, no dilation). */
  input?: InputTest;
  fps: number;
  macsSkipped?: number;
  deviation?: number;
  /** PoseNet: PCK of delta vs dense keypoints (2% of the diagonal, dense score > 0.5), over all frames. */
  pck?: number;
  /** Classifiers: share of frames with the same top-1 class, and the largest relative logit error. */
  top1Agreement?: number;
  logitRelError?: number;
  layers?: Array<{name: string; activeFraction: number}>;
}

/** The dense model on frames plus uniform noise, scored against itself on the frames. */
interface NoiseRow {
  amplitude: number;
  deviation: number;
  pck?: number;
  top1Agreement?: number;
  logitRelError?: number;
}

/**
 * Deviation (max |y - dense| / max |dense| over frames) and the task's fidelity (PCK for PoseNet, top-1 agreement and
 * logit error for a classifier) of one pass's outputs against the dense model's, added frame by frame.
 */
function fidelityTracker(
  dense: tf.Tensor[][],
  kind: {pose: boolean; classifier: boolean; height: number; width: number},
) {
  const densePoses: Pose[][] = kind.pose ? dense.map((o) => posesOf(o, kind.height, kind.width)) : [];
  let [deviation, agreement, logitError, pckCorrect, pckTotal, frames] = [0, 0, 0, 0, 0, 0];
  return {
    add(i: number, first: tf.Tensor, all: tf.Tensor[]): void {
      const ref = dense[i][0];
      deviation = Math.max(
        deviation,
        tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(first, ref))), tf.maximum(tf.max(tf.abs(ref)), 1e-12)).dataSync()[0]),
      );
      if (kind.pose) {
        const r = posePck(densePoses[i], posesOf(all, kind.height, kind.width), kind.height, kind.width);
        [pckCorrect, pckTotal] = [pckCorrect + r.correct, pckTotal + r.total];
      } else if (kind.classifier) {
        const r = classifierAgreement(ref.dataSync(), first.dataSync(), ref.shape[1]!);
        agreement += r.top1Agreement;
        logitError = Math.max(logitError, r.maxRelError);
      }
      frames++;
    },
    result(): {deviation: number; pck?: number; top1Agreement?: number; logitRelError?: number} {
      return {
        deviation,
        pck: kind.pose && pckTotal > 0 ? pckCorrect / pckTotal : undefined,
        top1Agreement: kind.classifier ? agreement / Math.max(frames, 1) : undefined,
        logitRelError: kind.classifier ? logitError : undefined,
      };
    },
  };
}

function firstOutput(result: tf.Tensor | tf.Tensor[]): {first: tf.Tensor; all: tf.Tensor[]} {
  const all = Array.isArray(result) ? result : [result];
  return {first: all[0], all};
}

async function timedPass(
  model: tfl.LayersModel,
  frames: tf.Tensor[],
  keep: boolean,
): Promise<{ms: number[]; outputs: tf.Tensor[][]}> {
  const ms: number[] = [];
  const outputs: tf.Tensor[][] = [];
  for (const x of frames) {
    const t0 = performance.now();
    const {all} = firstOutput(model.predict(x) as tf.Tensor | tf.Tensor[]);
    await Promise.all(all.map((o) => o.data()));
    ms.push(performance.now() - t0);
    if (keep) outputs.push(all);
    else tf.dispose(all);
  }
  return {ms, outputs};
}

const fpsOf = (ms: number[]) => 1000 / (ms.slice(1).reduce((a, b) => a + b, 0) / Math.max(ms.length - 1, 1));

/** How a row's input test reads in the table and the plot. */
const inputLabel = (input?: InputTest) => (input == null ? 'same' : `${input.threshold}x${input.dilation}`);

async function plot(rows: BenchRow[], file: string): Promise<void> {
  const dense = rows.find((r) => r.threshold == null)!;
  const delta = rows.filter((r) => r.threshold != null);
  const several = new Set(delta.map((r) => inputLabel(r.input))).size > 1;
  const seriesOf = (r: BenchRow) => (several ? `delta, input ${inputLabel(r.input)}` : 'delta');
  const speed = delta
    .map((r) => ({threshold: r.threshold, series: seriesOf(r), fps: r.fps}))
    .concat(delta.map((r) => ({threshold: r.threshold, series: 'dense', fps: dense.fps})));
  const layers = delta.flatMap((r) =>
    (r.layers ?? []).map((l, i) => ({
      layer: i,
      name: l.name,
      threshold: several ? `${r.threshold}, input ${inputLabel(r.input)}` : String(r.threshold),
      active: l.activeFraction,
    })),
  );
  const spec = {
    resolve: {scale: {color: 'independent'}},
    hconcat: [
      {
        title: 'frames/s vs threshold',
        width: 320,
        height: 240,
        data: {values: speed},
        mark: {type: 'line', point: true},
        encoding: {
          x: {field: 'threshold', type: 'quantitative'},
          y: {field: 'fps', type: 'quantitative', title: 'frames/s'},
          color: {field: 'series', type: 'nominal'},
        },
      },
      {
        title: 'active fraction per layer',
        width: 420,
        height: 240,
        data: {values: layers},
        mark: 'line',
        encoding: {
          x: {field: 'layer', type: 'quantitative', title: 'delta layer (input to output)'},
          y: {field: 'active', type: 'quantitative', title: 'active pixels', axis: {format: '%'}},
          color: {field: 'threshold', type: 'nominal'},
        },
      },
    ],
  };
  await renderVegaLitePng(spec, file);
}

export async function benchCommand(modelName: string, input: string, options: BenchOptions): Promise<BenchRow[]> {
  const info = probeVideo(input);
  const isPosenet = modelName === 'posenet';
  const model = isPosenet ? await posenet(await ensurePosenet()) : await tfl.loadLayersModel(nodeFileSystem(modelName));
  const scale = Math.min(1, 384 / Math.max(info.width, info.height));
  const [h, w] = isPosenet
    ? posenetInputSize(info.height, info.width)
    : [Math.round(info.height * scale), Math.round(info.width * scale)];
  const [lo, hi] = isPosenet ? [-1, 1] : [0, 1];
  const frames: tf.Tensor[] = [];
  for await (const f of readFrames(input, {width: w, height: h, maxFrames: options.frames})) {
    frames.push(tf.tidy(() => tf.add(tf.mul(tf.tensor4d(f, [1, h, w, 3], 'int32'), (hi - lo) / 255), lo)));
  }
  // The dense reference runs its batch norms and activations folded, as the delta models do (run does the same).
  const reference = foldedReference(model);
  const denseModel = reference.model;
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const folded = [
    ...(reference.batchNorms > 0 ? [plural(reference.batchNorms, 'batch norm')] : []),
    ...(reference.activations > 0 ? [plural(reference.activations, 'activation layer')] : []),
  ];
  console.log(
    `bench: ${isPosenet ? 'PoseNet-MobileNetV1' : modelName} at ${h}x${w}, ${frames.length} frames of ${input}, ` +
      `backend '${tf.getBackend()}'${folded.length > 0 ? `; dense with its ${folded.join(' and ')} folded` : ''}`,
  );
  const bar = progressBar(
    'benchmarking',
    'passes',
    1 + 2 * options.thresholds.length * (options.inputTests ?? [null]).length,
  );
  // (noise passes are not counted: they run right after the dense pass, one predict a frame each)
  const rows: BenchRow[] = [];
  const noiseRows: NoiseRow[] = [];
  try {
    const dense = await timedPass(denseModel, frames, true);
    rows.push({threshold: null, fps: fpsOf(dense.ms)});
    const kind = {
      pose: isPosenetOutputs(dense.outputs[0]),
      classifier: isClassifierOutput(dense.outputs[0]),
      height: h,
      width: w,
    };
    bar.update(1);
    for (const amplitude of options.noise ?? []) {
      const tracker = fidelityTracker(dense.outputs, kind);
      for (const [i, x] of frames.entries()) {
        const noisy = tf.tidy(() => tf.add(x, tf.randomUniform(x.shape, -amplitude, amplitude, 'float32', i + 1)));
        const {first, all} = firstOutput(denseModel.predict(noisy) as tf.Tensor | tf.Tensor[]);
        tracker.add(i, first, all);
        tf.dispose([noisy, ...all]);
      }
      noiseRows.push({amplitude, ...tracker.result()});
    }
    const variants = options.thresholds.flatMap((threshold) =>
      (options.inputTests ?? [null]).map((input) => ({threshold, input: input ?? undefined})),
    );
    for (const [k, {threshold, input}] of variants.entries()) {
      const delta = toDelta(model, {threshold, inputThreshold: input?.threshold, dilation: input?.dilation});
      // Timing pass without statistics (they read masks back), then a pass that records them.
      const timing = await timedPass(delta, frames, false);
      bar.update(2 + 2 * k);
      delta.resetStates();
      setDeltaStats(delta, true);
      const layerSums = new Map<string, number>();
      let skipped = 0;
      const tracker = fidelityTracker(dense.outputs, kind);
      for (const [i, x] of frames.entries()) {
        const {first, all} = firstOutput(delta.predict(x) as tf.Tensor | tf.Tensor[]);
        const stats = getDeltaStats(delta);
        if (i > 0) {
          skipped += stats.skippedShare;
          for (const l of stats.layers) layerSums.set(l.name, (layerSums.get(l.name) ?? 0) + l.activeFraction);
        }
        tracker.add(i, first, all);
        tf.dispose(all);
      }
      const n = Math.max(frames.length - 1, 1);
      rows.push({
        threshold,
        input,
        fps: fpsOf(timing.ms),
        macsSkipped: skipped / n,
        ...tracker.result(),
        layers: [...layerSums].map(([name, sum]) => ({name, activeFraction: sum / n})),
      });
      delta.dispose();
      bar.update(3 + 2 * k);
    }
    tf.dispose(dense.outputs.flat());
  } finally {
    bar.stop();
    tf.dispose(frames);
    if (denseModel !== model) denseModel.dispose();
    model.dispose();
  }
  const denseFps = rows[0].fps;
  const pct = (v?: number) => (v == null ? '-' : `${(100 * v).toFixed(1)}%`);
  console.log(
    `\n${'threshold'.padEnd(10)}${'input'.padEnd(10)}${'frames/s'.padStart(10)}${'speed-up'.padStart(10)}` +
      `${'MACs skipped'.padStart(14)}${'deviation'.padStart(11)}${'PCK / top-1'.padStart(14)}`,
  );
  for (const r of rows) {
    console.log(
      `${(r.threshold == null ? 'dense' : String(r.threshold)).padEnd(10)}` +
        `${(r.threshold == null ? '' : inputLabel(r.input)).padEnd(10)}${r.fps.toFixed(2).padStart(10)}` +
        `${`${(r.fps / denseFps).toFixed(2)}x`.padStart(10)}${pct(r.macsSkipped).padStart(14)}` +
        `${(r.deviation == null ? '-' : r.deviation.toExponential(2)).padStart(11)}${pct(r.pck ?? r.top1Agreement).padStart(14)}`,
    );
  }
  for (const r of noiseRows) {
    console.log(
      `${`dense + noise +-${r.amplitude}`.padEnd(54)}${r.deviation.toExponential(2).padStart(11)}` +
        `${pct(r.pck ?? r.top1Agreement).padStart(14)}`,
    );
  }
  if (noiseRows.length > 0) {
    console.log(
      'noise rows: the dense model on each frame plus uniform noise (input units), against itself on the frame: how ' +
        'far its outputs move when every pixel moves imperceptibly, a measure of how strict the fidelity bar is',
    );
  }
  fs.writeFileSync(
    `${options.output}.json`,
    JSON.stringify(
      {model: modelName, input, backend: tf.getBackend(), size: [h, w], frames: frames.length, rows, noise: noiseRows},
      null,
      1,
    ),
  );
  await plot(rows, `${options.output}.png`);
  console.log(`\nwrote ${options.output}.json and ${options.output}.png`);
  return rows;
}
