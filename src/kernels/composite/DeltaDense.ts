/** x . kernel over the last axis (+ bias); the mask is kept without a bias, the output dense with one. */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor2D} from '@tensorflow/tfjs-core';

import {DeltaDense} from '../../ops/kernel_names';
import {maskOf} from '../../ops/mask';
import {sharedKernel, tensorOf, withActive} from './composite_util';

export const deltaDenseConfig = (backendName: string) =>
  sharedKernel(DeltaDense, backendName, ({x, kernel, bias}, _, backend) => {
    const inChannels = kernel.shape[0];
    const outChannels = kernel.shape[1];
    const rows = tf.reshape(tensorOf(x), [-1, inChannels]) as Tensor2D;
    let y = tf.matMul(rows, tensorOf(kernel) as Tensor2D);
    if (bias != null) y = tf.add(y, tensorOf(bias));
    const out = tf.reshape(y, [...x.shape.slice(0, -1), outChannels]);
    const mask = bias == null ? maskOf(x) : null;
    return withActive(backend, out, mask == null ? null : tf.clone(mask));
  });
