/**
 * Delta max pool from TF ops: maxPool(A + delta) - maxPool(A), both over in-bounds cells only
 * (TF's explicit pool padding is ignored like 'same' padding), kept where the window holds an
 * active input pixel (the max-pooled input mask, > 0).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaMaxPool, DeltaMaxPoolAttrs} from '../../ops/kernel_names';
import {explicitPads, NodeBackend, TfOps} from './tf_ops';

export const deltaMaxPoolConfig: KernelConfig = {
  kernelName: DeltaMaxPool,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {accumulated: a, delta: d} = inputs as {accumulated: TensorInfo; delta: TensorInfo};
    const {filterSize, strides, pad, dimRoundingMode} = attrs as unknown as DeltaMaxPoolAttrs;
    const info = tf.backend_util.computePool2DInfo(
      d.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const k: [number, number] = [info.filterHeight, info.filterWidth];
    const s: [number, number] = [info.strideHeight, info.strideWidth];
    const pads = explicitPads(info);
    const ops = new TfOps(backend as NodeBackend);
    return tf.tidy(() => {
      const next = ops.binary('AddV2', a, d);
      const change = ops.binary('Sub', ops.maxPool(next, k, s, pads), ops.maxPool(a, k, s, pads));
      const reach = ops.maxPool(ops.floatMask(d), k, s, pads);
      return [ops.masked(change, ops.binary('Greater', reach, ops.scalar(0))), next] as Tensor[];
    });
  },
};
