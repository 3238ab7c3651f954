/**
 * deltaDepthwiseConv2d: tf.depthwiseConv2d on a sparse delta tensor (filter
 * [kh, kw, inChannels, channelMultiplier]); the output carries the propagated mask.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, Tensor1D, Tensor3D, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {checkConvInputs} from './conv_checks';
import {DeltaDepthwiseConv2D, DeltaDepthwiseConv2DAttrs} from './kernel_names';
import type {DimRoundingMode, PadSpec2D} from './validation';

function deltaDepthwiseConv2d_<T extends Tensor3D | Tensor4D>(
  x: T | TensorLike,
  filter: Tensor4D | TensorLike,
  strides: [number, number] | number,
  pad: PadSpec2D,
  dataFormat: 'NHWC' = 'NHWC',
  dilations: [number, number] | number = [1, 1],
  dimRoundingMode?: DimRoundingMode,
  bias?: Tensor1D | TensorLike,
): T {
  const c = checkConvInputs(
    'deltaDepthwiseConv2d',
    x,
    filter,
    bias,
    strides,
    pad,
    dataFormat,
    dilations,
    dimRoundingMode,
    'depthwise',
  );
  const attrs: DeltaDepthwiseConv2DAttrs = {strides: c.strides, pad, dilations: c.dilations, dimRoundingMode};
  const inputs: {[name: string]: Tensor} = {x: c.x4, filter: c.filter};
  if (c.bias != null) inputs.bias = c.bias;
  const out = tf.engine().runKernel(DeltaDepthwiseConv2D, inputs, attrs as unknown as NamedAttrMap) as Tensor4D;
  return (c.reshaped ? tf.reshape(out, out.shape.slice(1) as [number, number, number]) : out) as T;
}

export const deltaDepthwiseConv2d = tf.op({deltaDepthwiseConv2d_});
