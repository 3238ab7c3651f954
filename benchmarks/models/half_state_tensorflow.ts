/**
 * What half-precision delta state would cost in fidelity, emulated on tfjs-node before any kernel stores it: after
 * every sparseAccumulate (the delta activations and the output densify), the state it returns is rounded to IEEE
 * half (round to nearest even) in one of these ways, and the model runs on:
 *   - float32: as the kernels store it now (the reference of the same run);
 *   - half: A and R rounded, the emitted delta as the kernel computed it from the float32 values;
 *   - half, remainder in R: A rounded, and R takes A's rounding error (R' = half(R' + A' - half(A'))), so that A + R,
 *     the sum of the deltas seen, keeps what A alone loses; the emitted delta as computed;
 *   - half, emitted from the stored A: as the last, and the emitted delta recomputed at the flushed pixels as
 *     f(stored new A) - f(stored old A), so that the emitted deltas telescope to f of what is stored;
 *   - the same, deltas too: the emitted delta rounded to half as well (a half delta between layers).
 * Two runs per way, PoseNet-MobileNetV1 (trained) at 289x385 as `run` makes it: the built-in clip at run's defaults
 * (threshold 0.05, input 0.1 x 7, dense tail above 0.5; PCK against dense, as `run --compare`), and the exact model
 * (every threshold 0) over 200 frames of vtest.avi, where float32 state equals dense and any drift is the half's:
 *   npm run build && node dist/benchmarks/models/half_state_tensorflow.js [--frames 200] [--video vtest.avi]
 *        [--ways 0,1,2,3,4] [--runs defaults,exact] [--verbose]
 * Writes benchmarks/results/half_state_tensorflow_cpu-<cores>core.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelBackend, KernelConfig, KernelFunc, Tensor, TensorInfo} from '@tensorflow/tfjs-core';
import * as os from 'os';
import * as path from 'path';

import '../../src/index';
import {getMask, withMask} from '../../src/index';
import {ensurePosenet} from '../../src/io/cache';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {posenet} from '../../src/models/posenet';
import {scalarActivation} from '../../src/kernels/activations';
import {roundToHalf} from '../../src/kernels/half';
import {SparseAccumulate, SparseAccumulateAttrs} from '../../src/ops/kernel_names';
import {runModelOnVideo} from '../../src/pipeline/run_model';
import {arg, runMain, writeResults} from '../bench_util';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

type Way =
  | 'float32'
  | 'half'
  | 'half, remainder in R'
  | 'half, emitted from the stored A'
  | 'half, emitted from the stored A, deltas too';
const WAYS: Way[] = [
  'float32',
  'half',
  'half, remainder in R',
  'half, emitted from the stored A',
  'half, emitted from the stored A, deltas too',
];

/** Wraps the 'tensorflow' SparseAccumulate kernel so that its outputs are stored as `way` says; returns the undo. */
function storeAs(way: Way): () => void {
  const config = tf.getKernel(SparseAccumulate, 'tensorflow') as KernelConfig;
  const kernelFunc = config.kernelFunc;
  if (way === 'float32') return () => {};
  const wrapped: KernelFunc = (args) => {
    const backend = args.backend as KernelBackend;
    const {activation, alpha} = args.attrs as unknown as SparseAccumulateAttrs;
    const accumulated = (args.inputs as {accumulated: TensorInfo}).accumulated;
    const emitsFromStored = way.startsWith('half, emitted from the stored A');
    // The state before the call, for f(stored old): copied, in case a kernel updates its state in place.
    const old = emitsFromStored ? Float32Array.from(backend.readSync(accumulated.dataId) as Float32Array) : null;
    const [d, a, r] = kernelFunc(args) as TensorInfo[];
    const av = backend.readSync(a.dataId) as Float32Array;
    const rv = backend.readSync(r.dataId) as Float32Array;
    const an = roundToHalf(av);
    let rn: Float32Array;
    if (way === 'half') {
      rn = roundToHalf(rv);
    } else {
      const kept = new Float32Array(rv.length);
      for (let i = 0; i < rv.length; i++) kept[i] = rv[i] + (av[i] - an[i]);
      rn = roundToHalf(kept);
    }
    const written = (t: TensorInfo, values: Float32Array): TensorInfo => ({
      dataId: backend.write(values, t.shape, 'float32'),
      shape: t.shape,
      dtype: 'float32',
    });
    const out = [d, written(a, an), written(r, rn)];
    backend.disposeData(a.dataId);
    backend.disposeData(r.dataId);
    if (old != null) {
      // f(new) - f(old) of the values stored, at the flushed pixels, so that the emitted deltas telescope to f(A).
      const delta = tf.engine().makeTensorFromTensorInfo(d, backend);
      const mask = getMask(delta);
      const flags = mask?.dataSync();
      const f = scalarActivation(activation, alpha);
      const channels = d.shape[d.shape.length - 1];
      let emitted: Float32Array = new Float32Array(an.length);
      for (let i = 0; i < an.length; i++) {
        if (flags == null || flags[Math.floor(i / channels)]) emitted[i] = f(an[i]) - f(old[i]);
      }
      if (way.endsWith('deltas too')) emitted = roundToHalf(emitted);
      const values = tf.tensor(emitted, d.shape);
      const result: Tensor = mask == null ? values : withMask(values, mask);
      tf.dispose([delta, mask ?? [], ...(result === values ? [] : [values])]); // `delta` held the kernel's own delta
      out[0] = result; // a Tensor: the engine hands it on as it is
    }
    return out;
  };
  config.kernelFunc = wrapped;
  return () => {
    config.kernelFunc = kernelFunc;
  };
}

async function main() {
  loadTfjsNode();
  await tf.setBackend('tensorflow');
  const frames = Number(arg('frames', '200'));
  const video = arg('video', process.env.TFJS_DELTA_VTEST ?? '/usr/share/doc/opencv-doc/examples/data/vtest.avi');
  const clip = path.join(PACKAGE_ROOT, 'assets', 'pedestrians.mp4');
  const model = await posenet(await ensurePosenet());
  const rows: unknown[] = [];
  const ways =
    arg('ways', '').length > 0
      ? arg('ways', '')
          .split(',')
          .map((i) => WAYS[Number(i)])
      : WAYS;
  const runs = arg('runs', 'defaults,exact').split(',') as Array<'defaults' | 'exact'>;
  for (const way of ways) {
    for (const run of runs) {
      const exact = run === 'exact';
      const deviation: number[] = [];
      const undo = storeAs(way);
      const t0 = Date.now();
      try {
        const summary = await runModelOnVideo({
          input: exact ? video : clip,
          model,
          mode: 'compare',
          threshold: exact ? 0 : 0.05,
          inputThreshold: exact ? 0 : 0.1,
          dilation: 7,
          denseAbove: exact ? undefined : 0.5,
          height: 289,
          width: 385,
          range: [-1, 1],
          maxFrames: exact ? frames : 60,
          layerStats: false,
          onFrame: (r) => {
            deviation.push(r.deviation ?? 0);
          },
        });
        const worst = (from: number, to: number) => Math.max(0, ...deviation.slice(from, to));
        if (process.argv.includes('--verbose')) console.log(deviation.map((v) => v.toExponential(1)).join(' '));
        const row = {
          way,
          run: exact ? `exact, ${path.basename(video)}, ${deviation.length} frames` : 'defaults, built-in clip',
          pck: summary.pck,
          maxDeviation: {
            frames0to19: worst(0, 20),
            frames20to59: worst(20, 60),
            frames60on: deviation.length > 60 ? worst(60, deviation.length) : undefined,
          },
        };
        rows.push(row);
        console.log(
          `${way.padEnd(34)} ${row.run.padEnd(32)} PCK ${(100 * (summary.pck ?? NaN)).toFixed(1)}%, max deviation ` +
            `frames 0-19 ${row.maxDeviation.frames0to19.toExponential(2)}, 20-59 ` +
            `${row.maxDeviation.frames20to59.toExponential(2)}` +
            (row.maxDeviation.frames60on != null ? `, 60 on ${row.maxDeviation.frames60on.toExponential(2)}` : '') +
            ` (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
        );
      } finally {
        undo();
      }
    }
  }
  model.dispose();
  writeResults(`half_state_tensorflow_cpu-${os.cpus().length}core.json`, {
    benchmark: 'half_state_tensorflow',
    backend: 'tensorflow',
    date: new Date().toISOString(),
    model: 'PoseNet-MobileNetV1 (trained) at 289x385',
    note: 'deviation = max |delta - dense| / max |dense| of the first output (heatmaps), per frame; PCK as run --compare',
    rows,
  });
}

if (require.main === module) runMain(main);
