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
