/** Reference truncating accumulator; see ops/sparse_accumulate.ts for the semantics. */
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {SparseAccumulate, SparseAccumulateAttrs} from '../../ops/kernel_names';
import {scalarActivation} from '../activations';
import {CpuBackend, makeOutput, maskValues, values} from './cpu_util';

export const sparseAccumulateConfig: KernelConfig = {
  kernelName: SparseAccumulate,
  backendName: 'cpu',
  kernelFunc: ({inputs, backend: anyBackend, attrs}) => {
    const backend = anyBackend as CpuBackend;
    const {accumulated, residual, delta} = inputs as {[k: string]: TensorInfo};
    const {threshold, activation, alpha} = attrs as unknown as SparseAccumulateAttrs;
    const f = scalarActivation(activation, alpha);
    const a = values(backend, accumulated);
    const r = values(backend, residual);
    const d = values(backend, delta);
    const inMask = maskValues(backend, delta);
    const C = delta.shape[delta.shape.length - 1];
    const pixels = d.length / C;
    const outDelta = new Float32Array(d.length);
    const outAcc = Float32Array.from(a);
    const outRes = Float32Array.from(r);
    const outMask = new Uint8Array(pixels);
    const s = new Float32Array(C);
    const emitted = new Float32Array(C);
    for (let p = 0; p < pixels; p++) {
      if (inMask != null && !inMask[p]) continue;
      const o = p * C;
      let largest = 0;
      for (let c = 0; c < C; c++) {
        s[c] = r[o + c] + d[o + c];
        // Emit f(new) - f(old) of the float32 values actually stored, so emitted deltas telescope.
        const next = Math.fround(a[o + c] + s[c]);
        emitted[c] = f(next) - f(a[o + c]);
        largest = Math.max(largest, Math.abs(emitted[c]));
      }
      if (largest > threshold) {
        outMask[p] = 1;
        for (let c = 0; c < C; c++) {
          outDelta[o + c] = emitted[c];
          outAcc[o + c] = a[o + c] + s[c];
          outRes[o + c] = 0;
        }
      } else {
        for (let c = 0; c < C; c++) outRes[o + c] = s[c];
      }
    }
    const shape = delta.shape.slice();
    return [
      makeOutput(backend, shape, outDelta, outMask),
      makeOutput(backend, shape, outAcc, null),
      makeOutput(backend, shape, outRes, null),
    ];
  },
};
