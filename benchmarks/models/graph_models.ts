/**
 * The held-out graph models (data/graph_models.ts: MoveNet Lightning, BlazeFace, selfie segmentation;
 * scripts/fetch-graph-models.sh) converted by fromGraphModel and made delta models by toDelta, on vtest.avi
 * at the sizes the models expect, on 'cpu' and (where tfjs-node loads) 'tensorflow':
 *   npm run build && node dist/benchmarks/models/graph_models.js [--frames 30] [--cpu-frames 6] [--out file.json]
 * Per model and backend: dense and delta (threshold 0) run back to back on each frame (interleaved, so both
 * see the same machine load), each timed to the end of reading every output; ratio = dense median ms /
 * delta median ms; the worst error of the threshold-0 stream against dense (exactness). Then thresholds
 * tuned by tuneThresholds (relative to activation scales, 8 calibration frames, shared threshold, budget 5%)
 * on 10 frames: error on 10 held-out frames, the task agreement there (data/graph_models.ts), MACs skipped,
 * and dense vs delta time at that threshold.
 * Writes benchmarks/results/graph_models_cpu-<cores>core.json.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {fromGraphModel, toDelta, tuneThresholds} from '../../src/index';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {
  graphModelUnavailable,
  HELD_OUT_GRAPH_MODELS,
  HeldOutGraphModel,
  loadHeldOutGraph,
  worstRelativeError,
} from '../../data/graph_models';
import {frameTensor, vtestRgb} from '../../data/vtest';
import {arg, median} from '../bench_util';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

const asList = (out: tf.Tensor | tf.Tensor[]): tf.Tensor[] => (Array.isArray(out) ? out : [out]);

async function timed(model: tfl.LayersModel, x: tf.Tensor, stream: boolean): Promise<{ms: number; out: tf.Tensor[]}> {
  const t0 = performance.now();
  const out = asList((stream ? model.predictOnBatch(x) : model.predict(x)) as tf.Tensor | tf.Tensor[]);
  await Promise.all(out.map((t) => t.data()));
  return {ms: performance.now() - t0, out};
}

/** Dense vs delta over `frames` (from a reset stream): median times and the worst error. */
async function race(dense: tfl.LayersModel, delta: tfl.LayersModel, frames: tf.Tensor[]) {
  delta.resetStates();
  const [denseMs, deltaMs] = [[] as number[], [] as number[]];
  let worst = 0;
  for (const [t, x] of frames.entries()) {
    const d = await timed(dense, x, false);
    const e = await timed(delta, x, true);
    // The first frame of a stream is dense work: leave it out of the times.
    if (t > 0) [denseMs, deltaMs].forEach((list, i) => list.push([d.ms, e.ms][i]));
    worst = Math.max(worst, worstRelativeError(e.out, d.out));
    tf.dispose([...d.out, ...e.out]);
  }
  return {
    denseMs: median(denseMs),
    deltaMs: median(deltaMs),
    ratio: median(denseMs) / median(deltaMs),
    worstError: worst,
  };
}

async function benchModel(spec: HeldOutGraphModel, backend: string, count: number) {
  const [h, w] = spec.size;
  const rgb = vtestRgb(count + 28, h, w);
  const frame = (i: number) => frameTensor(rgb, i, h, w, spec.range[0], spec.range[1]);
  const graph = await loadHeldOutGraph(spec);
  const dense = fromGraphModel(graph, {outputs: spec.outputs});
  const exact = toDelta(graph, {threshold: 0, graph: {outputs: spec.outputs}});
  const frames = Array.from({length: count}, (_, i) => frame(i));
  const extra = Array.from({length: 28}, (_, i) => frame(count + i));
  try {
    // Warm up both (kernel set-up, first-call costs).
    for (const m of [dense, exact]) tf.dispose(asList(m.predict(frames[0]) as tf.Tensor[]));
    const t0 = await race(dense, exact, frames);
    const tuned = toDelta(graph, {
      threshold: 0.01,
      thresholdScale: 'activation',
      calibrationFrames: extra.slice(0, 8),
      graph: {outputs: spec.outputs},
    });
    const result = tuneThresholds(
      tuned,
      {tuneFrames: extra.slice(8, 18), holdoutFrames: extra.slice(18)},
      {errorBudget: 0.05, perLayer: false, maxSteps: 5},
    );
    tuned.resetStates();
    let agreement = 1;
    let task = '';
    for (const x of extra.slice(18)) {
      const [d, e] = [asList(dense.predict(x) as tf.Tensor[]), asList(tuned.predictOnBatch(x) as tf.Tensor[])];
      const a = spec.task(d, e);
      [task, agreement] = [a.name, Math.min(agreement, a.value)];
      tf.dispose([...d, ...e]);
    }
    const atThreshold = await race(dense, tuned, frames);
    tuned.dispose();
    const row = {
      model: spec.name,
      backend,
      frames: count,
      size: `${h}x${w}`,
      threshold0: {
        denseMs: +t0.denseMs.toFixed(1),
        deltaMs: +t0.deltaMs.toFixed(1),
        ratio: +t0.ratio.toFixed(3),
        worstError: t0.worstError,
      },
      tuned: {
        threshold: Math.max(...Object.values(result.thresholds)),
        tuneError: +result.error.toFixed(4),
        holdoutError: +result.holdoutError!.toFixed(4),
        holdoutMeanError: +result.holdoutMeanError!.toFixed(4),
        holdoutSkippedShare: +result.holdoutSkippedShare!.toFixed(4),
        task,
        taskAgreement: +agreement.toFixed(4),
        denseMs: +atThreshold.denseMs.toFixed(1),
        deltaMs: +atThreshold.deltaMs.toFixed(1),
        ratio: +atThreshold.ratio.toFixed(3),
      },
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    tf.dispose([...frames, ...extra]);
    dense.dispose();
    exact.dispose();
    graph.dispose();
  }
}

async function main() {
  const frames = Number(arg('frames', '30'));
  const cpuFrames = Number(arg('cpu-frames', '6'));
  const backends = ['cpu'];
  try {
    loadTfjsNode();
    backends.push('tensorflow');
  } catch (e) {
    console.log(
      `'tensorflow' not measured: @tensorflow/tfjs-node does not load (${(e as Error).message.split('\n')[0]})`,
    );
  }
  const rows = [];
  for (const backend of backends) {
    await tf.setBackend(backend);
    for (const spec of HELD_OUT_GRAPH_MODELS) {
      const why = graphModelUnavailable(spec);
      if (why != null) {
        console.log(`${spec.name}: skipped (${why})`);
        continue;
      }
      rows.push(await benchModel(spec, backend, backend === 'cpu' ? cpuFrames : frames));
    }
  }
  const out =
    arg('out', '') || path.join(PACKAGE_ROOT, 'benchmarks', 'results', `graph_models_cpu-${os.cpus().length}core.json`);
  const load = os.loadavg().map((l) => +l.toFixed(2));
  fs.writeFileSync(
    out,
    JSON.stringify({date: new Date().toISOString(), cores: os.cpus().length, loadAverage: load, rows}, null, 2) + '\n',
  );
  console.log(`wrote ${out} (load average ${load.join(', ')}: the machine is shared, times are noisy)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
