/** StoreHalf on a backend whose tensors live on the host ('cpu', 'tensorflow'): float32 holding the rounded values. */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelBackend, KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {StoreHalf} from '../../ops/kernel_names';
import {roundToHalf} from '../half';

export const storeHalfConfig = (backendName: string): KernelConfig => ({
  kernelName: StoreHalf,
  backendName,
  kernelFunc: ({inputs, backend}) => {
    const x = inputs.x as TensorInfo;
    const values = (backend as KernelBackend).readSync(x.dataId) as Float32Array;
    return tf.tensor(roundToHalf(values), x.shape, 'float32');
  },
});
