/**
 * The 'cuda' tfjs backend: tensors in GPU memory owned by a native addon (CUDA 13, cuDNN 9,
 * cuBLAS 13), standard kernels on cuDNN / cuBLAS / own CUDA kernels, every other kernel on the CPU with a
 * one-time warning (an error under TFJS_DELTA_STRICT_KERNELS=1).
 *
 * Registered with priority 0, so it is opt-in:
 *   if (await useCudaIfAvailable()) ...   // or: await tf.setBackend('cuda')
 * A process runs on one GPU, chosen before the backend first initialises: useCudaIfAvailable({device: 1}), or
 * TFJS_DELTA_CUDA_DEVICE=1 (default 0). The stream, the cuDNN and cuBLAS handles, compiled plans and every
 * allocation live on that device; for several GPUs, run one process per GPU (`tfjs-delta worker --gpu N`).
 * On a machine without the addon or a GPU, `cudaAvailability()` says why and the backend's factory throws that
 * reason (tf.setBackend('cuda') then returns false) — never a crash.
 *
 * Environment: TFJS_DELTA_STRICT_FP32=1 disables TF32 (default: allowed); TFJS_DELTA_CUDNN_FIND=0 uses cuDNN's
 * heuristics instead of benchmarking algorithms once per shape; TFJS_DELTA_CUDA_ADDON=path loads another build.
 */
import * as tf from '@tensorflow/tfjs-core';

import {CudaBackend} from './backend';
import {nativeKernels, registerCudaKernels} from './kernels';
import {CudaStatus, DeviceInfo, loadCuda, OptionsArgs, requestedCudaDevice} from './native';
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

function initialised(device?: number): CudaStatus {
  const s = loadCuda(device);
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

/**
 * Whether the 'cuda' backend can run here (on `device` when given, see useCudaIfAvailable); when not, `reason` says
 * what is missing. Never throws.
 */
export function cudaAvailability(options: {device?: number} = {}): CudaAvailability {
  let s: CudaStatus;
  try {
    s = initialised(options.device === undefined ? undefined : requestedCudaDevice(options.device, 'cudaAvailability'));
  } catch (e) {
    return {available: false, reason: (e as Error).message};
  }
  return s.available ? {available: true, device: s.device} : {available: false, reason: s.reason};
}

export function isCudaAvailable(): boolean {
  return cudaAvailability().available;
}

/**
 * Selects the 'cuda' backend when a GPU and the addon are present; returns whether it did. `device` picks the GPU
 * (default TFJS_DELTA_CUDA_DEVICE, else 0) and must be chosen before the backend first initialises: a process holds
 * one device. Throws, naming the argument, for an index that is not a whole number >= 0, for a device this machine
 * does not have, and for a device other than the one the process already runs on.
 */
export async function useCudaIfAvailable(options: {device?: number} = {}): Promise<boolean> {
  const device = requestedCudaDevice(options.device);
  const s = initialised(device);
  if (!s.available) {
    if (s.deviceCount != null && device >= s.deviceCount) throw new Error(`useCudaIfAvailable: ${s.reason}`);
    return false;
  }
  return tf.setBackend(CUDA_BACKEND_NAME);
}

/**
 * allowTF32 (default true): TF32 tensor cores in cuDNN / cuBLAS; false = strict fp32. findAlgorithms (default
 * true): benchmark cuDNN algorithms once per shape. poison (tests): fill new buffers with NaN bytes. listCounters
 * (default true, TFJS_DELTA_CUDA_LIST_COUNTERS): work lists' counts published by their producers, not zeroed by a
 * memset before each; a change applies to launches (and graphs captured) afterwards.
 */
export function setCudaOptions(options: OptionsArgs): void {
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
