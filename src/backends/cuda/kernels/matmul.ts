/** Matrix products through cuBLAS: BatchMatMul and _FusedMatMul (bias + activation in one extra pass). */
import {backend_util, TensorInfo} from '@tensorflow/tfjs-core';

import {CudaBackend} from '../backend';
import {applyBiasActivation} from './elementwise';
import {registerCuda, requireFloat, sizeOf, unsupported} from './util';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

function batchMatMul(backend: CudaBackend, a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean): TensorInfo {
  requireFloat('matMul', a, b);
  const ra = a.shape.length,
    rb = b.shape.length;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2],
    k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1],
    kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  if (k !== kb)
    throw new Error(`inner dimensions differ: ${a.shape} x ${b.shape} (transposeA=${transA}, transposeB=${transB})`);
  const outerA = a.shape.slice(0, -2),
    outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA),
    batchB = sizeOf(outerB);
  const outer = backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = sizeOf(outer);
  // cuBLAS broadcasts a whole operand only (batch stride 0), not single batch dims.
  if (!(batchA === batch || batchA === 1) || !(batchB === batch || batchB === 1))
    unsupported(`batch broadcasting of ${a.shape} x ${b.shape}`);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  backend.n.gemm({
    a: backend.ptr(a),
    b: backend.ptr(b),
    c: backend.ptr(out),
    batch,
    m,
    n,
    k,
    transA,
    transB,
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
  });
  return out;
}

export function registerMatMulKernels(): void {
  registerCuda<MatMulAttrs>('BatchMatMul', ({inputs, backend, attrs}) =>
    batchMatMul(backend, inputs.a, inputs.b, attrs.transposeA, attrs.transposeB),
  );
  registerCuda<MatMulAttrs>('_FusedMatMul', ({inputs, backend, attrs}) => {
    return backend.filling(batchMatMul(backend, inputs.a, inputs.b, attrs.transposeA, attrs.transposeB), (out) =>
      applyBiasActivation(
        backend,
        out,
        inputs.bias,
        attrs.activation,
        inputs.preluActivationWeights,
        attrs.leakyreluAlpha,
      ),
    );
  });
}
