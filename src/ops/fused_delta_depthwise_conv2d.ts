/**
 * fusedDeltaDepthwiseConv2d: deltaDepthwiseConv2d (no bias) followed by sparseAccumulate of its output with the
 * layer's state, as one op: what a delta DepthwiseConv2D layer with a truncating activation runs after its first
 * frame. The result equals the two ops in sequence; a backend with a fused kernel ('cuda') never writes the
 * conv's output to memory and reads the delta input only at active taps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {checkConvInputs} from './conv_checks';
import {FusedDeltaDepthwiseConv2D, FusedDeltaDepthwiseConv2DAttrs} from './kernel_names';
import {accumulateAttrs, SparseAccumulateConfig, SparseAccumulateResult} from './sparse_accumulate';
import {checkSameShape, fail, shapeStr, toFloatTensor} from './validation';
import type {DimRoundingMode, PadSpec2D} from './validation';

export interface FusedDeltaDepthwiseConv2dArgs extends SparseAccumulateConfig {
  /** The delta input, NHWC, with its mask. */
  x: Tensor4D | TensorLike;
  /** [kh, kw, inChannels, channelMultiplier]. */
  filter: Tensor4D | TensorLike;
  strides: [number, number] | number;
  pad: PadSpec2D;
  dilations?: [number, number] | number;
  dimRoundingMode?: DimRoundingMode;
  /** The activation's accumulated input and truncated residual, both of the conv's output shape. */
  accumulated: Tensor4D | TensorLike;
  residual: Tensor4D | TensorLike;
}

function fusedDeltaDepthwiseConv2d_(args: FusedDeltaDepthwiseConv2dArgs): SparseAccumulateResult<Tensor4D> {
  const op = 'fusedDeltaDepthwiseConv2d';
  const {strides, pad, dilations = 1, dimRoundingMode} = args;
  const c = checkConvInputs(
    op,
    args.x,
    args.filter,
    undefined,
    strides,
    pad,
    'NHWC',
    dilations,
    dimRoundingMode,
    'depthwise',
  );
  if (c.reshaped) fail(op, 'x', `must be rank 4 (NHWC), got shape ${shapeStr(c.x4.shape.slice(1))}`);
  const info = tf.backend_util.computeConv2DInfo(
    c.x4.shape,
    c.filter.shape,
    c.strides,
    c.dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const a = toFloatTensor(op, 'accumulated', args.accumulated);
  const r = toFloatTensor(op, 'residual', args.residual);
  if (!tf.util.arraysEqual(a.shape, info.outShape)) {
    fail(op, 'accumulated', `must have the conv's output shape ${shapeStr(info.outShape)}, got ${shapeStr(a.shape)}`);
  }
  checkSameShape(op, 'residual', r, 'accumulated', a);
  const attrs: FusedDeltaDepthwiseConv2DAttrs = {
    strides: c.strides,
    pad,
    dilations: c.dilations,
    dimRoundingMode,
    ...accumulateAttrs(op, args),
  };
  const [delta, accumulated, residual] = tf
    .engine()
    .runKernel(
      FusedDeltaDepthwiseConv2D,
      {x: c.x4, filter: c.filter, accumulated: a, residual: r},
      attrs as unknown as NamedAttrMap,
    ) as Tensor[];
  return {delta: delta as Tensor4D, accumulated: accumulated as Tensor4D, residual: residual as Tensor4D};
}

export const fusedDeltaDepthwiseConv2d = tf.op({fusedDeltaDepthwiseConv2d_});
