/**
 * 1x1 convolutions on 'tensorflow' as matrix products. TensorFlow 2.x's oneDNN kernel for some 1x1 convolutions
 * (256 -> 1024 and 512 -> 2048 channels, ResNet-50's expansions, plain or fused, stride 1 or 2) dies with SIGFPE on
 * CPUs with AVX-512 BF16 / AMX, taking the process with it; its MatMul is unaffected and a 1x1 convolution is exactly
 * one: [pixels, in] x [in, out] over the pixels the stride keeps (a 1x1 window needs no padding, 'same' or 'valid').
 * tfjs-node's own Conv2D and FusedConv2D are wrapped: NHWC 1x1 calls take the product, every other call goes to
 * tfjs-node's kernel unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Conv2D, FusedConv2D} from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {tensorOf} from '../composite/composite_util';
import {wrapTensorflowKernels} from './wrap_kernels';

const WRAPPED = Symbol('tfjs-delta pointwise conv');

type ConvAttrs = {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | number[][];
  dilations?: number | [number, number];
  dataFormat?: string;
  activation?: string;
  leakyreluAlpha?: number;
};

function isPointwise(filter: TensorInfo, attrs: NamedAttrMap): boolean {
  const a = attrs as unknown as ConvAttrs;
  return (
    filter.shape.length === 4 &&
    filter.shape[0] === 1 &&
    filter.shape[1] === 1 &&
    // 'same' pads a 1x1 window by nothing at any stride; explicit pads must be zeros
    (a.pad === 'same' ||
      a.pad === 'valid' ||
      a.pad === 0 ||
      (Array.isArray(a.pad) && a.pad.flat().every((p) => p === 0))) &&
    (a.dataFormat == null || a.dataFormat === 'NHWC' || a.dataFormat === 'channelsLast')
  );
}

/** FusedConv2D's epilogue: bias, then the activation (prelu with weights broadcast against the NHWC output). */
export interface PointwiseEpilogue {
  bias?: Tensor;
  activation?: string;
  leakyreluAlpha?: number;
  preluActivationWeights?: Tensor;
}

/**
 * x [b, h, w, c] sampled every `strides` pixels, times filter [1, 1, c, co], as one MatMul (tf ops on the active
 * backend); with an epilogue, the fused MatMul's.
 */
export function pointwiseProduct(
  x: Tensor,
  filter: Tensor,
  strides: [number, number],
  epilogue: PointwiseEpilogue = {},
): Tensor {
  return tf.tidy(() => {
    const [sh, sw] = strides;
    let input = x as tf.Tensor4D;
    const [b, h, w, c] = input.shape;
    if (sh > 1 || sw > 1) input = tf.stridedSlice(input, [0, 0, 0, 0], [b, h, w, c], [1, sh, sw, 1]) as tf.Tensor4D;
    const [oh, ow] = [input.shape[1], input.shape[2]];
    const co = filter.shape[3]!;
    const {bias, activation = 'linear', leakyreluAlpha, preluActivationWeights: prelu} = epilogue;
    const rows = tf.fused.matMul({
      a: tf.reshape(input, [b * oh * ow, c]),
      b: tf.reshape(filter, [c, co]),
      bias: bias != null ? tf.reshape(bias, [-1]) : undefined,
      activation: (activation === 'prelu' ? 'linear' : activation) as tf.fused.Activation,
      leakyreluAlpha,
    });
    const y = tf.reshape(rows, [b, oh, ow, co]);
    return activation === 'prelu' && prelu != null ? tf.prelu(y, prelu) : y;
  });
}

function pointwise(inputs: {[name: string]: TensorInfo}, attrs: NamedAttrMap): Tensor {
  const a = attrs as unknown as ConvAttrs;
  const t = (info: TensorInfo | undefined) => (info == null ? undefined : tensorOf(info));
  return pointwiseProduct(
    t(inputs.x)!,
    t(inputs.filter)!,
    typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides,
    {
      bias: t(inputs.bias),
      activation: a.activation,
      leakyreluAlpha: a.leakyreluAlpha,
      preluActivationWeights: t(inputs.preluActivationWeights),
    },
  );
}

/**
 * Wraps tfjs-node's Conv2D and FusedConv2D (backend 'tensorflow') so that 1x1 NHWC convolutions run as matrix
 * products. Call it after '@tensorflow/tfjs-node' is loaded (tfjs-delta does at import when it already is, and its
 * CLI and tests after loading it); again is harmless. Returns whether tfjs-node's kernels were found.
 */
export function pointwiseConvsAsMatMul(): boolean {
  return wrapTensorflowKernels([Conv2D, FusedConv2D], WRAPPED, (original) => (args) => {
    const {inputs, attrs} = args as {inputs: {[name: string]: TensorInfo}; attrs: NamedAttrMap};
    if (!isPointwise(inputs.filter, attrs)) return original.kernelFunc(args);
    // A Tensor is a valid kernel output (tfjs-node's own kernels return Tensors).
    return pointwise(inputs, attrs);
  });
}
