/** Shared helpers of the 'cuda' kernels: registration with error context, shapes and strides. */
import * as tf from '@tensorflow/tfjs-core';
import {KernelFunc, NamedAttrMap, TensorInfo, util} from '@tensorflow/tfjs-core';

import {CudaBackend} from '../backend';
import {fallbackToCpu} from './fallback';
import type {CudaKernel, CudaKernelArgs} from './kernel_args';

/** The same data under another shape (tfjs-backend-cpu does the same: incRef, no copy). */
export function alias(backend: CudaBackend, x: TensorInfo, shape: number[] = x.shape.slice()): TensorInfo {
  backend.incRef(x.dataId);
  return {dataId: x.dataId, shape, dtype: x.dtype};
}

export type {CudaKernel, CudaKernelArgs} from './kernel_args';

/** Kernel names with a native 'cuda' implementation (the rest fall back to 'cpu'). */
export const nativeKernels = new Set<string>();

/**
 * Registers a kernel for 'cuda'. A kernel returns `null`-free results; when it cannot handle an input (a dtype,
 * a data format) it calls `unsupported(...)`, which runs the CPU kernel instead. Errors get the kernel name.
 */
export function registerCuda<A = NamedAttrMap>(kernelName: string, fn: CudaKernel<A>): void {
  nativeKernels.add(kernelName);
  const kernelFunc = ((args: CudaKernelArgs<A>) => {
    try {
      return fn(args.attrs ? args : {...args, attrs: {} as A}); // tfjs passes no attrs object to most unary ops
    } catch (e) {
      if (e instanceof Unsupported) return fallbackToCpu(kernelName, args as unknown as CudaKernelArgs, e.message);
      const err = e as Error;
      if (err && typeof err.message === 'string' && !err.message.startsWith(`'cuda' kernel`))
        err.message = `'cuda' kernel ${kernelName}: ${err.message}`;
      throw err;
    }
  }) as unknown as KernelFunc;
  tf.registerKernel({kernelName, backendName: 'cuda', kernelFunc});
}

class Unsupported extends Error {}

/** Aborts the native kernel: the CPU kernel runs instead (with the one-time warning / strict-mode error). */
export function unsupported(reason: string): never {
  throw new Unsupported(reason);
}

export function requireFloat(name: string, ...ts: Array<TensorInfo | undefined>): void {
  for (const t of ts) if (t && t.dtype !== 'float32') unsupported(`${name} on ${t.dtype} input`);
}

export const sizeOf = util.sizeFromShape;

export function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; --k) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/** Strides of `shape` broadcast (right-aligned) to `outShape`: 0 where it is broadcast. */
export function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const own = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, k) => (k < off || shape[k - off] === 1 ? 0 : own[k - off]));
}

/** True when `small` (leading 1s dropped) equals the trailing dims of `big`: flat index i maps to i % size. */
export function isSuffixShape(small: number[], big: number[]): boolean {
  let s = small;
  while (s.length > 0 && s[0] === 1) s = s.slice(1);
  if (s.length > big.length) return false;
  const off = big.length - s.length;
  return s.every((d, k) => d === big[off + k]);
}

export const MAX_RANK = 6;

/** Transposes a device buffer: out[perm-ordered] (elemBytes 4 or 1). */
export function transposeInto(
  backend: CudaBackend,
  elemBytes: number,
  src: number,
  shape: number[],
  perm: number[],
  dst: number,
): void {
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  backend.n.stridedCopy({
    elemBytes,
    src,
    srcOffset: 0,
    shape: outShape,
    srcStrides: perm.map((p) => inStrides[p]),
    dst,
    dstOffset: 0,
    dstStrides: stridesOf(outShape),
  });
}
