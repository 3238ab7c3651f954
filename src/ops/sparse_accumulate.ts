/**
 * sparseAccumulate: DeltaCNN's truncating accumulator, one op for three jobs:
 *  - input sparsify: activation 'linear', threshold t > 0, delta = frame - (accumulated + residual);
 *  - delta activation: activation 'relu' | 'relu6' | 'leakyRelu' | 'sigmoid' | 'tanh';
 *  - output densify: activation 'linear', threshold 0; the returned `accumulated` is the dense output.
 *
 * For every pixel active in delta's mask (one flag per pixel, shared by all channels):
 *   s = residual + delta;  out = f(accumulated + s) - f(accumulated)
 *   flushed iff max over channels |out| > threshold:
 *     flushed:     emit out; accumulated += s; residual = 0
 *     not flushed: emit 0;   residual = s
 * Inactive pixels emit exact zeros and keep their state. The emitted delta's mask is
 * (input mask AND flushed). Invariant: accumulated + residual = sum of all deltas seen, and the
 * emitted deltas sum to f(accumulated) - f(0).
 *
 * Half-precision state (statePrecision 'fp16') stores A and R as IEEE half: on 'cuda' in half storage (2 bytes an
 * element instead of 4), elsewhere as float32 tensors holding the rounded values. The state is rounded where it is
 * read, and a flushed pixel emits f(half(A + s)) - f(A), the change of f between the values stored, so that the
 * emitted deltas still sum to f(accumulated) - f(0); what half(A + s) loses is kept in the residual:
 *   flushed: A' = half(A + s), R' = half(A + s - A');  not flushed: R' = half(s)
 * A + R then tracks the sum of the deltas within half's rounding (relative 4.9e-4 a step). Half holds magnitudes up
 * to 65504: state beyond that becomes infinite, so a model whose pre-activations grow that large (untrained weights,
 * say) needs float32 state.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {SparseAccumulate, SparseAccumulateAttrs, StatePrecision} from './kernel_names';
import {
  Activation,
  checkActivation,
  checkOneOf,
  checkBoolean,
  checkNonEmpty,
  checkSameShape,
  checkThreshold,
  fail,
  shapeStr,
  toFloatTensor,
} from './validation';

export interface SparseAccumulateConfig {
  /** Per-pixel flush threshold on max_c |out| (default 0: every change is emitted). */
  threshold?: number;
  /** Non-linearity f (default 'linear'). */
  activation?: Activation;
  /** Negative slope for 'leakyRelu' (default 0.2, as tf.leakyRelu). */
  alpha?: number;
  /** Per-pixel test; only 'max' (max over channels, DeltaCNN's default) is implemented. */
  test?: 'max';
  /**
   * Let the backend write the new state into `accumulated` and `residual` and return them as the state outputs
   * (default false). For a caller that owns the state tensors and drops the old ones (the delta layers): the
   * 'cuda' kernel then touches only the active pixels instead of copying the whole state every frame. Other
   * backends return new tensors either way. Never pass tensors that something else still reads.
   */
  inPlace?: boolean;
  /**
   * How the state outputs are stored (default 'fp32'): 'fp16' rounds A and R to IEEE half as described above; on
   * 'cuda' they are then held in half storage, half the bytes of float32 state and of its traffic.
   */
  statePrecision?: StatePrecision;
}

export interface SparseAccumulateResult<T extends Tensor = Tensor> {
  /** The emitted delta, masked to the flushed pixels. */
  delta: T;
  /** The new accumulated (transmitted) pre-activation input; dense. */
  accumulated: T;
  /** The new truncated residual; dense. */
  residual: T;
}

/** The kernel attributes of an accumulate `config`, checked (errors name `op` and the field). */
export function accumulateAttrs(op: string, config: SparseAccumulateConfig): SparseAccumulateAttrs {
  const {threshold = 0, activation = 'linear', alpha = 0.2, test = 'max', inPlace = false} = config;
  const {statePrecision = 'fp32'} = config;
  checkThreshold(op, threshold);
  checkActivation(op, activation, alpha);
  if (test !== 'max') fail(op, 'test', `must be 'max', got ${JSON.stringify(test)}`);
  checkBoolean(op, 'inPlace', inPlace);
  checkOneOf(op, 'statePrecision', statePrecision, ['fp32', 'fp16']);
  return {threshold, activation, alpha, inPlace, statePrecision};
}

function sparseAccumulate_<T extends Tensor>(
  accumulated: T | TensorLike,
  residual: T | TensorLike,
  delta: T | TensorLike,
  config: SparseAccumulateConfig = {},
): SparseAccumulateResult<T> {
  const op = 'sparseAccumulate';
  const a = toFloatTensor(op, 'accumulated', accumulated);
  const r = toFloatTensor(op, 'residual', residual);
  const d = toFloatTensor(op, 'delta', delta);
  if (d.rank < 2) {
    fail(op, 'delta', `must have rank >= 2 ([...pixels, channels], e.g. NHWC), got shape ${shapeStr(d.shape)}`);
  }
  checkNonEmpty(op, 'delta', d);
  checkSameShape(op, 'accumulated', a, 'delta', d);
  checkSameShape(op, 'residual', r, 'delta', d);
  const attrs = accumulateAttrs(op, config);
  const [outDelta, outAcc, outRes] = tf
    .engine()
    .runKernel(SparseAccumulate, {accumulated: a, residual: r, delta: d}, attrs as unknown as NamedAttrMap) as Tensor[];
  return {delta: outDelta as T, accumulated: outAcc as T, residual: outRes as T};
}

export const sparseAccumulate = tf.op({sparseAccumulate_});
