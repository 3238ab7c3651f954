/** Reference input sparsify; see ops/delta_sparsify.ts for the semantics. */
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaSparsify, DeltaSparsifyAttrs} from '../../ops/kernel_names';
import {CpuBackend, makeOutput, values} from './cpu_util';

export const deltaSparsifyConfig: KernelConfig = {
  kernelName: DeltaSparsify,
  backendName: 'cpu',
  kernelFunc: ({inputs, backend: anyBackend, attrs}) => {
    const backend = anyBackend as CpuBackend;
    const {frame, sent} = inputs as {[k: string]: TensorInfo};
    const {threshold, dilation} = attrs as unknown as DeltaSparsifyAttrs;
    const x = values(backend, frame);
    const a = values(backend, sent);
    const shape = frame.shape.slice();
    const C = shape[shape.length - 1];
    const pixels = x.length / C;
    const d = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) d[i] = x[i] - a[i];
    const moved = new Uint8Array(pixels);
    for (let p = 0; p < pixels; p++) {
      let largest = 0;
      for (let c = 0; c < C; c++) largest = Math.max(largest, Math.abs(d[p * C + c]));
      moved[p] = largest > threshold ? 1 : 0;
    }
    const sendAt = dilation > 1 ? dilate(moved, shape, dilation) : moved;
    const outDelta = new Float32Array(x.length);
    const outSent = Float32Array.from(a);
    for (let p = 0; p < pixels; p++) {
      if (!sendAt[p]) continue;
      for (let c = p * C; c < (p + 1) * C; c++) {
        outDelta[c] = d[c];
        outSent[c] = a[c] + d[c];
      }
    }
    return [makeOutput(backend, shape, outDelta, sendAt), makeOutput(backend, shape, outSent, null)];
  },
};

/**
 * OR of `flags` ([n, h, w] of an NHWC shape) over the k x k window centred on each pixel, clipped at the edges: along
 * rows, then down columns, each a running count of the set flags in the window, so the cost does not grow with k.
 */
function dilate(flags: Uint8Array, [n, h, w]: number[], k: number): Uint8Array {
  const r = (k - 1) / 2;
  const rows = new Uint8Array(flags.length);
  for (let line = 0; line < n * h; line++) orWindow(flags, rows, line * w, w, 1, r);
  const out = new Uint8Array(flags.length);
  for (let b = 0; b < n; b++) for (let x = 0; x < w; x++) orWindow(rows, out, b * h * w + x, h, w, r);
  return out;
}

/** dst[i] = OR of src over the 2r + 1 places centred on i, along the line of `length` places `step` apart from `start`. */
function orWindow(src: Uint8Array, dst: Uint8Array, start: number, length: number, step: number, r: number): void {
  let count = 0;
  for (let i = 0; i < Math.min(r, length); i++) count += src[start + i * step];
  for (let i = 0; i < length; i++) {
    if (i + r < length) count += src[start + (i + r) * step];
    if (i - r - 1 >= 0) count -= src[start + (i - r - 1) * step];
    dst[start + i * step] = count > 0 ? 1 : 0;
  }
}
