/** Mean over H and W, [B, C]; a batch row is active iff any of its pixels is. */
import * as tf from '@tensorflow/tfjs-core';

import {DeltaGlobalAvgPool} from '../../ops/kernel_names';
import {maskOf} from '../../ops/mask';
import {sharedKernel, tensorOf, withActive} from './composite_util';

export const deltaGlobalAvgPoolConfig = (backendName: string) =>
  sharedKernel(DeltaGlobalAvgPool, backendName, ({x}, _, backend) => {
    const mask = maskOf(x);
    return withActive(backend, tf.mean(tensorOf(x), [1, 2]), mask == null ? null : tf.any(mask, [1, 2]));
  });
