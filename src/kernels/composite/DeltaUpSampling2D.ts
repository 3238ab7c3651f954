/** Resize by integer factors as tf.layers.upSampling2d does; the mask is resized the same way. */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor4D} from '@tensorflow/tfjs-core';

import {DeltaUpSampling2D, DeltaUpSampling2DAttrs} from '../../ops/kernel_names';
import {maskChannel, sharedKernel, tensorOf, withActiveChannel} from './composite_util';

export const deltaUpSampling2DConfig = (backendName: string) =>
  sharedKernel(DeltaUpSampling2D, backendName, ({x}, attrs, backend) => {
    const {size, interpolation} = attrs as unknown as DeltaUpSampling2DAttrs;
    const newSize: [number, number] = [x.shape[1] * size[0], x.shape[2] * size[1]];
    const resize = (t: Tensor) =>
      interpolation === 'nearest'
        ? tf.image.resizeNearestNeighbor(t as Tensor4D, newSize)
        : tf.image.resizeBilinear(t as Tensor4D, newSize);
    const mask = maskChannel(x);
    return withActiveChannel(backend, resize(tensorOf(x)), mask == null ? null : resize(mask));
  });
