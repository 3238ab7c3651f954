/**
 * The truncating accumulator from TF ops; see ops/sparse_accumulate.ts for the semantics. All
 * pixels are computed and the results selected per pixel:
 *   s = R + delta; next = A + s (the float32 value stored); out = f(next) - f(A)
 *   flushed = active AND max_c |out| > threshold
 *   delta' = flushed ? out : 0;  A' = flushed ? next : A;  R' = flushed ? 0 : active ? s : R
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {SparseAccumulate, SparseAccumulateAttrs} from '../../ops/kernel_names';
import {NodeBackend, TfOps} from './tf_ops';

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

export const sparseAccumulateConfig: KernelConfig = {
  kernelName: SparseAccumulate,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {accumulated: a, residual: r, delta: d} = inputs as {[k: string]: TensorInfo};
    const {threshold, activation, alpha} = attrs as unknown as SparseAccumulateAttrs;
    const ops = new TfOps(backend as NodeBackend);
    return tf.tidy(() => {
      const mask = ops.boolMask(d);
      const active = mask == null ? null : ops.reshape(mask, [...mask.shape, 1]);
      const s = ops.binary('AddV2', r, d);
      const next = ops.binary('AddV2', a, s);
      const out = ops.binary('Sub', ops.activation(next, activation, alpha), ops.activation(a, activation, alpha));
      const largest = ops.reduce('Max', ops.unary('Abs', out), [d.shape.length - 1], true);
      let flushed = ops.binary('Greater', largest, ops.scalar(floatBelow(threshold)));
      if (active != null) flushed = ops.logicalAnd(flushed, active);
      const zero = ops.scalar(0);
      const held = active == null ? s : ops.select(active, s, r);
      return [
        ops.masked(out, flushed),
        ops.select(flushed, next, a),
        ops.select(flushed, zero, held),
      ] as Tensor[];
    });
  },
};
