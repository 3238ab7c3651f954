/** Zero padding of H and W; the padding is inactive (a dense input gets an all-but-padding mask). */
import * as tf from '@tensorflow/tfjs-core';

import {DeltaPad2D, DeltaPad2DAttrs} from '../../ops/kernel_names';
import {maskChannel, sharedKernel, tensorOf, withActiveChannel} from './composite_util';

export const deltaPad2DConfig = (backendName: string) =>
  sharedKernel(DeltaPad2D, backendName, ({x}, attrs, backend) => {
    const {padding} = attrs as unknown as DeltaPad2DAttrs;
    const pads: Array<[number, number]> = [[0, 0], padding[0], padding[1], [0, 0]];
    const mask = maskChannel(x) ?? tf.ones([...x.shape.slice(0, 3), 1]);
    return withActiveChannel(backend, tf.pad(tensorOf(x), pads), tf.pad(mask, pads));
  });
