/** Argument checks shared by the three delta convolution ops. */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {
  checkDataFormat,
  checkOutputSize,
  checkPad2D,
  checkRank,
  DimRoundingMode,
  fail,
  PadSpec2D,
  positiveInts,
  shapeStr,
  toFloatTensor,
} from './validation';

export type ConvKind = 'regular' | 'depthwise' | 'transpose';

export interface CheckedConv {
  x4: Tensor4D;
  filter: Tensor4D;
  bias?: Tensor;
  strides: [number, number];
  dilations: [number, number];
  /** Whether x was rank 3 and got a batch dimension of 1. */
  reshaped: boolean;
}

/**
 * Checks x (NHWC, rank 3 or 4), filter, bias, strides, pad and dilations exactly as tf.conv2d,
 * tf.depthwiseConv2d or tf.conv2dTranspose would accept them, and the channel counts between
 * them. For 'transpose', `outputShape` is checked by the op itself.
 */
export function checkConvInputs(
  op: string,
  xArg: Tensor | TensorLike,
  filterArg: Tensor | TensorLike,
  biasArg: Tensor | TensorLike | undefined,
  stridesArg: number | [number, number],
  pad: PadSpec2D,
  dataFormat: string | undefined,
  dilationsArg: number | [number, number],
  dimRoundingMode: DimRoundingMode | undefined,
  kind: ConvKind,
  outputShape?: number[],
): CheckedConv {
  const x = toFloatTensor(op, 'x', xArg);
  const filter = toFloatTensor(op, 'filter', filterArg);
  if (x.rank !== 3 && x.rank !== 4) {
    fail(op, 'x', `must be rank 4 (NHWC) or rank 3 (HWC), got rank ${x.rank} of shape ${shapeStr(x.shape)}`);
  }
  const layout = kind === 'transpose' ? 'HW out in' : kind === 'depthwise' ? 'HW in multiplier' : 'HWIO';
  checkRank(op, 'filter', filter, 4, layout);
  checkDataFormat(op, dataFormat, 'NHWC');
  const strides = positiveInts(op, 'strides', stridesArg, 2) as [number, number];
  const dilations = positiveInts(op, 'dilations', dilationsArg, 2) as [number, number];
  if (!(strides.every((s) => s === 1) || dilations.every((d) => d === 1))) {
    fail(
      op,
      'dilations',
      `must be 1 when strides > 1, got strides ${shapeStr(strides)} and dilations ${shapeStr(dilations)}`,
    );
  }
  checkPad2D(op, pad, dimRoundingMode);
  const reshaped = x.rank === 3;
  const x4 = (
    reshaped ? tf.reshape(x, [1, ...(x.shape as number[])] as [number, number, number, number]) : x
  ) as Tensor4D;
  const inChannels = x4.shape[3];
  const filterIn = kind === 'transpose' ? filter.shape[3] : filter.shape[2];
  if (filterIn !== inChannels) {
    fail(
      op,
      'filter',
      `must have ${inChannels} input channels (dimension ${kind === 'transpose' ? 3 : 2}) ` +
        `to match 'x' ${shapeStr(x.shape)}, got ${shapeStr(filter.shape)}`,
    );
  }
  if (filter.size === 0) fail(op, 'filter', `must not be empty, got ${shapeStr(filter.shape)}`);
  if (x4.size === 0) fail(op, 'x', `must not be empty, got ${shapeStr(x.shape)}`);

  let outChannels: number;
  let outSpatial: number[];
  if (kind === 'transpose') {
    if (outputShape == null || outputShape.length !== 4 || !outputShape.every((v) => Number.isInteger(v) && v > 0)) {
      fail(
        op,
        'outputShape',
        `must be 4 positive integers [batch, height, width, channels], got ${JSON.stringify(outputShape)}`,
      );
    }
    if (outputShape[0] !== x4.shape[0] || outputShape[3] !== filter.shape[2]) {
      fail(
        op,
        'outputShape',
        `${shapeStr(outputShape)} must have batch ${x4.shape[0]} (from 'x') and ` +
          `${filter.shape[2]} channels (filter dimension 2 of ${shapeStr(filter.shape)})`,
      );
    }
    if (dilations.some((d) => d !== 1)) fail(op, 'dilations', 'must be 1 for a transposed convolution');
    const info = tf.backend_util.computeConv2DInfo(
      outputShape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    if (info.outHeight !== x4.shape[1] || info.outWidth !== x4.shape[2]) {
      fail(
        op,
        'outputShape',
        `${shapeStr(outputShape)} is inconsistent with 'x' ${shapeStr(x.shape)}: ` +
          `a convolution of that shape with this filter, strides and pad gives ` +
          `${info.outHeight}x${info.outWidth}, not ${x4.shape[1]}x${x4.shape[2]}`,
      );
    }
    outChannels = filter.shape[2];
    outSpatial = [outputShape[1], outputShape[2]];
  } else {
    const info = tf.backend_util.computeConv2DInfo(
      x4.shape,
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      kind === 'depthwise',
    );
    outChannels = info.outChannels;
    outSpatial = [info.outHeight, info.outWidth];
  }
  checkOutputSize(op, x.shape, outSpatial);

  let bias: Tensor | undefined;
  if (biasArg != null) {
    bias = toFloatTensor(op, 'bias', biasArg);
    if (bias.rank !== 1 || bias.shape[0] !== outChannels) {
      fail(op, 'bias', `must have shape [${outChannels}] (the output channels), got ${shapeStr(bias.shape)}`);
    }
  }
  return {x4, filter: filter as Tensor4D, bias, strides, dilations, reshaped};
}
