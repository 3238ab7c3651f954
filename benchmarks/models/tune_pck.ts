/**
 * Per-layer thresholds tuned for pose fidelity, against thresholds shared by every layer, on frames the tuning never
 * saw. PoseNet-MobileNetV1 (trained) on vtest.avi at --size (default 289x385, `run`'s size for the built-in clip),
 * thresholds relative to each layer's activation scale (calibrated on the clip's first 8 frames), input test dilated
 * 7 x 7 (`run`'s default):
 *   - tuned: tuneThresholds from every threshold 0, the error of a frame 1 - PCK against the dense model (PCK as
 *     `run --compare`), the mean over the --tune frames from --offset held to --budget (aggregate 'mean');
 *   - shared: activation threshold t, input threshold 2t (the CLI's rule), for each t of --shared.
 * Each setting then runs the --holdout frames after the tuning frames as one stream: pooled PCK (confident dense
 * keypoints found / all of them) and the share of the delta layers' multiply-adds skipped (frames after the first).
 * PCK and the skipped share do not depend on the backend; the backend only sets how long it takes.
 *   node dist/benchmarks/models/tune_pck.js [--backend tensorflow] [--size 289x385] [--offset 100] [--tune 30]
 *        [--holdout 100] [--budget 0.01] [--shared 0.01,0.02,0.05,0.1] [--out benchmarks/results/tune_pck_posenet_<H>x<W>_budget_<budget>.json]
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import '../../src/index';
import {getDeltaStats, toDelta} from '../../src/delta/to_delta';
import {getThresholds, tuneThresholds} from '../../src/delta/thresholds';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';
import type {ThresholdMap} from '../../src/delta/thresholds';
import {posenet} from '../../src/models/posenet';
import {posenetJsonPath} from '../../src/io/cache';
import {posePck, posesOf} from '../../src/pipeline/fidelity';
import type {Pose} from '../../src/models/posenet_decode';
import {vtestRgb} from '../../data/vtest';
import {arg} from '../bench_util';

const CALIBRATION_FRAMES = 8;
const DILATION = 7;

interface Setting {
  name: string;
  thresholds: ThresholdMap | {threshold: number; inputThreshold: number};
  /** Held-out frames: pooled PCK, confident dense keypoints, skipped share of multiply-adds. */
  pck: number;
  keypoints: number;
  skippedShare: number;
}

async function main(): Promise<void> {
  const backend = arg('backend', 'tensorflow');
  if (backend === 'tensorflow') {
    loadTfjsNode();
  }
  await tf.setBackend(backend);
  const [H, W] = arg('size', '289x385').split('x').map(Number);
  const offset = Number(arg('offset', '100'));
  const tuneCount = Number(arg('tune', '30'));
  const holdoutCount = Number(arg('holdout', '100'));
  const budget = Number(arg('budget', '0.01'));
  const shared = arg('shared', '0.01,0.02,0.05,0.1').split(',').map(Number);
  const out = arg('out', path.join('benchmarks', 'results', `tune_pck_posenet_${H}x${W}_budget_${budget}.json`));
  if (![H, W, offset, tuneCount, holdoutCount].every((n) => Number.isInteger(n) && n > 0) || !(budget > 0))
    throw new Error('bad arguments: --size HxW, --offset, --tune, --holdout whole numbers > 0, --budget > 0');

  const rgb = vtestRgb(offset + tuneCount + holdoutCount, H, W);
  const frame = (i: number) =>
    tf.tidy(() =>
      tf.sub(tf.div(tf.tensor4d(rgb.subarray(i * H * W * 3, (i + 1) * H * W * 3), [1, H, W, 3], 'int32'), 127.5), 1),
    );
  const range = (from: number, n: number) => Array.from({length: n}, (_, i) => frame(from + i));
  const calibration = range(0, CALIBRATION_FRAMES);
  const tuneFrames = range(offset, tuneCount);
  const holdout = range(offset + tuneCount, holdoutCount);
  const model = await posenet(posenetJsonPath());
  const posesOfOutputs = (o: tf.Tensor | tf.Tensor[]) => posesOf(o as tf.Tensor[], H, W);
  const densePoses: Pose[][] = holdout.map((f) => {
    const o = model.predict(f) as tf.Tensor[];
    const poses = posesOfOutputs(o);
    tf.dispose(o);
    return poses;
  });

  const heldOut = (delta: tfl.LayersModel): Omit<Setting, 'name' | 'thresholds'> => {
    delta.resetStates();
    let correct = 0,
      total = 0,
      skipped = 0;
    holdout.forEach((f, i) => {
      const o = delta.predict(f) as tf.Tensor[];
      const r = posePck(densePoses[i], posesOfOutputs(o), H, W);
      tf.dispose(o);
      correct += r.correct;
      total += r.total;
      if (i > 0) skipped += getDeltaStats(delta).skippedShare / (holdout.length - 1);
    });
    return {pck: total > 0 ? correct / total : 1, keypoints: total, skippedShare: skipped};
  };
  const common = {
    thresholdScale: 'activation' as const,
    dilation: DILATION,
    stats: true,
    calibrationFrames: calibration,
  };
  const settings: Setting[] = [];
  const report = (s: Setting) => {
    settings.push(s);
    console.log(
      `  ${s.name.padEnd(26)} held-out PCK ${(100 * s.pck).toFixed(2)}% (${s.keypoints} keypoints), ` +
        `${(100 * s.skippedShare).toFixed(1)}% of multiply-adds skipped`,
    );
  };
  console.log(
    `tune_pck on ${backend}: PoseNet ${H}x${W}, vtest frames ${offset}-${offset + tuneCount - 1} tuned, ` +
      `${offset + tuneCount}-${offset + tuneCount + holdoutCount - 1} held out`,
  );
  for (const t of shared) {
    const delta = toDelta(model, {...common, threshold: t, inputThreshold: 2 * t});
    report({
      name: `shared ${t} (input ${2 * t})`,
      thresholds: {threshold: t, inputThreshold: 2 * t},
      ...heldOut(delta),
    });
    delta.dispose();
  }
  const delta = toDelta(model, {...common, threshold: 0});
  const t0 = Date.now();
  const tuned = tuneThresholds(delta, tuneFrames, {
    errorBudget: budget,
    aggregate: 'mean',
    initial: 0.01,
    step: 2,
    maxSteps: 6,
    error: (dense, got) => {
      const r = posePck(posesOfOutputs(dense), posesOfOutputs(got), H, W);
      return r.total > 0 ? 1 - r.correct / r.total : 0;
    },
  });
  const tuneSeconds = (Date.now() - t0) / 1000;
  console.log(
    `  tuned in ${tuneSeconds.toFixed(0)} s (${tuned.evaluations} runs): tuning frames PCK ` +
      `${(100 * (1 - tuned.error)).toFixed(2)}% (mean per frame), ${(100 * tuned.skippedShare).toFixed(1)}% skipped`,
  );
  report({name: `tuned per layer (budget ${budget})`, thresholds: getThresholds(delta), ...heldOut(delta)});
  delta.dispose();

  tf.dispose([calibration, tuneFrames, holdout].flat());
  model.dispose();
  fs.mkdirSync(path.dirname(out), {recursive: true});
  const result = {
    benchmark: 'tune_pck',
    backend,
    date: new Date().toISOString(),
    command: `node dist/benchmarks/models/tune_pck.js ${process.argv.slice(2).join(' ')}`.trim(),
    model: 'posenet_mobilenet_v1 (trained)',
    video: 'vtest.avi (Debian opencv-doc), area-scaled',
    size: [H, W],
    frames: {
      calibration: [0, CALIBRATION_FRAMES],
      tune: [offset, offset + tuneCount],
      holdout: [offset + tuneCount, offset + tuneCount + holdoutCount],
    },
    dilation: DILATION,
    tuning: {
      budget,
      aggregate: 'mean',
      error: '1 - PCK per frame',
      seconds: tuneSeconds,
      evaluations: tuned.evaluations,
      tuningFramesError: tuned.error,
      tuningFramesSkippedShare: tuned.skippedShare,
    },
    settings,
  };
  fs.writeFileSync(out, JSON.stringify(result, null, 1));
  console.log(`results: ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
