/**
 * Delta convolution (regular and depthwise) from TF ops: the dense convolution of the delta
 * (inactive pixels hold exact zeros), kept at output pixels whose receptive field holds an active
 * in-bounds input pixel: the input mask convolved with a ones filter of the same geometry, > 0.
 * With a bias (first frame of a stream) the output is dense, as in the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {backend_util, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {ConvGeometry, explicitPads, NodeBackend, TfOps} from './tf_ops';

export function deltaConv(backend: NodeBackend, x: TensorInfo, filter: TensorInfo, bias: TensorInfo|undefined,
                          info: backend_util.Conv2DInfo, depthwise: boolean): Tensor {
  const ops = new TfOps(backend);
  return tf.tidy(() => {
    const g: ConvGeometry = {
      strides: [info.strideHeight, info.strideWidth],
      dilations: [info.dilationHeight, info.dilationWidth],
      pads: explicitPads(info),
    };
    const y = depthwise ? ops.depthwiseConv2d(x, filter, g) : ops.conv2d(x, filter, g);
    if (bias != null) return ops.biasAdd(y, bias);
    const reach = ops.conv2d(ops.floatMask(x), ops.fill([info.filterHeight, info.filterWidth, 1, 1], 1), g);
    return ops.masked(y, ops.binary('Greater', reach, ops.scalar(0)));
  });
}
