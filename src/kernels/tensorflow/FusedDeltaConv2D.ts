/**
 * The fused 1x1 delta conv block on 'tensorflow' with tfjs-delta's native ops: the active pixels' rows gathered
 * (TfjsDeltaGatherRows), TF's MatMul on them, and the accumulator on the product's rows (TfjsDeltaScatterAccumulate),
 * so that the conv's delta never becomes a full-size tensor; past the crossover, the dense conv and the accumulator
 * over the input's mask. Other convs, half state, a dense input, a TF-op route set for the conv or the accumulate, or no
 * native ops: the conv kernel then SparseAccumulate, as on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaConv2DAttrs, FusedDeltaConv2D, SparseAccumulateAttrs} from '../../ops/kernel_names';
import {composedDeltaConvAccumulate} from '../composite/FusedDeltaConvs';
import {deltaConv2DInfo, isPointwise} from '../conv_geometry';
import {
  deltaConvRouteCounts,
  gatherActiveRows,
  lastDeltaConvCall,
  nativePixelCrossoverFor,
  tensorflowDeltaConvRoute,
} from './delta_conv_impl';
import {tensorflowNativeOps} from './native_ops';
import {runNativeAccumulate, sparseAccumulateRouteCounts, tensorflowSparseAccumulateRoute} from './SparseAccumulate';
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
    const mask = ops.boolMask(x);
    if (mask == null) return composed();
    return tf.tidy(() => {
      const [inC, outC] = [filter.shape[2], filter.shape[3]];
      const active = gatherActiveRows(ops, x, mask, nativePixelCrossoverFor(inC));
      deltaConvRouteCounts[lastDeltaConvCall.route]++;
      sparseAccumulateRouteCounts.native++;
      if (active == null) {
        // Past the crossover: the dense conv on the zero-filled delta, then the accumulator over the input's mask
        // (a 1x1 conv's output mask), as the two kernels would run it, without gathering again.
        const y = ops.conv2d(x, filter, {
          strides: [1, 1],
          dilations: [1, 1],
          pads: [
            [0, 0],
            [0, 0],
          ],
        });
        return runNativeAccumulate(ops, 'TfjsDeltaSparseAccumulate', [a, r, y, mask], a, r, at, [
          ops.bool('has_mask', true),
        ]);
      }
      const product = ops.matMul(active.rows, ops.reshape(filter, [inC, outC]));
      return runNativeAccumulate(ops, 'TfjsDeltaScatterAccumulate', [product, active.index, a, r], a, r, at);
    });
  },
};
