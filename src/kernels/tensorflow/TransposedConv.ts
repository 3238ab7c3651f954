/**
 * Transposed convolutions on 'tensorflow' as forward convolutions, one per stride phase. TensorFlow 2.21's oneDNN
 * Conv2DBackpropInput and Conv3DBackpropInputV2 return wrong values on CPUs with AVX-512 BF16 (this project's
 * machines among them): the output channels from the 33rd on for many shapes with more than 32, and, now and then
 * after earlier calls in the process, dropped taps when both channel counts are 1. Forward Conv2D and Conv3D are
 * right there, and a transposed convolution is a set of them: output position o = q * s + p (phase p < s) sums
 * dy[q - j] * W[p + j * s], the full correlation of dy with the phase's taps W[p::s] flipped. So each phase is one
 * forward convolution of dy padded by (taps - 1), and the phases interleave into the output: the same arithmetic
 * as the transposed kernel, no zero-inserted input, no extra multiplies.
 *
 * tfjs-node's Conv2DBackpropInput and Conv3DBackpropInputV2 kernels are wrapped (tf.conv2dTranspose,
 * tf.conv3dTranspose and the input gradients of tf.conv2d / tf.conv3d take it), and TfOps's transposed convolutions,
 * which the delta kernels call, use transposedConvValid directly. It costs time: 1.3-3.2x TF's kernel on large layers
 * and ~2 ms of op dispatch on small ones (benchmarks/ops/transposed_conv_tensorflow.ts). Where TF's kernel is right
 * (test/kernels/tensorflow/transposed_conv.test.ts passes with it), TFJS_DELTA_TENSORFLOW_TRANSPOSED=native keeps it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Conv2DBackpropInput, Conv3DBackpropInputV2} from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {envString} from '../../io/env';
import {tensorOf} from '../composite/composite_util';
import {hasTensorflowKernel, wrapTensorflowKernels} from './wrap_kernels';

const WRAPPED = Symbol('tfjs-delta transposed conv');

/** Whether TFJS_DELTA_TENSORFLOW_TRANSPOSED=native asks for TensorFlow's own transposed kernels ('phases' default). */
export function transposedConvsNative(): boolean {
  const mode = envString('TFJS_DELTA_TENSORFLOW_TRANSPOSED') ?? 'phases';
  if (mode !== 'phases' && mode !== 'native')
    throw new Error(`TFJS_DELTA_TENSORFLOW_TRANSPOSED must be 'phases' or 'native', got '${mode}'`);
  return mode === 'native';
}

/** Every tuple of phases, p[d] < strides[d], in row-major order. */
function phaseTuples(strides: number[]): number[][] {
  return strides.reduce<number[][]>(
    (tuples, s) => tuples.flatMap((t) => Array.from({length: s}, (_, p) => [...t, p])),
    [[]],
  );
}

/**
 * The 'valid' transposed convolution of dy [b, ...n, cIn] with filter [...k, cOut, cIn] (tfjs's transposed layout)
 * at `strides`, over 2 or 3 spatial dimensions: [b, ...((n - 1) * s + k), cOut], every input pixel reaching
 * full[i * s + t] through tap t.
 */
export function transposedConvValid(dy: Tensor, filter: Tensor, strides: number[]): Tensor {
  const rank = strides.length;
  if (rank !== 2 && rank !== 3) throw new Error(`transposedConvValid: 2 or 3 spatial dimensions, got ${rank}`);
  return tf.tidy(() => {
    const spatial = Array.from({length: rank}, (_, d) => d);
    const k = filter.shape.slice(0, rank);
    const [cOut, cIn] = filter.shape.slice(rank);
    const b = dy.shape[0];
    const n = dy.shape.slice(1, 1 + rank);
    const full = n.map((size, d) => (size - 1) * strides[d] + k[d]);
    // Output slots per phase: every phase padded to the first phase's length, then interleaved and cropped.
    const slots = full.map((size, d) => Math.ceil(size / strides[d]));
    // The forward layout [...k, cIn, cOut].
    const forward = tf.transpose(filter, [...spatial, rank + 1, rank]);
    const conv = (x: Tensor, w: Tensor) =>
      rank === 2
        ? tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')
        : tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 1, 'valid');
    const phases = phaseTuples(strides).map((p) => {
      const taps = p.map((pd, d) => Math.ceil((k[d] - pd) / strides[d]));
      if (taps.some((t) => t <= 0)) return tf.zeros([b, ...slots, cOut]);
      const sub = tf.stridedSlice(forward, [...p, 0, 0], [...k, cIn, cOut], [...strides, 1, 1]);
      const flipped = tf.reverse(sub, spatial);
      // Full correlation: (taps - 1) zeros before, and after them as many as fill the phase's slots.
      const padded = tf.pad(dy, [[0, 0], ...taps.map((t, d): [number, number] => [t - 1, slots[d] - n[d]]), [0, 0]]);
      return conv(padded, flipped);
    });
    if (phases.length === 1) return phases[0];
    // [b, phases, ...slots, cOut] -> [b, ...slots, ...strides, cOut] -> [b, slot0, s0, slot1, s1, ..., cOut].
    const stacked = tf.reshape(tf.stack(phases, 1), [b, ...strides, ...slots, cOut]);
    const order = [0, ...spatial.flatMap((d) => [1 + rank + d, 1 + d]), 1 + 2 * rank];
    const interleaved = tf.reshape(tf.transpose(stacked, order), [b, ...slots.map((s, d) => s * strides[d]), cOut]);
    return tf.slice(interleaved, new Array(rank + 2).fill(0), [b, ...full, cOut]);
  });
}

/**
 * full[..., before + o, ...] for o < size on each spatial dimension, zeros outside full (tfjs resolves 'same' with a
 * kernel smaller than the stride to a negative leading pad in 3D).
 */
function cropAt(full: Tensor, before: number[], size: number[]): Tensor {
  return tf.tidy(() => {
    const rank = before.length;
    const start = before.map((b, d) => Math.min(Math.max(0, b), full.shape[1 + d]));
    const have = before.map((b, d) => Math.max(0, Math.min(b + size[d], full.shape[1 + d]) - start[d]));
    const kept = tf.slice(full, [0, ...start, 0], [full.shape[0], ...have, full.shape[rank + 1]]);
    const lead = before.map((b, d) => Math.min(size[d], Math.max(0, -b)));
    const zeros = lead.map((z, d): [number, number] => [z, size[d] - have[d] - z]);
    if (zeros.every(([a, z]) => a === 0 && z === 0)) return kept;
    return tf.pad(kept, [[0, 0], ...zeros, [0, 0]]);
  });
}

interface Conv2DBackpropInputAttrs {
  inputShape: [number, number, number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface Conv3DBackpropInputAttrs {
  inputShape: [number, number, number, number, number];
  strides: number | [number, number, number];
  pad: 'same' | 'valid';
}

function conv2dBackpropInput(dy: Tensor, filter: Tensor, attrs: Conv2DBackpropInputAttrs): Tensor {
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  return tf.tidy(() =>
    cropAt(
      transposedConvValid(dy, filter, [info.strideHeight, info.strideWidth]),
      [info.padInfo.top, info.padInfo.left],
      [info.inHeight, info.inWidth],
    ),
  );
}

function conv3dBackpropInput(dy: Tensor, filter: Tensor, attrs: Conv3DBackpropInputAttrs): Tensor {
  const info = tf.backend_util.computeConv3DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
  );
  return tf.tidy(() =>
    cropAt(
      transposedConvValid(dy, filter, [info.strideDepth, info.strideHeight, info.strideWidth]),
      [info.padInfo.front, info.padInfo.top, info.padInfo.left],
      [info.inDepth, info.inHeight, info.inWidth],
    ),
  );
}

/**
 * Wraps tfjs-node's Conv2DBackpropInput and Conv3DBackpropInputV2 (backend 'tensorflow') so that channels-last
 * transposed convolutions run as forward convolutions by phase; NCHW calls go to tfjs-node's kernel unchanged (and
 * every call with TFJS_DELTA_TENSORFLOW_TRANSPOSED=native, read when this runs).
 * Call it after '@tensorflow/tfjs-node' is loaded (tfjs-delta does at import when it already is, and its CLI and
 * tests after loading it); again is harmless. Returns whether tfjs-node's kernels were found.
 */
export function transposedConvsByPhases(): boolean {
  if (transposedConvsNative()) return [Conv2DBackpropInput, Conv3DBackpropInputV2].some((n) => hasTensorflowKernel(n));
  return wrapTensorflowKernels([Conv2DBackpropInput, Conv3DBackpropInputV2], WRAPPED, (original, name) => (args) => {
    const {inputs, attrs} = args as {inputs: {[name: string]: TensorInfo}; attrs: NamedAttrMap};
    const dy = tensorOf(inputs.dy);
    const filter = tensorOf(inputs.filter);
    if (name === Conv3DBackpropInputV2)
      return conv3dBackpropInput(dy, filter, attrs as unknown as Conv3DBackpropInputAttrs);
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    if (a.dataFormat === 'NCHW') return original.kernelFunc(args);
    // A Tensor is a valid kernel output (tfjs-node's own kernels return Tensors).
    return conv2dBackpropInput(dy, filter, a);
  });
}
