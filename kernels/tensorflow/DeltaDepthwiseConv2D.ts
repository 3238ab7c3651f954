import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaDepthwiseConv2D, DeltaDepthwiseConv2DAttrs} from '../../ops/kernel_names';
import {deltaConv} from './delta_conv_impl';
import type {NodeBackend} from './tf_ops';

export const deltaDepthwiseConv2DConfig: KernelConfig = {
  kernelName: DeltaDepthwiseConv2D,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {x, filter, bias} = inputs as {x: TensorInfo, filter: TensorInfo, bias?: TensorInfo};
    const {strides, pad, dilations, dimRoundingMode} = attrs as unknown as DeltaDepthwiseConv2DAttrs;
    const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
        strides, dilations, pad, dimRoundingMode, true);
    return deltaConv(backend as NodeBackend, x, filter, bias, info, true);
  },
};
