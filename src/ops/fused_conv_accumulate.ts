/**
 * What the fused delta conv blocks (fusedDeltaConv2d, fusedDeltaDepthwiseConv2d) share: their arguments, checked as
 * the conv op and sparseAccumulate check theirs, and the kernel call. The result equals the conv (no bias) followed
 * by sparseAccumulate of its output with the layer's state.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {checkConvInputs} from './conv_checks';
import type {DeltaConv2DAttrs, SparseAccumulateAttrs} from './kernel_names';
import {accumulateAttrs, SparseAccumulateConfig, SparseAccumulateResult} from './sparse_accumulate';
import {checkSameShape, fail, shapeStr, toFloatTensor} from './validation';
import type {DimRoundingMode, PadSpec2D} from './validation';

export interface FusedConvAccumulateArgs extends SparseAccumulateConfig {
  /** The delta input, NHWC, with its mask. */
  x: Tensor4D | TensorLike;
  /** The conv's filter, as the unfused delta op takes it. */
  filter: Tensor4D | TensorLike;
  strides: [number, number] | number;
  pad: PadSpec2D;
  dilations?: [number, number] | number;
  dimRoundingMode?: DimRoundingMode;
  /** The activation's accumulated input and truncated residual, both of the conv's output shape. */
  accumulated: Tensor4D | TensorLike;
  residual: Tensor4D | TensorLike;
}

export function runFusedConvAccumulate(
  op: string,
  kernel: string,
  kind: 'regular' | 'depthwise',
  args: FusedConvAccumulateArgs,
): SparseAccumulateResult<Tensor4D> {
  const {strides, pad, dilations = 1, dimRoundingMode} = args;
  const c = checkConvInputs(op, args.x, args.filter, undefined, strides, pad, 'NHWC', dilations, dimRoundingMode, kind);
  if (c.reshaped) fail(op, 'x', `must be rank 4 (NHWC), got shape ${shapeStr(c.x4.shape.slice(1))}`);
  const info = tf.backend_util.computeConv2DInfo(
    c.x4.shape,
    c.filter.shape,
    c.strides,
    c.dilations,
    pad,
    dimRoundingMode,
    kind === 'depthwise',
  );
  const a = toFloatTensor(op, 'accumulated', args.accumulated);
  const r = toFloatTensor(op, 'residual', args.residual);
  if (!tf.util.arraysEqual(a.shape, info.outShape)) {
    fail(op, 'accumulated', `must have the conv's output shape ${shapeStr(info.outShape)}, got ${shapeStr(a.shape)}`);
  }
  checkSameShape(op, 'residual', r, 'accumulated', a);
  const attrs: DeltaConv2DAttrs & SparseAccumulateAttrs = {
    strides: c.strides,
    pad,
    dilations: c.dilations,
    dimRoundingMode,
    ...accumulateAttrs(op, args),
  };
  const [delta, accumulated, residual] = tf
    .engine()
    .runKernel(
      kernel,
      {x: c.x4, filter: c.filter, accumulated: a, residual: r},
      attrs as unknown as NamedAttrMap,
    ) as Tensor[];
  return {delta: delta as Tensor4D, accumulated: accumulated as Tensor4D, residual: residual as Tensor4D};
}
