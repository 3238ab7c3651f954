/**
 * Helpers of the backend-agnostic companion kernels: their values come from a standard tfjs op on
 * the active backend and their output mask from tfjs ops on the input masks (src/ops/mask.ts), so one
 * implementation serves 'cpu', 'tensorflow' and any backend with the standard kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelBackend, KernelConfig, NamedAttrMap, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {attachMask, maskOf} from '../../ops/mask';

/** The engine tensor behind a kernel input (kernels receive the op's tensors). */
export function tensorOf(info: TensorInfo): Tensor {
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}

/** The input's mask as float32 0/1 with a trailing unit channel ([...pixels, 1]), or null when dense. */
export function maskChannel(x: TensorInfo): Tensor | null {
  const mask = maskOf(x);
  return mask == null ? null : tf.expandDims(tf.cast(mask, 'float32'), -1);
}

/** Attaches `active` (bool, or a float whose positive entries are active) to `out` and returns it. */
export function withActive(backend: KernelBackend, out: Tensor, active: Tensor | null): Tensor {
  if (active != null) attachMask(backend, out, active.dtype === 'bool' ? active : tf.greater(active, 0));
  return out;
}

/** Same as `withActive`, for an `active` map computed with a trailing unit channel. */
export function withActiveChannel(backend: KernelBackend, out: Tensor, active: Tensor | null): Tensor {
  return withActive(backend, out, active == null ? null : tf.squeeze(active, [active.rank - 1]));
}

export type SharedKernelFunc = (
  inputs: {[name: string]: TensorInfo},
  attrs: NamedAttrMap,
  backend: KernelBackend,
) => Tensor;

/** A kernel config whose body runs in a tidy scope; the output (and its mask) survive it. */
export function sharedKernel(kernelName: string, backendName: string, body: SharedKernelFunc): KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({inputs, attrs, backend}) =>
      tf.tidy(() => body(inputs as {[name: string]: TensorInfo}, attrs ?? {}, backend as KernelBackend)),
  };
}
