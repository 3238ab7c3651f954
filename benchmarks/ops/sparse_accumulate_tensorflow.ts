/**
 * Where the 'tensorflow' sparseAccumulate's pixel route stops paying: per activation shape (PoseNet-MobileNetV1
 * x0.75 at 288x384), per active-pixel share, the pixel route (the active pixels' rows gathered, the formulas run on
 * them, scattered back) and the dense route (the formulas on every pixel, rows selected), interleaved, in the same
 * run, with tf.relu6 of the same tensor for scale (a dense layer's activation); and tfjs-delta's native op (where it
 * is built), with the state copied and updated in place:
 *   npm run build && node dist/benchmarks/ops/sparse_accumulate_tensorflow.js [--runs 15] [--match 72x96] [--out file.json]
 * Activity: aligned 4 x 4 pixel blocks, a share of them active (a delta conv's reach is blobs, not single pixels).
 * ReLU6, threshold 0.05, state drawn once per shape. The crossover is the active-pixel share where the pixel
 * route's median time reaches the dense route's (linear interpolation between measured points).
 * Writes benchmarks/results/sparse_accumulate_tensorflow_cpu-<cores>core.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';

import {sparseAccumulate, withMask} from '../../src/index';
import {tensorflowNativeOps, tensorflowNativeOpsUnavailableReason} from '../../src/kernels/tensorflow/native_ops';
import {pixelCrossoverFor, setTensorflowSparseAccumulateRoute} from '../../src/kernels/tensorflow/SparseAccumulate';
import {arg, crossover, median, runMain, timeOnce, writeResults} from '../bench_util';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

const SHAPES: Array<[number, number, number]> = [
  [144, 192, 24],
  [144, 192, 48],
  [72, 96, 96],
  [36, 48, 192],
  [18, 24, 384],
];
const SHARES = [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1];
const BLOCK = 4;

/** A delta whose active pixels are aligned BLOCK x BLOCK blocks, `share` of them; returns it and its active share. */
function blockDelta([h, w, c]: [number, number, number], share: number, seed: number): [tf.Tensor4D, number] {
  const x = tf.tidy(() => {
    const [by, bx] = [Math.ceil(h / BLOCK), Math.ceil(w / BLOCK)];
    const pick = tf.cast(tf.less(tf.randomUniform([1, by, bx, 1], 0, 1, 'float32', seed), share), 'float32');
    const up = tf.image.resizeNearestNeighbor(pick as tf.Tensor4D, [by * BLOCK, bx * BLOCK]);
    const flags = tf.slice(up, [0, 0, 0, 0], [1, h, w, 1]);
    const values = tf.mul(tf.randomNormal([1, h, w, c], 0, 0.2, 'float32', seed + 1), flags);
    return withMask(values, tf.reshape(flags, [1, h, w])) as tf.Tensor4D;
  });
  const active = tf.tidy(() => tf.mean(tf.cast(tf.greater(tf.max(tf.abs(x), -1), 0), 'float32')).dataSync()[0]);
  return [x, active];
}

async function main() {
  loadTfjsNode();
  await tf.setBackend('tensorflow');
  const runs = Number(arg('runs', '15'));
  const hasNative = tensorflowNativeOps() != null;
  if (!hasNative) console.log(`no native route: ${tensorflowNativeOpsUnavailableReason()}`);
  const rows: unknown[] = [];
  for (const shape of SHAPES.filter((s) => s.join('x').includes(arg('match', '')))) {
    const name = `relu6 ${shape.join('x')}`;
    const [a, r] = [tf.randomNormal([1, ...shape], 1, 2), tf.randomNormal([1, ...shape], 0, 0.02)];
    const points: Array<{
      share: number;
      relu6Ms: number;
      denseRouteMs: number;
      pixelRouteMs: number;
      nativeMs?: number;
      nativeInPlaceMs?: number;
    }> = [];
    // The in-place runs update a state of their own, as a stream does from call to call.
    const [sa, sr] = [tf.add(a, 0), tf.add(r, 0)];
    for (const share of SHARES) {
      const [d, active] = blockDelta(shape, share, 2000 + Math.round(share * 100));
      const accumulate =
        (route: 'pixel' | 'dense' | 'native', inPlace = false) =>
        () => {
          const previous = setTensorflowSparseAccumulateRoute(route);
          try {
            const [sa2, sr2] = inPlace ? [sa, sr] : [a, r];
            const o = sparseAccumulate(sa2, sr2, d, {threshold: 0.05, activation: 'relu6', inPlace});
            return inPlace ? [o.delta] : [o.delta, o.accumulated, o.residual];
          } finally {
            setTensorflowSparseAccumulateRoute(previous);
          }
        };
      const time = {relu6: [] as number[], dense: [] as number[], pixel: [] as number[]};
      const nativeTime = {copy: [] as number[], inPlace: [] as number[]};
      for (let k = 0; k < runs + 2; k++) {
        const times = [timeOnce(() => [tf.relu6(a)]), timeOnce(accumulate('dense')), timeOnce(accumulate('pixel'))];
        const native = hasNative ? [timeOnce(accumulate('native')), timeOnce(accumulate('native', true))] : [];
        if (k < 2) continue;
        time.relu6.push(times[0]);
        time.dense.push(times[1]);
        time.pixel.push(times[2]);
        if (hasNative) [nativeTime.copy, nativeTime.inPlace].forEach((t, i) => t.push(native[i]));
      }
      d.dispose();
      points.push({
        share: active,
        relu6Ms: median(time.relu6),
        denseRouteMs: median(time.dense),
        pixelRouteMs: median(time.pixel),
        ...(hasNative ? {nativeMs: median(nativeTime.copy), nativeInPlaceMs: median(nativeTime.inPlace)} : {}),
      });
    }
    const crossoverShare = crossover(
      points.map((p) => ({x: p.share, sparseMs: p.pixelRouteMs, denseMs: p.denseRouteMs})),
    );
    console.log(
      `${name}: crossover at active-pixel share ${crossoverShare.toFixed(2)} (the kernel's: ${pixelCrossoverFor(shape[2])})`,
    );
    for (const p of points) {
      console.log(
        `  active ${p.share.toFixed(3)}: relu6 ${p.relu6Ms.toFixed(2)} ms, dense route ${p.denseRouteMs.toFixed(2)} ms, ` +
          `pixel route ${p.pixelRouteMs.toFixed(2)} ms` +
          (p.nativeMs == null
            ? ''
            : `, native ${p.nativeMs.toFixed(2)} ms (in place ${p.nativeInPlaceMs!.toFixed(2)} ms, ` +
              `${(p.denseRouteMs / p.nativeInPlaceMs!).toFixed(1)}x the dense route)`),
      );
    }
    rows.push({name, shape, crossover: crossoverShare, kernelCrossover: pixelCrossoverFor(shape[2]), points});
    tf.dispose([a, r, sa, sr]);
  }
  writeResults(`sparse_accumulate_tensorflow_cpu-${os.cpus().length}core.json`, {
    backend: 'tensorflow',
    cpus: os.cpus().length,
    runs,
    date: new Date().toISOString(),
    loadAverage: os.loadavg(),
    note:
      'ms = median wall time of one call; share = active pixels of the delta; native: tfjs-delta TF op, state ' +
      'copied (nativeMs) or updated in place (nativeInPlaceMs)',
    shapes: rows,
  });
}

runMain(main);
