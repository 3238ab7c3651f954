/**
 * The fused 1x1 delta conv block on 'tensorflow' with tfjs-delta's native ops: the active pixels' rows gathered
 * (TfjsDeltaGatherRows), TF's MatMul on them, and the accumulator on the product's rows (TfjsDeltaScatterAccumulate),
 * so that the conv's delta never becomes a full-size tensor. Other convs, half state, a dense input, more active
 * pixels than the crossover, a TF-op route set for the conv or the accumulate, or no native ops: the conv kernel then
 * SparseAccumulate, as on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaConv2DAttrs, FusedDeltaConv2D, SparseAccumulateAttrs} from '../../ops/kernel_names';
import {composedDeltaConvAccumulate} from '../composite/FusedDeltaConvs';
import {deltaConv2DInfo, isPointwise} from '../conv_geometry';
import {gatherActiveRows, nativePixelCrossoverFor, tensorflowDeltaConvRoute} from './delta_conv_impl';
import {tensorflowNativeOps} from './native_ops';
import {runNativeAccumulate, tensorflowSparseAccumulateRoute} from './SparseAccumulate';
import {NodeBackend, TfOps} from './tf_ops';

export const fusedDeltaConv2DConfig: KernelConfig = {
  kernelName: FusedDeltaConv2D,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const named = inputs as {[name: string]: TensorInfo};
    const {x, filter, accumulated: a, residual: r} = named;
    const at = attrs as unknown as DeltaConv2DAttrs & SparseAccumulateAttrs;
    const ops = new TfOps(backend as NodeBackend);
    const [convRoute, accumulateRoute] = [tensorflowDeltaConvRoute(), tensorflowSparseAccumulateRoute()];
    const composed = () => composedDeltaConvAccumulate(FusedDeltaConv2D, named, at);
    if (
      at.statePrecision === 'fp16' ||
      (convRoute !== 'auto' && convRoute !== 'native') ||
      (accumulateRoute !== 'auto' && accumulateRoute !== 'native') ||
      tensorflowNativeOps() == null ||
      !isPointwise(deltaConv2DInfo(x, filter, attrs, false))
    )
      return composed();
    return tf.tidy(() => {
      const mask = ops.boolMask(x);
      const [inC, outC] = [filter.shape[2], filter.shape[3]];
      const active = mask == null ? null : gatherActiveRows(ops, x, mask, nativePixelCrossoverFor(inC));
      if (active == null) return composed();
      const product = ops.matMul(active.rows, ops.reshape(filter, [inC, outC]));
      return runNativeAccumulate(ops, 'TfjsDeltaScatterAccumulate', [product, active.index, a, r], a, r, at);
    });
  },
};
