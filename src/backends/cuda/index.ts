/**
 * The 'cuda' tfjs backend: tensors in GPU memory owned by a native addon (CUDA 13, cuDNN 9,
 * cuBLAS 13), standard kernels on cuDNN / cuBLAS / own CUDA kernels, every other kernel on the CPU with a
 * one-time warning (an error under TFJS_DELTA_STRICT_KERNELS=1).
 *
 * Registered with priority 0, so it is opt-in:
 *   if (await useCudaIfAvailable()) ...   // or: await tf.setBackend('cuda')
 * On a machine without the addon or a GPU, `cudaAvailability()` says why and the backend's factory throws that
 * reason (tf.setBackend('cuda') then returns false) — never a crash.
 *
 * Environment: TFJS_DELTA_STRICT_FP32=1 disables TF32 (default: allowed); TFJS_DELTA_CUDNN_FIND=0 uses cuDNN's
 * heuristics instead of benchmarking algorithms once per shape; TFJS_DELTA_CUDA_ADDON=path loads another build.
 */
import * as tf from '@tensorflow/tfjs-core';

import {CudaBackend} from './backend';
import {nativeKernels, registerCudaKernels} from './kernels';
import {CudaStatus, DeviceInfo, loadCuda} from './native';
import {envFlag} from '../../io/env';

export {CudaBackend} from './backend';
export type {CudaMemoryInfo} from './backend';
export type {DeviceInfo} from './native';

export const CUDA_BACKEND_NAME = 'cuda';

export interface CudaAvailability {
  available: boolean;
  reason?: string;
  device?: DeviceInfo;
}

function initialised(): CudaStatus {
  const s = loadCuda();
  if (s.available && s.binding) {
    const strict = envFlag('TFJS_DELTA_STRICT_FP32', undefined);
    const find = envFlag('TFJS_DELTA_CUDNN_FIND', undefined);
    s.binding.setOptions({
      ...(strict !== undefined ? {allowTF32: !strict} : {}),
      ...(find !== undefined ? {findAlgorithms: find} : {}),
    });
  }
  return s;
}

/** Whether the 'cuda' backend can run here; when not, `reason` says what is missing. Never throws. */
export function cudaAvailability(): CudaAvailability {
  const s = initialised();
  return s.available ? {available: true, device: s.device} : {available: false, reason: s.reason};
}

export function isCudaAvailable(): boolean {
  return cudaAvailability().available;
}

/** Selects the 'cuda' backend when a GPU and the addon are present; returns whether it did. */
export async function useCudaIfAvailable(): Promise<boolean> {
  if (!isCudaAvailable()) return false;
  return tf.setBackend(CUDA_BACKEND_NAME);
}

/**
 * allowTF32 (default true): TF32 tensor cores in cuDNN / cuBLAS; false = strict fp32. findAlgorithms (default
 * true): benchmark cuDNN algorithms once per shape. poison (tests): fill new buffers with NaN bytes.
 */
export function setCudaOptions(options: {allowTF32?: boolean; findAlgorithms?: boolean; poison?: boolean}): void {
  const s = initialised();
  if (!s.available || !s.binding) throw new Error(`tfjs-delta 'cuda' backend unavailable: ${s.reason}`);
  s.binding.setOptions(options);
}

/** Names of the kernels with a native implementation on 'cuda' (all others run on the CPU). */
export function cudaNativeKernelNames(): string[] {
  return [...nativeKernels].sort();
}

registerCudaKernels();
if (!tf.findBackendFactory(CUDA_BACKEND_NAME)) {
  tf.registerBackend(
    CUDA_BACKEND_NAME,
    () => {
      const s = initialised();
      if (!s.available || !s.binding || !s.device)
        throw new Error(`tfjs-delta 'cuda' backend unavailable: ${s.reason}`);
      registerCudaKernels(); // CPU fallbacks for kernels registered since this module loaded
      return new CudaBackend(s.binding, s.device);
    },
    0,
  );
}
