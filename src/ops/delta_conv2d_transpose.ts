/**
 * deltaConv2dTranspose: tf.conv2dTranspose on a sparse delta tensor (filter
 * [kh, kw, outChannels, inChannels]); an output pixel is active when any active input pixel
 * contributes to it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {NamedAttrMap, Tensor, Tensor1D, Tensor3D, Tensor4D, TensorLike} from '@tensorflow/tfjs-core';

import {checkConvInputs} from './conv_checks';
import {DeltaConv2DTranspose, DeltaConv2DTransposeAttrs} from './kernel_names';
import type {DimRoundingMode, PadSpec2D} from './validation';

function deltaConv2dTranspose_<T extends Tensor3D | Tensor4D>(
  x: T | TensorLike,
  filter: Tensor4D | TensorLike,
  outputShape: [number, number, number, number] | [number, number, number],
  strides: [number, number] | number,
  pad: PadSpec2D,
  dimRoundingMode?: DimRoundingMode,
  bias?: Tensor1D | TensorLike,
): T {
  const shape4 = (outputShape != null && outputShape.length === 3 ? [1, ...outputShape] : outputShape) as [
    number,
    number,
    number,
    number,
  ];
  const c = checkConvInputs(
    'deltaConv2dTranspose',
    x,
    filter,
    bias,
    strides,
    pad,
    'NHWC',
    1,
    dimRoundingMode,
    'transpose',
    shape4,
  );
  const attrs: DeltaConv2DTransposeAttrs = {outputShape: shape4, strides: c.strides, pad, dimRoundingMode};
  const inputs: {[name: string]: Tensor} = {x: c.x4, filter: c.filter};
  if (c.bias != null) inputs.bias = c.bias;
  const out = tf.engine().runKernel(DeltaConv2DTranspose, inputs, attrs as unknown as NamedAttrMap) as Tensor4D;
  return (c.reshaped ? tf.reshape(out, out.shape.slice(1) as [number, number, number]) : out) as T;
}

export const deltaConv2dTranspose = tf.op({deltaConv2dTranspose_});
