/**
 * Delta activations: f applied to a delta stream, with state (the accumulated pre-activation
 * input A and the truncated residual R) in the layer's StreamState.
 *
 *  - relu, relu6, leakyRelu, sigmoid, tanh: sparseAccumulate with the layer's threshold (a pixel
 *    is emitted when some channel's output moves by more than it). The emitted deltas sum to
 *    f(A) - f(0), so f(0) (sigmoid: 0.5) is added once, on the first frame.
 *  - any other function of one pixel's channels (softmax, elu, gelu, swish, PReLU, the layer's own
 *    call...): out = f(A + delta) - f(A) on the active pixels, without truncation; the first frame
 *    emits f(delta) densely.
 *  - linear: the delta passes through.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';

import {sparseAccumulate} from '../../ops/sparse_accumulate';
import type {SparseAccumulateConfig, SparseAccumulateResult} from '../../ops/sparse_accumulate';
import type {Activation} from '../../ops/validation';
import {getMask, withMask} from '../../ops/mask';
import type {StreamState} from './base';

export interface DeltaActivationFn {
  kind: Activation | 'pointwise';
  /** Negative slope of 'leakyRelu'. */
  alpha: number;
  /** The dense function, for 'pointwise'. */
  fn?: (x: Tensor) => Tensor;
}

const TRUNCATING = new Set<string>(['relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh']);

/** What a tf.layers activation (its class name: 'relu', 'softmax', ...) becomes in a delta layer. */
export function deltaActivationOf(
  activation: {getClassName(): string; apply(x: Tensor): Tensor} | null | undefined,
): DeltaActivationFn {
  const name = activation == null ? 'linear' : activation.getClassName();
  if (name === 'linear') return {kind: 'linear', alpha: 0};
  if (TRUNCATING.has(name)) return {kind: name as Activation, alpha: 0};
  return {kind: 'pointwise', alpha: 0, fn: (x) => activation!.apply(x)};
}

export function truncatingActivation(act: DeltaActivationFn): boolean {
  return TRUNCATING.has(act.kind);
}

/** Applies `act` to this frame's `delta`, updating the stream's buffers `${prefix}.A` / `${prefix}.R`. */
export function applyDeltaActivation(
  stream: StreamState,
  act: DeltaActivationFn,
  delta: Tensor,
  threshold: number,
  first: boolean,
  prefix = 'act',
): Tensor {
  if (act.kind === 'linear') return delta;
  const keyA = `${prefix}.A`;
  if (act.kind === 'pointwise') {
    const previous = stream.get(keyA);
    if (previous == null) {
      stream.set(keyA, tf.clone(delta));
      return act.fn!(delta);
    }
    const next = tf.add(previous, delta);
    const change = tf.sub(act.fn!(next), act.fn!(previous));
    stream.set(keyA, next);
    const mask = getMask(delta);
    return mask == null ? change : withMask(change, mask);
  }
  const keyR = `${prefix}.R`;
  const zeros = () => tf.zerosLike(delta);
  const out = sparseAccumulate(stream.get(keyA) ?? zeros(), stream.get(keyR) ?? zeros(), delta, {
    threshold,
    activation: act.kind,
    alpha: act.alpha,
    inPlace: true,
  }); // the stream owns A and R
  stream.set(keyA, out.accumulated);
  stream.set(keyR, out.residual);
  return first && act.kind === 'sigmoid' ? tf.add(out.delta, 0.5) : out.delta;
}

/**
 * The truncating activation fused into the op that makes its delta (fusedDeltaDepthwiseConv2d): `run` gets the
 * stream's state and the accumulate config and returns what sparseAccumulate would. Null, running nothing, when the
 * activation does not truncate or the stream has no state yet (its first frame goes the unfused way).
 */
export function applyFusedActivation(
  stream: StreamState,
  act: DeltaActivationFn,
  threshold: number,
  run: (accumulated: Tensor, residual: Tensor, config: SparseAccumulateConfig) => SparseAccumulateResult,
  prefix = 'act',
): Tensor | null {
  const keyA = `${prefix}.A`,
    keyR = `${prefix}.R`;
  const a = stream.get(keyA),
    r = stream.get(keyR);
  if (a == null || r == null || act.kind === 'pointwise' || !truncatingActivation(act)) return null;
  const out = run(a, r, {threshold, activation: act.kind, alpha: act.alpha, inPlace: true}); // the stream owns A, R
  stream.set(keyA, out.accumulated);
  stream.set(keyR, out.residual);
  return out.delta;
}

/**
 * f of the stream's accumulated input (`${prefix}.A`) for the truncating activations: the dense
 * output as far as it has been sent. Null for other kinds, or before the first frame.
 */
export function accumulatedActivation(stream: StreamState, act: DeltaActivationFn, prefix = 'act'): Tensor | null {
  const a = stream.get(`${prefix}.A`);
  if (a == null || !truncatingActivation(act)) return null;
  switch (act.kind) {
    case 'relu':
      return tf.relu(a);
    case 'relu6':
      return tf.relu6(a);
    case 'leakyRelu':
      return tf.leakyRelu(a, act.alpha);
    case 'sigmoid':
      return tf.sigmoid(a);
    default:
      return tf.tanh(a);
  }
}
