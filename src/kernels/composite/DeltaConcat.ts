/** tf.concat; along channels mask = union (dense if any input is), otherwise the masks concatenated. */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaConcat, DeltaConcatAttrs} from '../../ops/kernel_names';
import {maskOf} from '../../ops/mask';
import {sharedKernel, tensorOf, withActive} from './composite_util';

export const deltaConcatConfig = (backendName: string) =>
  sharedKernel(DeltaConcat, backendName, (inputs, attrs, backend) => {
    const xs = Object.values(inputs) as TensorInfo[];
    const {axis} = attrs as unknown as DeltaConcatAttrs;
    const values = tf.concat(xs.map(tensorOf), axis);
    const masks = xs.map(maskOf);
    let active: Tensor | null = null;
    if (axis === values.rank - 1) {
      if (masks.every((m) => m != null)) active = (masks as Tensor[]).reduce((u, m) => tf.logicalOr(u, m));
    } else if (masks.some((m) => m != null)) {
      active = tf.concat(
        masks.map((m, i) => m ?? tf.ones(xs[i].shape.slice(0, -1), 'bool')),
        axis,
      );
    }
    return withActive(backend, values, active);
  });
