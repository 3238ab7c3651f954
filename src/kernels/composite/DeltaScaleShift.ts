/** x * scale (+ offset); the mask is kept without an offset, the output dense with one. */
import * as tf from '@tensorflow/tfjs-core';

import {DeltaScaleShift} from '../../ops/kernel_names';
import {maskOf} from '../../ops/mask';
import {sharedKernel, tensorOf, withActive} from './composite_util';

export const deltaScaleShiftConfig = (backendName: string) =>
  sharedKernel(DeltaScaleShift, backendName, ({x, scale, offset}, _, backend) => {
    const scaled = tf.mul(tensorOf(x), tensorOf(scale));
    if (offset != null) return tf.add(scaled, tensorOf(offset));
    const mask = maskOf(x);
    return withActive(backend, scaled, mask == null ? null : tf.clone(mask));
  });
