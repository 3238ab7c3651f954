/** Replacing tfjs-node's own kernels on 'tensorflow' (PointwiseConv.ts, TransposedConv.ts). */
import {getKernel, registerKernel, unregisterKernel} from '@tensorflow/tfjs-core';
import type {KernelConfig, KernelFunc} from '@tensorflow/tfjs-core';

/**
 * Registers `wrap(original, name)` in place of each of tfjs-node's kernels `names` (backend 'tensorflow'), once:
 * a kernel already wrapped under `tag` is left as is. Returns whether tfjs-node's kernels were found (tfjs-node
 * loaded).
 */
export function wrapTensorflowKernels(
  names: string[],
  tag: symbol,
  wrap: (original: KernelConfig, name: string) => KernelFunc,
): boolean {
  let found = false;
  for (const name of names) {
    const original = getKernel(name, 'tensorflow') as (KernelConfig & {[tag]?: true}) | undefined;
    if (original == null) continue;
    found = true;
    if (original[tag]) continue;
    unregisterKernel(name, 'tensorflow');
    registerKernel({...original, kernelFunc: wrap(original, name), [tag]: true} as KernelConfig);
  }
  return found;
}

/** Whether tfjs-node registered kernel `name` (it is loaded). */
export function hasTensorflowKernel(name: string): boolean {
  return getKernel(name, 'tensorflow') != null;
}
