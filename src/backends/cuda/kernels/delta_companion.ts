/**
 * The companion delta ops on 'cuda'. Most run the backend-agnostic kernels of src/kernels/composite (standard tfjs ops on
 * the values and on the masks; every op they use is native here, so values and masks stay on the GPU). The two a
 * delta CNN runs after nearly every convolution have native kernels that work only at active pixels and read
 * masked inputs without zero-filling them first (delta_companion.cu):
 *   - DeltaScaleShift without an offset (a delta batch norm on every frame after the first): one launch instead
 *     of a zero-filling pass plus a full-tensor multiply; the output keeps the input's mask (and is written
 *     lazily, like the other delta kernels' outputs);
 *   - DeltaAdd (residual connections): one launch instead of two zero-filling passes, an add and a mask OR;
 *   - DeltaPad2D (the explicit padding before strided convs and pools): one launch instead of seven;
 *   - DeltaGlobalAvgPool, and DeltaAvgPool whose one window is the whole map (CudaBackend.globalPoolMasked): one
 *     launch instead of a zero-filling pass, the pool, and three launches for the mask's OR.
 * Anything else (an offset, a mask held by another backend, half storage) goes to the shared kernel.
 */
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {
  DeltaAdd,
  DeltaAvgPool,
  DeltaAvgPoolAttrs,
  DeltaGlobalAvgPool,
  DeltaPad2D,
  DeltaPad2DAttrs,
  DeltaScaleShift,
} from '../../../ops/kernel_names';
import {sharedKernelConfigs} from '../../../kernels/composite/register_all_kernels';
import {maskOf} from '../../../ops/mask';
import {CudaBackend} from '../backend';
import {attachDeviceMask, deltaData, inputMask} from './delta';
import {nativeKernels, registerCuda, requireFloat, sizeOf} from './util';

type Inputs = {[name: string]: TensorInfo};

/** Whether `x`'s mask (if any) lives on this backend, so its buffer can be read and shared. */
function maskOnDevice(backend: CudaBackend, x: TensorInfo): boolean {
  const m = maskOf(x);
  return m == null || backend.data.has(m.dataId);
}

function pixelsAndChannels(x: TensorInfo): [number, number] {
  const channels = x.shape[x.shape.length - 1];
  return [channels === 0 ? 0 : sizeOf(x.shape) / channels, channels];
}

function deltaScaleShift(backend: CudaBackend, {x, scale, offset}: Inputs): TensorInfo | null {
  if (offset != null || !maskOnDevice(backend, x) || x.shape.length < 2 || sizeOf(x.shape) === 0) return null;
  requireFloat('deltaScaleShift', x, scale);
  const [pixels, channels] = pixelsAndChannels(x);
  const m = inputMask(backend, x);
  const lazy = m.ptr !== 0 && backend.lazyFor(x.shape);
  const y = backend.makeOutput(x.shape.slice(), 'float32');
  return backend.filling(y, () => {
    backend.n.deltaScale({
      x: deltaData(backend, x, m),
      mask: m.ptr,
      scale: backend.ptr(scale),
      y: backend.ptr(y),
      pixels,
      channels,
      writeZeros: !lazy,
    });
    const mask = maskOf(x);
    if (mask == null) return;
    backend.incRef(mask.dataId); // the output shares the input's mask buffer
    attachDeviceMask(backend, y, {dataId: mask.dataId, shape: mask.shape, dtype: 'bool'}, lazy);
  });
}

function deltaAdd(backend: CudaBackend, {a, b}: Inputs): TensorInfo | null {
  if (!maskOnDevice(backend, a) || !maskOnDevice(backend, b) || a.shape.length < 2 || sizeOf(a.shape) === 0)
    return null;
  requireFloat('deltaAdd', a, b);
  const [pixels, channels] = pixelsAndChannels(a);
  const ma = inputMask(backend, a);
  const mb = inputMask(backend, b);
  const masked = ma.ptr !== 0 && mb.ptr !== 0;
  const lazy = masked && backend.lazyFor(a.shape);
  const y = backend.makeOutput(a.shape.slice(), 'float32');
  return backend.filling(y, () => {
    const outMask = masked ? backend.makeOutput(a.shape.slice(0, -1), 'bool') : null;
    if (outMask == null) {
      backend.n.deltaAdd({
        a: deltaData(backend, a, ma),
        maskA: ma.ptr,
        b: deltaData(backend, b, mb),
        maskB: mb.ptr,
        y: backend.ptr(y),
        outMask: 0,
        pixels,
        channels,
        writeZeros: true,
      });
      return;
    }
    backend.filling(outMask, () =>
      backend.n.deltaAdd({
        a: deltaData(backend, a, ma),
        maskA: ma.ptr,
        b: deltaData(backend, b, mb),
        maskB: mb.ptr,
        y: backend.ptr(y),
        outMask: backend.ptr(outMask),
        pixels,
        channels,
        writeZeros: !lazy,
      }),
    );
    attachDeviceMask(backend, y, outMask, lazy);
  });
}

function deltaPad2D(backend: CudaBackend, {x}: Inputs, attrs: DeltaPad2DAttrs): TensorInfo | null {
  if (!maskOnDevice(backend, x) || x.shape.length !== 4 || sizeOf(x.shape) === 0) return null;
  requireFloat('deltaPad2d', x);
  const [[top, bottom], [left, right]] = attrs.padding;
  const [n, h, w, c] = x.shape;
  const outShape = [n, h + top + bottom, w + left + right, c];
  const m = inputMask(backend, x);
  const lazy = backend.lazyFor(outShape);
  const y = backend.makeOutput(outShape, 'float32');
  return backend.filling(y, () => {
    const outMask = backend.makeOutput(outShape.slice(0, 3), 'bool');
    backend.filling(outMask, () =>
      backend.n.deltaPad({
        n,
        h,
        w,
        c,
        oh: outShape[1],
        ow: outShape[2],
        top,
        left,
        x: deltaData(backend, x, m),
        mask: m.ptr,
        y: backend.ptr(y),
        outMask: backend.ptr(outMask),
        writeZeros: !lazy,
      }),
    );
    attachDeviceMask(backend, y, outMask, lazy);
  });
}

/**
 * The masked global pool: y [n, c] (or [n, 1, 1, c]: the same bytes) the mean over every pixel of x's active ones, its
 * mask [n] (or [n, 1, 1]) their OR. Null where the shared kernel must run.
 */
function maskedGlobalPool(backend: CudaBackend, op: string, x: TensorInfo, outShape: number[]): TensorInfo | null {
  if (!backend.globalPoolMasked || maskOf(x) == null || !maskOnDevice(backend, x) || backend.isHalf(x)) return null;
  if (x.shape.length !== 4 || sizeOf(x.shape) === 0) return null;
  requireFloat(op, x);
  const [n, h, w, c] = x.shape;
  const m = inputMask(backend, x);
  const y = backend.makeOutput(outShape, 'float32');
  return backend.filling(y, () => {
    const outMask = backend.makeOutput(outShape.slice(0, -1), 'bool');
    backend.filling(outMask, () =>
      backend.n.deltaGlobalAvgPool({
        n,
        h,
        w,
        c,
        x: deltaData(backend, x, m),
        mask: m.ptr,
        y: backend.ptr(y),
        outMask: backend.ptr(outMask),
      }),
    );
    attachDeviceMask(backend, y, outMask, false);
  });
}

function deltaGlobalAvgPool(backend: CudaBackend, {x}: Inputs): TensorInfo | null {
  return maskedGlobalPool(backend, 'deltaGlobalAvgPool', x, [x.shape[0], x.shape[x.shape.length - 1]]);
}

/** An average pool whose one 'valid' window is the whole map (a Keras head's pool resized to the frame). */
function deltaAvgPool(backend: CudaBackend, {x}: Inputs, attrs: DeltaAvgPoolAttrs): TensorInfo | null {
  if (x.shape.length !== 4) return null;
  const [n, h, w, c] = x.shape;
  const [fh, fw] = attrs.filterSize;
  if (attrs.pad !== 'valid' || fh !== h || fw !== w) return null;
  return maskedGlobalPool(backend, 'deltaAvgPool', x, [n, 1, 1, c]);
}

const NATIVE: {[kernelName: string]: (backend: CudaBackend, inputs: Inputs, attrs: never) => TensorInfo | null} = {
  [DeltaScaleShift]: deltaScaleShift,
  [DeltaAdd]: deltaAdd,
  [DeltaPad2D]: deltaPad2D,
  [DeltaGlobalAvgPool]: deltaGlobalAvgPool,
  [DeltaAvgPool]: deltaAvgPool,
};

export function registerDeltaCompanionKernels(): void {
  for (const config of sharedKernelConfigs('cuda')) {
    if (nativeKernels.has(config.kernelName)) continue; // a 'cuda' kernel of its own (frame bytes)
    const shared = (args: Parameters<KernelConfig['kernelFunc']>[0]) => config.kernelFunc(args) as TensorInfo;
    const native = NATIVE[config.kernelName];
    if (native == null) {
      registerCuda(config.kernelName, (args) => shared(args as never));
    } else {
      registerCuda(
        config.kernelName,
        (args) => native(args.backend, args.inputs as Inputs, args.attrs as never) ?? shared(args as never),
      );
    }
  }
}
