/** tf.avgPool; an output pixel is active iff its window holds an active input pixel. */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor4D} from '@tensorflow/tfjs-core';

import {DeltaAvgPool, DeltaAvgPoolAttrs} from '../../ops/kernel_names';
import {maskChannel, sharedKernel, tensorOf, withActiveChannel} from './composite_util';

export const deltaAvgPoolConfig = (backendName: string) =>
  sharedKernel(DeltaAvgPool, backendName, ({x}, attrs, backend) => {
    const {filterSize, strides, pad, dimRoundingMode} = attrs as unknown as DeltaAvgPoolAttrs;
    const values = tf.avgPool(tensorOf(x) as Tensor4D, filterSize, strides, pad, dimRoundingMode);
    const mask = maskChannel(x);
    const reach = mask == null ? null : tf.maxPool(mask as Tensor4D, filterSize, strides, pad, dimRoundingMode);
    return withActiveChannel(backend, values, reach);
  });
