/** Access to tfjs-backend-cpu storage for the reference kernels, and masked outputs. */
import * as tf from '@tensorflow/tfjs-core';
import type {DataType, KernelBackend, TensorInfo} from '@tensorflow/tfjs-core';

import {attachMask, maskOf} from '../../ops/mask';

/** The part of tfjs-backend-cpu's MathBackendCPU the kernels use (no import of the package). */
export interface CpuBackend extends KernelBackend {
  data: {get(dataId: object): {values: unknown}};
  makeTensorInfo(shape: number[], dtype: DataType, values?: Float32Array | Uint8Array): TensorInfo;
}

export function values(backend: CpuBackend, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/** The per-pixel flags of a delta input, or null when it is dense. */
export function maskValues(backend: CpuBackend, t: TensorInfo): Uint8Array | null {
  const mask = maskOf(t);
  return mask == null ? null : (backend.data.get(mask.dataId).values as Uint8Array);
}

/** A float32 output carrying `mask` (shape[:-1] flags), or dense when mask is null. */
export function makeOutput(
  backend: CpuBackend,
  shape: number[],
  data: Float32Array | Float64Array,
  mask: Uint8Array | null,
): TensorInfo {
  const out = backend.makeTensorInfo(shape, 'float32', data instanceof Float32Array ? data : Float32Array.from(data));
  if (mask != null) {
    const maskInfo = backend.makeTensorInfo(shape.slice(0, -1), 'bool', mask);
    attachMask(backend, out, tf.engine().makeTensorFromTensorInfo(maskInfo, backend));
  }
  return out;
}
