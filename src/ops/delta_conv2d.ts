/**
 * deltaConv2d: the convolution of a sparse delta tensor. Same arguments as tf.conv2d; the output
 * carries the propagated update mask. No bias by default, because in a delta stream the bias is
 * applied once (on the first frame); pass `bias` for that frame and the output is dense.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, Tensor1D, Tensor3D, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {DeltaConv2D, DeltaConv2DAttrs} from './kernel_names';
import {checkConvInputs} from './conv_checks';
import type {DimRoundingMode, PadSpec2D} from './validation';

function deltaConv2d_<T extends Tensor3D | Tensor4D>(
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
    'deltaConv2d',
    x,
    filter,
    bias,
    strides,
    pad,
    dataFormat,
    dilations,
    dimRoundingMode,
    'regular',
  );
  const attrs: DeltaConv2DAttrs = {strides: c.strides, pad, dilations: c.dilations, dimRoundingMode};
  const inputs: {[name: string]: Tensor} = {x: c.x4, filter: c.filter};
  if (c.bias != null) inputs.bias = c.bias;
  const out = tf.engine().runKernel(DeltaConv2D, inputs, attrs as unknown as NamedAttrMap) as Tensor4D;
  return (c.reshaped ? tf.reshape(out, out.shape.slice(1) as [number, number, number]) : out) as T;
}

export const deltaConv2d = tf.op({deltaConv2d_});
