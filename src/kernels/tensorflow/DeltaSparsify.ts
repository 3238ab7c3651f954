/**
 * The input sparsify from TF ops; see ops/delta_sparsify.ts for the semantics. The neighbourhood test is a max
 * pool of max_c |d| before the threshold (the OR of thresholded flags over a window is the threshold of their max).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaSparsify, DeltaSparsifyAttrs} from '../../ops/kernel_names';
import {floatBelow} from './SparseAccumulate';
import {NodeBackend, TfOps} from './tf_ops';

export const deltaSparsifyConfig: KernelConfig = {
  kernelName: DeltaSparsify,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {frame, sent} = inputs as {[k: string]: TensorInfo};
    const {threshold, dilation} = attrs as unknown as DeltaSparsifyAttrs;
    const ops = new TfOps(backend as NodeBackend);
    return tf.tidy(() => {
      const shape = frame.shape;
      const c = shape[shape.length - 1];
      const pixels = shape.slice(0, -1).reduce((x, y) => x * y, 1);
      const d = ops.binary('Sub', frame, sent);
      let largest: TensorInfo = ops.reduce('Max', ops.unary('Abs', d), [shape.length - 1], true);
      if (dilation > 1) {
        const r = (dilation - 1) / 2;
        largest = ops.maxPool(
          largest,
          [dilation, dilation],
          [1, 1],
          [
            [r, r],
            [r, r],
          ],
        );
      }
      const send = ops.binary('Greater', largest, ops.scalar(floatBelow(threshold)));
      const rows = (t: TensorInfo) => ops.reshape(t, [pixels, c]);
      const next = ops.rowSelect(ops.reshape(send, [pixels]), rows(ops.binary('AddV2', sent, d)), rows(sent));
      return [ops.masked(d, send), ops.reshape(next, shape)];
    });
  },
};
