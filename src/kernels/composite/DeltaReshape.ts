/**
 * tf.reshape; an output pixel (a run of the last dimension) is active iff one of its elements
 * came from an active input pixel. A masked input is copied, because its buffer keeps its own mask.
 * Where the last dimension stays (a flatten of [n, 1, 1, c] to [n, c], [n, h, w, c] to [n * h * w, c]) the
 * pixels map one to one and the mask is the input's, reshaped: no kernel beyond the copy (a model's head runs
 * one launch instead of six).
 */
import * as tf from '@tensorflow/tfjs-core';

import {DeltaReshape, DeltaReshapeAttrs} from '../../ops/kernel_names';
import {maskOf} from '../../ops/mask';
import {maskChannel, sharedKernel, tensorOf, withActive} from './composite_util';

export const deltaReshapeConfig = (backendName: string) =>
  sharedKernel(DeltaReshape, backendName, ({x}, attrs, backend) => {
    const {shape} = attrs as unknown as DeltaReshapeAttrs;
    const $x = tensorOf(x);
    const mask = maskOf(x);
    if (mask == null) return tf.reshape($x, shape);
    // mul by 1 copies exactly (zeros stay zeros) into a new buffer that can carry the new mask.
    const out = tf.mul(tf.reshape($x, shape), tf.scalar(1));
    if (shape[shape.length - 1] === x.shape[x.shape.length - 1])
      return withActive(backend, out, tf.reshape(mask, shape.slice(0, -1)));
    const reached = tf.reshape(tf.mul(maskChannel(x)!, tf.onesLike($x)), shape);
    return withActive(backend, out, tf.max(reached, -1));
  });
