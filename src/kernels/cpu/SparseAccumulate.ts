/** Reference truncating accumulator; see ops/sparse_accumulate.ts for the semantics. */
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {SparseAccumulate, SparseAccumulateAttrs} from '../../ops/kernel_names';
import {accumulateOnHost} from '../accumulate_reference';
import {CpuBackend, makeOutput, maskValues, values} from './cpu_util';

export const sparseAccumulateConfig: KernelConfig = {
  kernelName: SparseAccumulate,
  backendName: 'cpu',
  kernelFunc: ({inputs, backend: anyBackend, attrs}) => {
    const backend = anyBackend as CpuBackend;
    const {accumulated, residual, delta} = inputs as {[k: string]: TensorInfo};
    const out = accumulateOnHost(
      values(backend, accumulated),
      values(backend, residual),
      values(backend, delta),
      maskValues(backend, delta),
      delta.shape[delta.shape.length - 1],
      attrs as unknown as SparseAccumulateAttrs,
    );
    const shape = delta.shape.slice();
    return [
      makeOutput(backend, shape, out.delta, out.mask),
      makeOutput(backend, shape, out.accumulated, null),
      makeOutput(backend, shape, out.residual, null),
    ];
  },
};
