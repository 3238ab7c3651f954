/**
 * The truncating accumulator on 'tensorflow'; see ops/sparse_accumulate.ts for the semantics. Where tfjs-delta's
 * native TF op is built (native_ops.ts) it runs that: one pass over the active pixels, state updated in place.
 * Otherwise from TF ops: all pixels are computed and the results selected per pixel:
 *   s = R + delta; next = A + s (the float32 value stored); out = f(next) - f(A)
 *   flushed = active AND max_c |out| > threshold
 *   delta' = flushed ? out : 0;  A' = flushed ? next : A;  R' = flushed ? 0 : active ? s : R
 * When few pixels are active the same element-wise formulas run on the active pixels' rows only
 * (gathered; the host reads the mask, one byte a pixel) and the results are scattered back: three
 * full-size passes (the zero-filled delta, the copies of A and R) instead of about twelve.
 * Half-precision state (statePrecision 'fp16') runs the host reference (kernels/accumulate_reference.ts) on the
 * tensors' data: TF's ops have no IEEE-half rounding tfjs can reach, and on the CPU half state saves nothing that
 * counts; it is there so that a model made with half state runs, with the same results, on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {SparseAccumulate, SparseAccumulateAttrs} from '../../ops/kernel_names';
import {attachMask} from '../../ops/mask';
import {accumulateOnHost} from '../accumulate_reference';
import {isNativeState, markNativeState, tensorflowNativeOps, tensorflowNativeOpsUnavailableReason} from './native_ops';
import {NodeBackend, TfAttr, TfOps} from './tf_ops';

/**
 * The largest float32 not above t. For a float32 v, `v > t` (the reference compares in float64)
 * holds exactly when `v > floatBelow(t)`; rounding t to nearest could round it up and turn a
 * flush at v = fround(t) into a hold.
 */
export function floatBelow(t: number): number {
  const f = Math.fround(t);
  if (f <= t) return f;
  const bits = new Float32Array([f]);
  const view = new Int32Array(bits.buffer);
  view[0] += f > 0 ? -1 : 1;
  return bits[0];
}

/**
 * 'auto' runs tfjs-delta's native op where it is built (float32 state), else as 'ops': the pixel route up to
 * pixelCrossoverFor(channels) active pixels and the dense route above. The others force a route ('native' throws
 * where the op is not available).
 */
export type TensorflowAccumulateRoute = 'auto' | 'native' | 'ops' | 'pixel' | 'dense';
const options = {route: 'auto' as TensorflowAccumulateRoute};
export function setTensorflowSparseAccumulateRoute(route: TensorflowAccumulateRoute): TensorflowAccumulateRoute {
  const previous = options.route;
  options.route = route;
  return previous;
}
/** The route the 'tensorflow' sparseAccumulate is set to take. */
export function tensorflowSparseAccumulateRoute(): TensorflowAccumulateRoute {
  return options.route;
}
export const sparseAccumulateRouteCounts = {native: 0, pixel: 0, dense: 0};

/**
 * The active-pixel fraction above which the full-size formulas are cheaper, measured on tfjs-node (2-core CPU,
 * benchmarks/ops/sparse_accumulate_tensorflow.ts, results in benchmarks/results/sparse_accumulate_tensorflow_cpu-2core.json):
 * 0.04-0.15 at 24-96 channels (PoseNet's large maps), 0.19-0.32 at 192 and 384. The pixel route's gathers and scatters
 * cost a fixed part per row on top of its elements, so longer rows (more channels) make it pay up to a larger share.
 */
export function pixelCrossoverFor(channels: number): number {
  return Math.min(0.3, channels / 600);
}

export const sparseAccumulateConfig: KernelConfig = {
  kernelName: SparseAccumulate,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {accumulated: a, residual: r, delta: d} = inputs as {[k: string]: TensorInfo};
    const {threshold, activation, alpha, statePrecision} = attrs as unknown as SparseAccumulateAttrs;
    const ops = new TfOps(backend as NodeBackend);
    return tf.tidy(() => {
      const mask = ops.boolMask(d);
      if (statePrecision === 'fp16') return hostRoute(ops, a, r, d, mask, attrs as unknown as SparseAccumulateAttrs);
      if (options.route === 'native' || (options.route === 'auto' && tensorflowNativeOps() != null)) {
        if (tensorflowNativeOps() == null)
          throw new Error(
            `sparseAccumulate: the native route is unavailable: ${tensorflowNativeOpsUnavailableReason()}`,
          );
        sparseAccumulateRouteCounts.native++;
        return nativeRoute(ops, a, r, d, mask, attrs as unknown as SparseAccumulateAttrs);
      }
      if (mask != null && options.route !== 'dense') {
        const flags = ops.backend.readSync(mask.dataId) as Uint8Array;
        let n = 0;
        for (let i = 0; i < flags.length; i++) if (flags[i]) n++;
        const channels = d.shape[d.shape.length - 1];
        if (options.route === 'pixel' || n <= pixelCrossoverFor(channels) * flags.length) {
          sparseAccumulateRouteCounts.pixel++;
          return pixelRoute(ops, a, r, d, flags, n, threshold, activation, alpha);
        }
      }
      sparseAccumulateRouteCounts.dense++;
      return denseRoute(ops, a, r, d, mask, threshold, activation, alpha);
    });
  },
};

/**
 * Runs tfjs-delta's accumulator op `op` (TfjsDeltaSparseAccumulate on a delta and its mask, TfjsDeltaScatterAccumulate
 * on the rows of its active pixels; native/tensorflow/sparse_accumulate.cc) on `inputs` with the state a, r: one pass
 * over the active pixels, the state updated where it lies when the caller allows it (inPlace, and state these ops
 * made: a stream's first call copies it), as on 'cuda'. Returns [delta (its mask attached), accumulated, residual].
 */
export function runNativeAccumulate(
  ops: TfOps,
  op: 'TfjsDeltaSparseAccumulate' | 'TfjsDeltaScatterAccumulate',
  inputs: TensorInfo[],
  a: TensorInfo,
  r: TensorInfo,
  {threshold, activation, alpha, inPlace}: SparseAccumulateAttrs,
  extraAttrs: TfAttr[] = [],
): Tensor[] {
  const others = inputs.filter((t) => t !== a && t !== r).map((t) => t.dataId);
  const attrs = [
    ops.float('threshold', floatBelow(threshold)),
    ops.str('activation', activation),
    // TF has no double attribute; the shortest decimal reads back exactly (String(-0) is '0')
    ops.str('alpha', Object.is(alpha, -0) ? '-0' : String(alpha)),
    ops.bool(
      'in_place',
      inPlace === true &&
        a.dataId !== r.dataId &&
        !others.includes(a.dataId) &&
        !others.includes(r.dataId) &&
        isNativeState(a) &&
        isNativeState(r),
    ),
    ...extraAttrs,
  ];
  const [delta, outMask, accumulated, residual] = ops.backend.executeMultipleOutputs(op, attrs, inputs, 4);
  attachMask(ops.backend, delta, outMask);
  markNativeState(accumulated, residual);
  return [delta, accumulated, residual];
}

/** TfjsDeltaSparseAccumulate on a delta and its mask (null: every pixel active). */
function nativeRoute(
  ops: TfOps,
  a: TensorInfo,
  r: TensorInfo,
  d: TensorInfo,
  mask: Tensor | null,
  attrs: SparseAccumulateAttrs,
): Tensor[] {
  return runNativeAccumulate(
    ops,
    'TfjsDeltaSparseAccumulate',
    [a, r, d, mask ?? tf.tensor1d([false], 'bool')],
    a,
    r,
    attrs,
    [ops.bool('has_mask', mask != null)],
  );
}

/**
 * The formulas on every pixel. Per-pixel choices are `Select`s on [pixels, channels] rows with a
 * [pixels] condition, which TF runs as row copies; SelectV2 broadcasting a [..., 1] condition cost
 * two to six times as much here. An inactive pixel's delta is zero, so its s = R + 0 is R and the
 * held residual needs no select of its own.
 */
function denseRoute(
  ops: TfOps,
  a: TensorInfo,
  r: TensorInfo,
  d: TensorInfo,
  mask: Tensor | null,
  threshold: number,
  activation: SparseAccumulateAttrs['activation'],
  alpha: number,
): Tensor[] {
  const c = d.shape[d.shape.length - 1];
  const pixels = d.shape.slice(0, -1).reduce((x, y) => x * y, 1);
  const rows = (t: TensorInfo) => ops.reshape(t, [pixels, c]);
  const s = ops.binary('AddV2', r, d);
  const next = ops.binary('AddV2', a, s);
  const out =
    activation === 'linear'
      ? ops.binary('Sub', next, a)
      : ops.binary('Sub', ops.activation(next, activation, alpha), ops.activation(a, activation, alpha));
  const largest = ops.reduce('Max', ops.unary('Abs', out), [d.shape.length - 1], false);
  let flushed = ops.binary('Greater', largest, ops.scalar(floatBelow(threshold)));
  if (mask != null) flushed = ops.logicalAnd(flushed, mask);
  const which = ops.reshape(flushed, [pixels]);
  const zeros = ops.fill([pixels, c], 0);
  const delta = ops.reshape(ops.rowSelect(which, rows(out), zeros), d.shape);
  attachMask(ops.backend, delta, flushed);
  return [
    delta,
    ops.reshape(ops.rowSelect(which, rows(next), rows(a)), a.shape),
    ops.reshape(ops.rowSelect(which, zeros, rows(s)), r.shape),
  ];
}

function pixelRoute(
  ops: TfOps,
  a: TensorInfo,
  r: TensorInfo,
  d: TensorInfo,
  flags: Uint8Array,
  n: number,
  threshold: number,
  activation: SparseAccumulateAttrs['activation'],
  alpha: number,
): Tensor[] {
  const c = d.shape[d.shape.length - 1];
  const pixels = flags.length;
  const rowsOf = (t: TensorInfo) => ops.reshape(t, [pixels, c]);
  const [fa, fr] = [rowsOf(a), rowsOf(r)];
  const maskShape = d.shape.slice(0, -1);
  if (n === 0) {
    const delta = ops.fill(d.shape, 0);
    attachMask(ops.backend, delta, ops.reshape(ops.cast(ops.fill([pixels], 0), 'bool'), maskShape));
    return [delta, ops.reshape(fa, a.shape), ops.reshape(fr, r.shape)];
  }
  const at = new Int32Array(n);
  for (let i = 0, j = 0; i < pixels; i++) if (flags[i]) at[j++] = i;
  const rows = tf.tensor1d(at, 'int32');
  const where = tf.tensor2d(at, [n, 1], 'int32');
  const a2 = ops.gather(fa, rows);
  const s = ops.binary('AddV2', ops.gather(fr, rows), ops.gather(rowsOf(d), rows));
  const next = ops.binary('AddV2', a2, s);
  const out = ops.binary('Sub', ops.activation(next, activation, alpha), ops.activation(a2, activation, alpha));
  const largest = ops.reduce('Max', ops.unary('Abs', out), [1], false);
  const flushed = ops.binary('Greater', largest, ops.scalar(floatBelow(threshold)));
  const zeros = ops.fill([n, c], 0);
  const delta = ops.reshape(ops.scatterNd(where, ops.rowSelect(flushed, out, zeros), [pixels, c]), d.shape);
  const flushedAt = ops.scatterNd(where, ops.cast(flushed, 'float32'), [pixels]);
  attachMask(ops.backend, delta, ops.reshape(ops.binary('Greater', flushedAt, ops.scalar(0)), maskShape));
  return [
    delta,
    ops.reshape(ops.tensorScatterUpdate(fa, where, ops.rowSelect(flushed, next, a2)), a.shape),
    ops.reshape(ops.tensorScatterUpdate(fr, where, ops.rowSelect(flushed, zeros, s)), r.shape),
  ];
}

/** The host reference on the tensors' data (half-precision state). */
function hostRoute(
  ops: TfOps,
  a: TensorInfo,
  r: TensorInfo,
  d: TensorInfo,
  mask: Tensor | null,
  attrs: SparseAccumulateAttrs,
): Tensor[] {
  const read = (t: TensorInfo) => ops.backend.readSync(t.dataId) as Float32Array;
  const flags = mask == null ? null : (ops.backend.readSync(mask.dataId) as Uint8Array);
  const out = accumulateOnHost(read(a), read(r), read(d), flags, d.shape[d.shape.length - 1], attrs);
  const delta = tf.tensor(out.delta, d.shape, 'float32');
  attachMask(ops.backend, delta, tf.tensor(out.mask, d.shape.slice(0, -1), 'bool'));
  return [delta, tf.tensor(out.accumulated, a.shape, 'float32'), tf.tensor(out.residual, r.shape, 'float32')];
}
