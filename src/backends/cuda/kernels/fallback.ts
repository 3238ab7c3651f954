/**
 * CPU fallback of the 'cuda' backend: a kernel without a native implementation runs the registered 'cpu'
 * kernel (tfjs-backend-cpu) on host copies of its inputs, and its outputs are uploaded back. It is never silent:
 * the first use of each kernel prints one warning naming it, and TFJS_DELTA_STRICT_KERNELS=1 turns that into an
 * error (the tests set it, so no slow path hides in them).
 */
import * as tf from '@tensorflow/tfjs-core';
import {KernelBackend, KernelFunc, TensorInfo} from '@tensorflow/tfjs-core';

import type {CudaBackend} from '../backend';
import type {CudaKernelArgs} from './kernel_args';
import {envFlag} from '../../../io/env';

const warned = new Set<string>();

export function strictKernels(): boolean {
  return envFlag('TFJS_DELTA_STRICT_KERNELS');
}

function cpuBackend(): KernelBackend {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional peer, loaded only when a fallback is needed
    require('@tensorflow/tfjs-backend-cpu');
  } catch (e) {
    throw new Error(`'cuda' backend: CPU fallback needs @tensorflow/tfjs-backend-cpu: ${(e as Error).message}`);
  }
  const cpu = tf.engine().findBackend('cpu');
  if (!cpu) throw new Error(`'cuda' backend: the 'cpu' backend could not be initialised for the CPU fallback`);
  return cpu;
}

export function fallbackToCpu(
  kernelName: string,
  args: CudaKernelArgs,
  reason = 'no native kernel',
): TensorInfo | TensorInfo[] {
  const what = `'cuda' backend: kernel ${kernelName} runs on the CPU (${reason})`;
  if (strictKernels()) throw new Error(`${what}; TFJS_DELTA_STRICT_KERNELS=1 forbids the CPU fallback`);
  if (!warned.has(kernelName)) {
    warned.add(kernelName);
    console.warn(`${what}: slow path, host copies both ways (warned once per kernel)`);
  }
  const config = tf.getKernel(kernelName, 'cpu');
  if (!config) throw new Error(`'cuda' backend: kernel ${kernelName} is implemented neither for 'cuda' nor for 'cpu'`);
  const backend: CudaBackend = args.backend;
  const cpu = cpuBackend();
  const temps: TensorInfo[] = [];
  const toCpu = (t: TensorInfo): TensorInfo => {
    const c = {dataId: cpu.write(backend.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype};
    temps.push(c);
    return c;
  };
  // Concat, AddN, Pack... receive their inputs as an array: keep that shape.
  let inputs: {[k: string]: TensorInfo} | TensorInfo[];
  if (Array.isArray(args.inputs)) {
    inputs = (args.inputs as TensorInfo[]).map(toCpu);
  } else {
    inputs = {};
    for (const [k, v] of Object.entries(args.inputs as {[k: string]: TensorInfo | null}))
      if (v != null) inputs[k] = toCpu(v);
  }
  let result: TensorInfo | TensorInfo[];
  try {
    result = (config.kernelFunc as KernelFunc)({
      inputs: inputs as tf.NamedTensorInfoMap,
      attrs: args.attrs,
      backend: cpu,
    }) as TensorInfo | TensorInfo[];
  } catch (e) {
    temps.forEach((t) => cpu.disposeData(t.dataId));
    throw e;
  }
  const outs = Array.isArray(result) ? result : [result];
  const uploaded = outs.map((o) => backend.makeTensorInfo(o.shape, o.dtype, cpu.readSync(o.dataId)));
  outs.forEach((o) => cpu.disposeData(o.dataId));
  temps.forEach((t) => cpu.disposeData(t.dataId));
  return Array.isArray(result) ? uploaded : uploaded[0];
}

/** Registers the CPU fallback for every 'cpu' kernel that has no 'cuda' kernel yet. */
export function registerCpuFallbacks(): number {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional peer, loaded only when a fallback is needed
    require('@tensorflow/tfjs-backend-cpu');
  } catch {
    return 0; // no CPU kernels to fall back to
  }
  let added = 0;
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(k.kernelName, 'cuda')) continue;
    const name = k.kernelName;
    tf.registerKernel({
      kernelName: name,
      backendName: 'cuda',
      kernelFunc: ((args: CudaKernelArgs) => fallbackToCpu(name, args)) as unknown as KernelFunc,
    });
    added++;
  }
  return added;
}
