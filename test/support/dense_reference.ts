/**
 * Dense tfjs compositions the parity suites compare against, written so every backend can run
 * them: tfjs-node's Conv2D accepts only 'same'/'valid'/explicit pads, so a numeric pad (with its
 * dimRoundingMode) becomes explicit padding plus a crop to the size tfjs defines for it.
 */
import * as tf from '@tensorflow/tfjs-core';

import {roundToHalf} from '../../src/kernels/half';
import type {StatePrecision} from '../../src/ops/kernel_names';
import {getMask} from '../../src/ops/mask';
import {expectClose, expectMask, expectZerosWhereInactive, randn} from './util';
import type {Activation} from '../../src/ops/validation';

export type Pad2D =
  'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** tf.conv2d / tf.depthwiseConv2d with any pad on any backend. */
export function denseConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number,
  pad: Pad2D,
  dilation = 1,
  rounding?: Rounding,
  depthwise = false,
): tf.Tensor4D {
  const conv = (input: tf.Tensor4D, p: Exclude<Pad2D, number>) =>
    depthwise
      ? tf.depthwiseConv2d(input, filter, strides, p, 'NHWC', dilation)
      : tf.conv2d(input, filter, strides, p, 'NHWC', dilation);
  if (typeof pad !== 'number') return conv(x, pad);
  return tf.tidy(() => {
    const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, strides, dilation, pad, rounding, depthwise);
    const reach = (out: number, n: number, k: number) =>
      Math.max(pad, (out - 1) * strides + (k - 1) * dilation + 1 - n - pad);
    const padded = tf.pad(x, [
      [0, 0],
      [pad, reach(info.outHeight, x.shape[1], filter.shape[0])],
      [pad, reach(info.outWidth, x.shape[2], filter.shape[1])],
      [0, 0],
    ]);
    const full = conv(padded as tf.Tensor4D, 'valid');
    return tf.slice(full, [0, 0, 0, 0], [full.shape[0], info.outHeight, info.outWidth, full.shape[3]]);
  });
}

/** tf.conv2dTranspose with any pad on any backend: the full ('valid') result cropped by the pad. */
export function denseConv2dTranspose(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  outputShape: [number, number, number, number],
  strides: number,
  pad: Pad2D,
): tf.Tensor4D {
  if (typeof pad !== 'number') return tf.conv2dTranspose(x, filter, outputShape, strides, pad);
  return tf.tidy(() => {
    const full = (n: number, k: number) => (n - 1) * strides + k;
    const [fh, fw] = [full(x.shape[1], filter.shape[0]), full(x.shape[2], filter.shape[1])];
    const whole = tf.conv2dTranspose(x, filter, [outputShape[0], fh, fw, outputShape[3]], strides, 'valid');
    return tf.slice(whole, [0, pad, pad, 0], outputShape);
  });
}

/** The input mask as float 0/1 with a unit channel (all ones for a dense tensor). */
export function inputMaskFloat(x: tf.Tensor): tf.Tensor4D {
  const m = getMask(x);
  const flags = m == null ? tf.ones(x.shape.slice(0, -1)) : tf.cast(m, 'float32');
  m?.dispose();
  return tf.expandDims(flags, -1) as tf.Tensor4D;
}

/** A conv's expected output mask: the input mask convolved with a ones filter of the same geometry, > 0. */
export function expectedConvMask(x: tf.Tensor, k: number, strides: number, pad: Pad2D, dilation: number): tf.Tensor {
  return tf.tidy(() =>
    tf.squeeze(
      tf.greater(denseConv2d(inputMaskFloat(x), tf.ones([k, k, 1, 1]) as tf.Tensor4D, strides, pad, dilation), 0.5),
      [3],
    ),
  );
}

function denseActivation(activation: Activation, alpha: number, t: tf.Tensor): tf.Tensor {
  switch (activation) {
    case 'linear':
      return t;
    case 'relu':
      return tf.relu(t);
    case 'relu6':
      return tf.relu6(t);
    case 'leakyRelu':
      return tf.leakyRelu(t, alpha);
    case 'sigmoid':
      return tf.sigmoid(t);
    case 'tanh':
      return tf.tanh(t);
  }
}

/** Accumulator state of `shape` spread over the activations' interesting ranges, with a sparse residual. */
export function accumulatorState(shape: number[], seed: number): [tf.Tensor4D, tf.Tensor4D] {
  const a = randn(shape, seed, 3) as tf.Tensor4D;
  const keep = tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', seed + 1), 0.5), 'float32');
  return [a, tf.mul(randn(shape, seed + 2, 0.05), keep) as tf.Tensor4D];
}

/**
 * sparseAccumulate as dense tf ops: the expected outputs, and the pixels too close to the threshold to call in
 * float32 (`d`'s mask says which pixels are active; none: all).
 */
export function accumulateReference(
  a: tf.Tensor,
  r: tf.Tensor,
  d: tf.Tensor,
  threshold: number,
  activation: Activation,
  alpha: number,
  statePrecision: StatePrecision = 'fp32',
) {
  // Half state: the state rounded to IEEE half where it is read and written (on the host; the rounding has a test of
  // its own against numpy's float16).
  const stored = (t: tf.Tensor) =>
    statePrecision === 'fp16' ? tf.tensor(roundToHalf(t.dataSync() as Float32Array), t.shape) : t;
  a = stored(a);
  r = stored(r);
  const maskT = getMask(d);
  const active = maskT == null ? tf.cast(tf.onesLike(tf.sum(d, -1)), 'bool') : maskT;
  const s = tf.add(r, d);
  const sum = tf.add(a, s);
  const next = stored(sum);
  const out = tf.sub(denseActivation(activation, alpha, next), denseActivation(activation, alpha, a));
  const largest = tf.max(tf.abs(out), -1);
  const flushed = tf.logicalAnd(active, tf.greater(largest, threshold));
  const ambiguous = tf.logicalAnd(active, tf.less(tf.abs(tf.sub(largest, threshold)), 1e-5));
  const f = tf.expandDims(flushed, -1);
  const act = tf.expandDims(active, -1);
  return {
    delta: tf.where(f, out, tf.zerosLike(out)),
    accumulated: tf.where(f, next, a),
    // What the stored A lost stays in R (0 in float32 state).
    residual: tf.where(f, stored(tf.sub(sum, next)), tf.where(act, stored(s), r)),
    mask: flushed,
    ambiguous,
  };
}

/** Zeroes the pixels flagged ambiguous so that they do not decide a comparison. */
export function dropPixels(t: tf.Tensor, ambiguous: tf.Tensor): tf.Tensor {
  return tf.where(tf.expandDims(ambiguous, -1), tf.zerosLike(t), t);
}

/**
 * Asserts an accumulator's outputs against `accumulateReference`'s: values within `[rtol, atol]` (delta and state
 * each), pixels within float32 rounding of the threshold left out; the emitted mask, where either decision is
 * right at those pixels; exact zeros at inactive pixels.
 */
export function expectAccumulated(
  got: {delta: tf.Tensor; accumulated: tf.Tensor; residual: tf.Tensor},
  want: ReturnType<typeof accumulateReference>,
  ctx: string,
  tolerances: {delta: [number, number]; state: [number, number]},
): void {
  const amb = want.ambiguous;
  const close = (a: tf.Tensor, b: tf.Tensor, what: string, [rtol, atol]: [number, number]) =>
    expectClose(dropPixels(a, amb), dropPixels(b, amb), `${ctx} ${what}`, rtol, atol);
  close(got.delta, want.delta, 'delta', tolerances.delta);
  close(got.accumulated, want.accumulated, 'accumulated', tolerances.state);
  close(got.residual, want.residual, 'residual', tolerances.state);
  const gotMask = getMask(got.delta) ?? tf.onesLike(amb);
  expectMask(got.delta, tf.where(amb, gotMask, want.mask), `${ctx} mask`);
  expectZerosWhereInactive(got.delta, ctx);
}
