/**
 * nsfwjs's Keras MobileNetV2 as a delta model on real static-camera video (vtest.avi): for each
 * threshold, the active-pixel fraction of every delta layer, the share of multiply-adds a delta
 * kernel can skip, and the output error against the dense model, frame by frame.
 *
 *   npm run build && node dist/benchmarks/models/mobilenet_vtest.js [--frames 300] [--size 96x128]
 *        [--thresholds 0.02,0.05] [--backend tensorflow|cpu] [--out benchmarks/results/mobilenet_vtest.json]
 *
 * Needs vtest.avi and ffmpeg (scripts/fetch-test-data.sh). Every truncating layer (the input and
 * each ReLU6) gets the same threshold; frames are RGB in [0, 1]. Errors are max |delta - dense| /
 * max |dense| over the 5 class probabilities. Activity and skipped work are means over frames
 * 1..N-1 (frame 0 is dense by definition). Timings are informational: the 'cpu' and
 * 'tensorflow' delta kernels are references, not the GPU kernels.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';

import {getDeltaStats, toDelta} from '../../src/index';
import {loadNsfwMobileNetV2, relativeError} from '../../data/models';
import {videoUnavailable, VTEST, vtestFrame} from '../../data/vtest';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

interface Args {
  frames: number;
  height: number;
  width: number;
  thresholds: number[];
  backend: string | null;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    frames: 300,
    height: 96,
    width: 128,
    thresholds: [0.02, 0.05],
    backend: null,
    out: path.join('benchmarks', 'results', 'mobilenet_vtest.json'),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--frames') args.frames = Number(value);
    else if (flag === '--size') [args.height, args.width] = value.split('x').map(Number);
    else if (flag === '--thresholds') args.thresholds = value.split(',').map(Number);
    else if (flag === '--backend') args.backend = value;
    else if (flag === '--out') args.out = value;
    else throw new Error(`unknown argument ${flag}`);
  }
  if (!(args.frames >= 2) || !(args.height > 0) || !(args.width > 0) || args.thresholds.some((t) => !(t >= 0))) {
    throw new Error(`bad arguments: ${JSON.stringify(args)}`);
  }
  return args;
}

async function chooseBackend(wanted: string | null): Promise<string> {
  if (wanted !== 'cpu') {
    try {
      loadTfjsNode();
    } catch (e) {
      if (wanted === 'tensorflow') throw e;
    }
  }
  const name = wanted ?? (tf.findBackend('tensorflow') != null ? 'tensorflow' : 'cpu');
  await tf.setBackend(name);
  return name;
}

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const missing = videoUnavailable();
  if (missing != null) throw new Error(missing);
  const backend = await chooseBackend(args.backend);
  const dense = await loadNsfwMobileNetV2(args.height, args.width);
  const runs = [];
  for (const threshold of args.thresholds) {
    const delta = toDelta(dense, {threshold, stats: true});
    const errors: number[] = [];
    const drift: number[] = [];
    const skipped: number[] = [];
    let previous: tf.Tensor | null = null;
    const active = new Map<string, {className: string; macs: number; sum: number}>();
    let denseMs = 0;
    let deltaMs = 0;
    for (let t = 0; t < args.frames; t++) {
      const frame = vtestFrame(t, args.height, args.width);
      let start = Date.now();
      const want = dense.predict(frame) as tf.Tensor;
      want.dataSync();
      denseMs += Date.now() - start;
      start = Date.now();
      const got = delta.predictOnBatch(frame) as tf.Tensor;
      got.dataSync();
      deltaMs += Date.now() - start;
      errors.push(relativeError(got, want));
      if (previous != null) drift.push(relativeError(previous, want));
      const stats = getDeltaStats(delta);
      if (t > 0) {
        skipped.push(stats.skippedShare);
        for (const layer of stats.layers) {
          const entry = active.get(layer.name) ?? {className: layer.className, macs: layer.macs, sum: 0};
          entry.sum += layer.activeFraction;
          active.set(layer.name, entry);
        }
      }
      tf.dispose([frame, got, previous ?? []]);
      previous = want;
    }
    previous?.dispose();
    const window = Math.min(30, Math.floor(args.frames / 3));
    runs.push({
      threshold,
      error: {
        mean: mean(errors),
        max: Math.max(...errors),
        maxFirst: Math.max(...errors.slice(0, window)),
        maxLast: Math.max(...errors.slice(-window)),
        window,
        perFrame: errors,
      },
      /** For scale: how much the dense output itself changes from one frame to the next (same metric). */
      denseFrameToFrame: {mean: mean(drift), max: Math.max(...drift)},
      skippedMacShare: mean(skipped),
      msPerFrame: {dense: denseMs / args.frames, delta: deltaMs / args.frames},
      layers: [...active].map(([name, e]) => ({
        name,
        className: e.className,
        activeFraction: e.sum / (args.frames - 1),
        macs: e.macs,
      })),
    });
    const last = runs[runs.length - 1];
    console.log(
      `threshold ${threshold}: error mean ${last.error.mean.toExponential(2)} max ${last.error.max.toExponential(2)}, ` +
        `input active ${(last.layers[0].activeFraction * 100).toFixed(1)}%, MACs skipped ${(last.skippedMacShare * 100).toFixed(1)}%`,
    );
    delta.dispose();
  }
  const result = {
    model: 'nsfwjs 4.4.0 mobilenet_v2 (Keras MobileNetV2, 5 classes), pool resized to the frame',
    video: `${path.basename(VTEST)} (opencv-doc), first ${args.frames} frames, scaled to ${args.width}x${args.height} RGB [0,1]`,
    backend,
    tfjs: tf.version_core,
    node: process.version,
    date: new Date().toISOString(),
    runs,
  };
  fs.mkdirSync(path.dirname(args.out), {recursive: true});
  fs.writeFileSync(args.out, JSON.stringify(result, null, 1) + '\n');
  console.log(`wrote ${args.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
