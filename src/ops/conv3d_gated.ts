/**
 * conv3dGated: FLAVR's gated 3D convolution block in one op.
 *   y   = conv3d(x, filter) + bias            (or the transposed conv3d, as tf.conv3dTranspose)
 *   g   = sigmoid(mean_{D,H,W}(y) . gateKernel + gateBias)     per sample and channel
 *   out = activation(y * g)
 * x is NDHWC; filter is [kd, kh, kw, in, out] (DHWIO), or [kd, kh, kw, out, in] when transposed,
 * exactly as tf.conv3d / tf.conv3dTranspose. gateKernel is [C, C] (in x out, the 1x1x1 conv of
 * the SE gate), gateBias [C]. pad: 'same' | 'valid' | a number (every side) | explicit NDHWC
 * pairs [[0,0],[front,back],[top,bottom],[left,right],[0,0]] (explicit pads reproduce PyTorch's
 * symmetric padding, which differs from 'same' at stride 2). Differentiable (see
 * conv3d_gated_grad.ts), so models built from it can be fine-tuned with model.fit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, Tensor5D, TensorLike} from '@tensorflow/tfjs-core';

import {Conv3DGated, Conv3DGatedAttrs} from './kernel_names';
import {
  Activation,
  checkActivation,
  checkNonEmpty,
  checkRank,
  fail,
  positiveInts,
  shapeStr,
  toFloatTensor,
} from './validation';

export type Pad3D =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number], [number, number]];

export interface Conv3DGatedConfig {
  x: Tensor5D | TensorLike;
  filter: Tensor5D | TensorLike;
  /** [outChannels]; omitted = no bias (FLAVR's 2x encoder has none). */
  bias?: Tensor | TensorLike;
  gateKernel: Tensor | TensorLike;
  gateBias: Tensor | TensorLike;
  strides?: number | [number, number, number];
  pad?: Pad3D;
  /** Transposed convolution (tf.conv3dTranspose semantics). */
  transpose?: boolean;
  /** NDHWC output shape of the transposed conv; defaults to the largest consistent shape. */
  outputShape?: [number, number, number, number, number];
  activation?: Activation;
  alpha?: number;
}

type Pairs3 = [[number, number], [number, number], [number, number]];

/**
 * TensorFlow's 'same' padding: out = ceil(in / s), total pad max(0, (out - 1) * s + k - in), the
 * odd pixel at the back. (tfjs-core's computeConv3DInfo does not clamp at 0 when k < s, which
 * shifts tfjs-backend-cpu's windows by one; we follow TF, cuDNN users and tf.conv2d.)
 */
function samePads(spatialIn: number[], k: number[], strides: number[]): Pairs3 {
  return spatialIn.map((n, i) => {
    const total = Math.max(0, (Math.ceil(n / strides[i]) - 1) * strides[i] + k[i] - n);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  }) as Pairs3;
}

/** Resolves pad to explicit pairs and computes the output shape; shared with the gradient. */
export function resolveConv3DGeometry(
  op: string,
  xShape: number[],
  filterShape: number[],
  strides: [number, number, number],
  pad: Pad3D,
  transpose: boolean,
  outputShape?: number[],
): {pad: Pairs3; outputShape: [number, number, number, number, number]} {
  const k = filterShape.slice(0, 3);
  const outChannels = transpose ? filterShape[3] : filterShape[4];
  let pairs: Pairs3 | null = null;
  if (typeof pad === 'number') {
    if (!Number.isInteger(pad) || pad < 0) fail(op, 'pad', `must be a non-negative integer, got ${pad}`);
    pairs = [
      [pad, pad],
      [pad, pad],
      [pad, pad],
    ];
  } else if (Array.isArray(pad)) {
    const ok =
      pad.length === 5 &&
      pad.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0)) &&
      pad[0][0] === 0 &&
      pad[0][1] === 0 &&
      pad[4][0] === 0 &&
      pad[4][1] === 0;
    if (!ok) {
      fail(
        op,
        'pad',
        `explicit padding must be [[0,0],[front,back],[top,bottom],[left,right],[0,0]] ` +
          `of non-negative integers, got ${JSON.stringify(pad)}`,
      );
    }
    pairs = [pad[1], pad[2], pad[3]] as Pairs3;
  } else if (pad === 'valid') {
    pairs = [
      [0, 0],
      [0, 0],
      [0, 0],
    ];
  } else if (pad !== 'same') {
    fail(op, 'pad', `must be 'same', 'valid', a non-negative integer or explicit padding, got ${JSON.stringify(pad)}`);
  }
  const spatialIn = xShape.slice(1, 4);
  if (!transpose) {
    if (pairs == null) pairs = samePads(spatialIn, k, strides);
    const out = spatialIn.map((n, i) => Math.floor((n + pairs![i][0] + pairs![i][1] - k[i]) / strides[i]) + 1);
    if (out.some((o) => !(o > 0))) {
      fail(
        op,
        'x',
        `of shape ${shapeStr(xShape)} is too small for filter ${shapeStr(filterShape)} with ` +
          `strides ${shapeStr(strides)} and pad ${JSON.stringify(pad)}: output would be ${shapeStr(out)}`,
      );
    }
    return {pad: pairs, outputShape: [xShape[0], out[0], out[1], out[2], outChannels]};
  }
  // Transposed: the geometry is that of the forward conv from outputShape to x.
  let outShape = outputShape;
  if (outShape == null) {
    outShape = [
      xShape[0],
      ...spatialIn.map((n, i) =>
        pairs == null ? n * strides[i] : (n - 1) * strides[i] + k[i] - pairs[i][0] - pairs[i][1],
      ),
      outChannels,
    ];
  }
  if (outShape.length !== 5 || !outShape.every((v) => Number.isInteger(v) && v > 0)) {
    fail(op, 'outputShape', `must be 5 positive integers (NDHWC), got ${JSON.stringify(outputShape ?? outShape)}`);
  }
  if (outShape[0] !== xShape[0] || outShape[4] !== outChannels) {
    fail(
      op,
      'outputShape',
      `${shapeStr(outShape)} must have batch ${xShape[0]} (from 'x') and ` +
        `${outChannels} channels (filter dimension 3 of ${shapeStr(filterShape)})`,
    );
  }
  if (pairs == null) pairs = samePads(outShape.slice(1, 4), k, strides);
  const forward = outShape
    .slice(1, 4)
    .map((n, i) => Math.floor((n + pairs![i][0] + pairs![i][1] - k[i]) / strides[i]) + 1);
  if (!forward.every((f, i) => f === spatialIn[i])) {
    fail(
      op,
      'outputShape',
      `${shapeStr(outShape)} is inconsistent with 'x' ${shapeStr(xShape)}: the forward ` +
        `convolution of that shape gives ${shapeStr(forward)}, not ${shapeStr(spatialIn)}`,
    );
  }
  return {pad: pairs, outputShape: outShape as [number, number, number, number, number]};
}

function conv3dGated_(config: Conv3DGatedConfig): Tensor5D {
  const op = 'conv3dGated';
  if (config == null || typeof config !== 'object')
    fail(op, 'config', 'must be an object {x, filter, gateKernel, gateBias, ...}');
  const x = toFloatTensor(op, 'x', config.x);
  const filter = toFloatTensor(op, 'filter', config.filter);
  const transpose = config.transpose ?? false;
  checkRank(op, 'x', x, 5, 'NDHWC');
  checkNonEmpty(op, 'x', x);
  checkRank(op, 'filter', filter, 5, transpose ? 'DHW out in' : 'DHWIO');
  checkNonEmpty(op, 'filter', filter);
  const inChannels = x.shape[4];
  const filterIn = transpose ? filter.shape[4] : filter.shape[3];
  if (filterIn !== inChannels) {
    fail(
      op,
      'filter',
      `must have ${inChannels} input channels (dimension ${transpose ? 4 : 3}) to match ` +
        `'x' ${shapeStr(x.shape)}, got ${shapeStr(filter.shape)}`,
    );
  }
  const outChannels = (transpose ? filter.shape[3] : filter.shape[4]) as number;
  const inputs: {[name: string]: Tensor} = {x, filter};
  if (config.bias != null) {
    const bias = toFloatTensor(op, 'bias', config.bias);
    if (bias.rank !== 1 || bias.shape[0] !== outChannels) {
      fail(op, 'bias', `must have shape [${outChannels}] (the output channels), got ${shapeStr(bias.shape)}`);
    }
    inputs.bias = bias;
  }
  const gateKernel = toFloatTensor(op, 'gateKernel', config.gateKernel);
  if (!tf.util.arraysEqual(gateKernel.shape, [outChannels, outChannels])) {
    fail(
      op,
      'gateKernel',
      `must have shape [${outChannels},${outChannels}] (channels in x out), got ${shapeStr(gateKernel.shape)}`,
    );
  }
  const gateBias = toFloatTensor(op, 'gateBias', config.gateBias);
  if (!tf.util.arraysEqual(gateBias.shape, [outChannels])) {
    fail(op, 'gateBias', `must have shape [${outChannels}], got ${shapeStr(gateBias.shape)}`);
  }
  inputs.gateKernel = gateKernel;
  inputs.gateBias = gateBias;
  const strides = positiveInts(op, 'strides', config.strides ?? 1, 3) as [number, number, number];
  const activation = config.activation ?? 'linear';
  const alpha = config.alpha ?? 0.2;
  checkActivation(op, activation, alpha);
  const geometry = resolveConv3DGeometry(
    op,
    x.shape,
    filter.shape,
    strides,
    config.pad ?? 'same',
    transpose,
    config.outputShape,
  );
  const attrs: Conv3DGatedAttrs = {
    strides,
    pad: geometry.pad,
    transpose,
    outputShape: geometry.outputShape,
    activation,
    alpha,
  };
  return tf.engine().runKernel(Conv3DGated, inputs, attrs as unknown as NamedAttrMap) as Tensor5D;
}

export const conv3dGated = tf.op({conv3dGated_});
