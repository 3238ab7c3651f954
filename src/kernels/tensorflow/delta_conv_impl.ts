/**
 * Delta convolution (regular and depthwise) from TF ops: the dense convolution of the delta
 * (inactive pixels hold exact zeros), kept at output pixels whose receptive field holds an active
 * in-bounds input pixel: the input mask convolved with a ones filter of the same geometry, > 0.
 * With a bias (first frame of a stream) the output is dense, as in the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {deltaConv2DInfo} from '../conv_geometry';
import {ConvGeometry, explicitPads, NodeBackend, TfOps} from './tf_ops';

/** The 'tensorflow' kernel of DeltaConv2D (depthwise = false) or DeltaDepthwiseConv2D. */
export function deltaConvConfig(kernelName: string, depthwise: boolean): KernelConfig {
  return {
    kernelName,
    backendName: 'tensorflow',
    kernelFunc: ({inputs, backend, attrs}) => {
      const {x, filter, bias} = inputs as {x: TensorInfo, filter: TensorInfo, bias?: TensorInfo};
      const info = deltaConv2DInfo(x, filter, attrs, depthwise);
      const g: ConvGeometry = {
        strides: [info.strideHeight, info.strideWidth],
        dilations: [info.dilationHeight, info.dilationWidth],
        pads: explicitPads(info),
      };
      const ops = new TfOps(backend as NodeBackend);
      return tf.tidy(() => {
        const y = depthwise ? ops.depthwiseConv2d(x, filter, g) : ops.conv2d(x, filter, g);
        if (bias != null) return ops.biasAdd(y, bias);
        const reach = ops.conv2d(ops.floatMask(x), ops.fill([info.filterHeight, info.filterWidth, 1, 1], 1), g);
        return ops.masked(y, ops.binary('Greater', reach, ops.scalar(0)));
      });
    },
  };
}
