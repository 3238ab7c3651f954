/** Convolution geometry of the delta conv kernels, shared by every backend's kernels. */
import * as tf from '@tensorflow/tfjs-core';
import type {backend_util, NamedAttrMap, TensorInfo} from '@tensorflow/tfjs-core';

import type {DeltaConv2DAttrs} from '../ops/kernel_names';

type Shape4 = [number, number, number, number];

/** tfjs's Conv2DInfo of a DeltaConv2D / DeltaDepthwiseConv2D call. */
export function deltaConv2DInfo(
  x: TensorInfo,
  filter: TensorInfo,
  attrs: NamedAttrMap | undefined,
  depthwise: boolean,
): backend_util.Conv2DInfo {
  const {strides, pad, dilations, dimRoundingMode} = attrs as unknown as DeltaConv2DAttrs;
  return tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
  );
}

/**
 * A pointwise convolution: 1x1, stride 1, unpadded. Each output pixel reads only its own input pixel, so a delta
 * input's mask is the output's, and the conv is one matrix product over the pixels.
 */
export function isPointwise(info: backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return (
    info.filterHeight === 1 &&
    info.filterWidth === 1 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    p.top === 0 &&
    p.bottom === 0 &&
    p.left === 0 &&
    p.right === 0
  );
}
