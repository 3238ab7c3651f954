import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaConv2D, DeltaConv2DAttrs} from '../../ops/kernel_names';
import {deltaConv} from './delta_conv_impl';
import type {NodeBackend} from './tf_ops';

export const deltaConv2DConfig: KernelConfig = {
  kernelName: DeltaConv2D,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {x, filter, bias} = inputs as {x: TensorInfo, filter: TensorInfo, bias?: TensorInfo};
    const {strides, pad, dilations, dimRoundingMode} = attrs as unknown as DeltaConv2DAttrs;
    const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
        strides, dilations, pad, dimRoundingMode);
    return deltaConv(backend as NodeBackend, x, filter, bias, info, false);
  },
};
