/**
 * Delta activations: f applied to a delta stream, with state (the accumulated pre-activation
 * input A and the truncated residual R) in the layer's StreamState.
 *
 *  - relu, relu6, leakyRelu, sigmoid, tanh: sparseAccumulate with the layer's threshold (a pixel
 *    is emitted when some channel's output moves by more than it). A stream's first frame is sent
 *    whole (A = its input, R = 0, output f(A), sigmoid's f(0) = 0.5 included); later outputs
 *    telescope, so the emitted deltas always sum to f(A).
 *  - any other function of one pixel's channels (softmax, elu, gelu, swish, PReLU, the layer's own
 *    call...): out = f(A + delta) - f(A) on the active pixels, without truncation; the first frame
 *    emits f(delta) densely.
 *  - linear: the delta passes through.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';

import type {StatePrecision} from '../../ops/kernel_names';
import {sparseAccumulate} from '../../ops/sparse_accumulate';
import {storeHalf} from '../../ops/store_half';
import type {SparseAccumulateConfig, SparseAccumulateResult} from '../../ops/sparse_accumulate';
import type {Activation} from '../../ops/validation';
import {activeFraction, getMask, withMask} from '../../ops/mask';
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

/**
 * Applies `act` to this frame's `delta`, updating the stream's buffers `${prefix}.A` / `${prefix}.R`.
 * `owned`: `delta` was made by the caller for this call alone, so the state may keep it as it is.
 * `statePrecision` 'fp16': the truncating activations keep A and R in half precision (sparseAccumulate's half
 * state); a first frame stores half(A) and emits f of the float32 input, an offset of one rounding that later frames
 * do not grow. Not with `flushAbove` (its dense flush computes in float32).
 */
export function applyDeltaActivation(
  stream: StreamState,
  act: DeltaActivationFn,
  delta: Tensor,
  threshold: number,
  first: boolean,
  prefix = 'act',
  owned = false,
  flushAbove: number | null = null,
  statePrecision: StatePrecision = 'fp32',
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
  if (first || stream.get(keyA) == null) {
    // A stream's first frame (or a restart) is sent whole: the state becomes the dense input and the
    // output the dense activation, one activation pass where the accumulator's test would cost a dozen.
    // The state is written in place later (sparseAccumulate inPlace), so it must not alias the input
    // unless the caller made that tensor for this layer alone.
    // The residual is zero; it is made when a later frame needs it (a stream restarted on every frame never does).
    stream.set(keyA, statePrecision === 'fp16' ? storeHalf(delta) : owned ? delta : tf.add(delta, 0));
    stream.drop(keyR);
    return denseActivation(act, delta);
  }
  const residual = stream.get(keyR);
  if (flushAbove != null && activeFraction(delta) > flushAbove) {
    // Every pixel is flushed, inactive ones' residuals included (their delta is zero): the output is
    // f(A + R + delta) - f(A) everywhere, so the emitted deltas still sum to f(A).
    const before = stream.get(keyA)!;
    const total = tf.add(residual == null ? before : tf.add(before, residual), delta);
    const out = tf.sub(denseActivation(act, total), denseActivation(act, before));
    stream.set(keyA, total);
    stream.drop(keyR);
    return out;
  }
  const out = sparseAccumulate(stream.get(keyA)!, residual ?? zeros(), delta, {
    threshold,
    activation: act.kind,
    alpha: act.alpha,
    inPlace: true,
    statePrecision,
  }); // the stream owns A and R
  stream.set(keyA, out.accumulated);
  stream.set(keyR, out.residual);
  return out.delta;
}

/** f(x) for a truncating activation. */
function denseActivation(act: DeltaActivationFn, x: Tensor): Tensor {
  switch (act.kind) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'leakyRelu':
      return tf.leakyRelu(x, act.alpha);
    case 'sigmoid':
      return tf.sigmoid(x);
    default:
      return tf.tanh(x);
  }
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
  flushAbove: number | null,
  run: (accumulated: Tensor, residual: Tensor, config: SparseAccumulateConfig) => SparseAccumulateResult,
  statePrecision: StatePrecision = 'fp32',
  prefix = 'act',
): Tensor | null {
  const keyA = `${prefix}.A`,
    keyR = `${prefix}.R`;
  const a = stream.get(keyA);
  // flushAbove decides per frame on the host, before the accumulator: that stays on the unfused path
  if (a == null || flushAbove != null || act.kind === 'pointwise' || !truncatingActivation(act)) return null;
  const r = stream.get(keyR) ?? tf.zerosLike(a); // a stream's first frame leaves no residual
  // the stream owns A and R
  const out = run(a, r, {threshold, activation: act.kind, alpha: act.alpha, inPlace: true, statePrecision});
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
  return denseActivation(act, a);
}
