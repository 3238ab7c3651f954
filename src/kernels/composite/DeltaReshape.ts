/**
 * tf.reshape; an output pixel (a run of the last dimension) is active iff one of its elements
 * came from an active input pixel. A masked input is copied, because its buffer keeps its own mask.
 */
import * as tf from '@tensorflow/tfjs-core';

import {DeltaReshape, DeltaReshapeAttrs} from '../../ops/kernel_names';
import {maskChannel, sharedKernel, tensorOf, withActive} from './composite_util';

export const deltaReshapeConfig = (backendName: string) =>
  sharedKernel(DeltaReshape, backendName, ({x}, attrs, backend) => {
    const {shape} = attrs as unknown as DeltaReshapeAttrs;
    const $x = tensorOf(x);
    const mask = maskChannel(x);
    if (mask == null) return tf.reshape($x, shape);
    const reached = tf.reshape(tf.mul(mask, tf.onesLike($x)), shape);
    // mul by 1 copies exactly (zeros stay zeros) into a new buffer that can carry the new mask.
    return withActive(backend, tf.mul(tf.reshape($x, shape), tf.scalar(1)), tf.max(reached, -1));
  });
