/**
 * Shape and data-movement kernels: Reshape and Identity (no copy: shared dataId), Cast, Fill, ZerosLike,
 * OnesLike, Slice, Concat, Transpose, PadV2, MirrorPad, ResizeNearestNeighbor, ResizeBilinear.
 */
import {backend_util, DataType, slice_util, TensorInfo, util} from '@tensorflow/tfjs-core';

import {bytesPerElement, CudaBackend} from '../backend';
import {DTypeCode} from '../native';
import {alias, MAX_RANK, registerCuda, requireFloat, sizeOf, stridesOf, transposeInto, unsupported} from './util';

function onDevice(dtype: DataType): void {
  if (DTypeCode[dtype] === undefined) unsupported(`dtype ${dtype}`);
}

function fill(backend: CudaBackend, shape: number[], dtype: DataType, value: number): TensorInfo {
  onDevice(dtype);
  const out = backend.makeOutput(shape, dtype);
  backend.n.fill({y: backend.ptr(out), dtype: DTypeCode[dtype], n: sizeOf(shape), value});
  return out;
}

/** Data movement keeps a half-stored input in half storage. */
function storedCode(backend: CudaBackend, x: TensorInfo): number {
  return backend.isHalf(x) ? DTypeCode.float16 : DTypeCode[x.dtype];
}

function pad(backend: CudaBackend, x: TensorInfo, paddings: Array<[number, number]>, mode: number, value: number) {
  onDevice(x.dtype);
  if (x.shape.length > MAX_RANK) unsupported(`rank ${x.shape.length}`);
  const outShape = paddings.map((p, i) => p[0] + x.shape[i] + p[1]);
  const out = backend.makeOutput(outShape, x.dtype, backend.isHalf(x));
  const code = storedCode(backend, x);
  if (sizeOf(x.shape) === 0) {
    backend.n.fill({y: backend.storedPtr(out), dtype: code, n: sizeOf(outShape), value});
    return out;
  }
  backend.n.pad({
    dtype: code,
    x: backend.storedPtr(x),
    inShape: x.shape,
    y: backend.storedPtr(out),
    outShape,
    before: paddings.map((p) => p[0]),
    mode,
    value,
  });
  return out;
}

export function registerTransformKernels(): void {
  registerCuda<{shape: number[]}>('Reshape', ({inputs, backend, attrs}) => {
    const x = inputs.x;
    const shape = util.inferFromImplicitShape(attrs.shape, sizeOf(x.shape));
    util.assert(
      sizeOf(shape) === sizeOf(x.shape),
      () => `new shape ${shape} and old shape ${x.shape} have different numbers of elements`,
    );
    return alias(backend, x, shape);
  });
  registerCuda('Identity', ({inputs, backend}) => alias(backend, inputs.x, inputs.x.shape));

  registerCuda<{dtype: DataType}>('Cast', ({inputs, backend, attrs}) => {
    const x = inputs.x;
    if (attrs.dtype === x.dtype) return alias(backend, x, x.shape);
    onDevice(x.dtype);
    onDevice(attrs.dtype);
    const out = backend.makeOutput(x.shape, attrs.dtype);
    backend.n.cast({
      x: backend.ptr(x),
      srcDtype: DTypeCode[x.dtype],
      y: backend.ptr(out),
      dstDtype: DTypeCode[attrs.dtype],
      n: sizeOf(x.shape),
    });
    return out;
  });

  registerCuda<{shape: number[]; value: number | string; dtype: DataType}>('Fill', ({backend, attrs}) => {
    if (typeof attrs.value !== 'number') unsupported('non-numeric fill value');
    return fill(backend, attrs.shape, attrs.dtype ?? 'float32', attrs.value as number);
  });
  registerCuda('ZerosLike', ({inputs, backend}) => fill(backend, inputs.x.shape, inputs.x.dtype, 0));
  registerCuda('OnesLike', ({inputs, backend}) => fill(backend, inputs.x.shape, inputs.x.dtype, 1));

  registerCuda<{begin: number | number[]; size: number | number[]}>('Slice', ({inputs, backend, attrs}) => {
    const x = inputs.x;
    onDevice(x.dtype);
    if (x.shape.length > MAX_RANK) unsupported(`rank ${x.shape.length}`);
    const [begin, size] = slice_util.parseSliceParams(x, attrs.begin, attrs.size);
    slice_util.assertParamsValid(x, begin, size);
    const out = backend.makeOutput(size, x.dtype, backend.isHalf(x));
    if (sizeOf(size) === 0) return out;
    const strides = stridesOf(x.shape);
    const offset = begin.reduce((acc, b, i) => acc + b * strides[i], 0);
    backend.n.stridedCopy({
      elemBytes: backend.storedElementBytes(x),
      src: backend.storedPtr(x),
      srcOffset: offset,
      shape: size,
      srcStrides: strides,
      dst: backend.storedPtr(out),
      dstOffset: 0,
      dstStrides: stridesOf(size),
    });
    return out;
  });

  registerCuda<{axis: number | number[]}>('Concat', ({inputs, backend, attrs}) => {
    const list = Object.values(inputs) as TensorInfo[];
    const dtype = list[0].dtype;
    onDevice(dtype);
    if (!list.every((t) => t.dtype === dtype)) unsupported('mixed dtypes');
    const axis = util.parseAxisParam(attrs.axis, list[0].shape)[0];
    const outShape = backend_util.computeOutShape(
      list.map((t) => t.shape),
      axis,
    );
    if (outShape.length > MAX_RANK) unsupported(`rank ${outShape.length}`);
    const half = list.every((t) => backend.isHalf(t)); // mixed storage: concatenated as float32
    const out = backend.makeOutput(outShape, dtype, half);
    const outStrides = stridesOf(outShape);
    let along = 0;
    for (const t of list) {
      if (sizeOf(t.shape) > 0)
        backend.n.stridedCopy({
          elemBytes: half ? 2 : bytesPerElement(dtype),
          src: half ? backend.storedPtr(t) : backend.ptr(t),
          srcOffset: 0,
          shape: t.shape,
          srcStrides: stridesOf(t.shape),
          dst: backend.storedPtr(out),
          dstOffset: along * outStrides[axis],
          dstStrides: outStrides,
        });
      along += t.shape[axis];
    }
    return out;
  });

  registerCuda<{perm: number[]}>('Transpose', ({inputs, backend, attrs}) => {
    const x = inputs.x;
    onDevice(x.dtype);
    if (x.shape.length > MAX_RANK) unsupported(`rank ${x.shape.length}`);
    const out = backend.makeOutput(
      attrs.perm.map((p) => x.shape[p]),
      x.dtype,
      backend.isHalf(x),
    );
    if (sizeOf(x.shape) > 0)
      transposeInto(
        backend,
        backend.storedElementBytes(x),
        backend.storedPtr(x),
        x.shape,
        attrs.perm,
        backend.storedPtr(out),
      );
    return out;
  });

  registerCuda<{paddings: Array<[number, number]>; constantValue: number}>('PadV2', ({inputs, backend, attrs}) =>
    pad(backend, inputs.x, attrs.paddings, 0, attrs.constantValue),
  );
  registerCuda<{paddings: Array<[number, number]>; mode: 'reflect' | 'symmetric'}>(
    'MirrorPad',
    ({inputs, backend, attrs}) => pad(backend, inputs.x, attrs.paddings, attrs.mode === 'reflect' ? 1 : 2, 0),
  );

  for (const [name, bilinear] of [
    ['ResizeBilinear', true],
    ['ResizeNearestNeighbor', false],
  ] as const) {
    registerCuda<{alignCorners: boolean; halfPixelCenters: boolean; size: [number, number]}>(
      name,
      ({inputs, backend, attrs}) => {
        const x = inputs.images;
        requireFloat(name, x);
        const [n, h, w, c] = x.shape;
        const [oh, ow] = attrs.size;
        const out = backend.makeOutput([n, oh, ow, c], 'float32');
        backend.n.resize({
          bilinear,
          x: backend.ptr(x),
          n,
          h,
          w,
          c,
          y: backend.ptr(out),
          outH: oh,
          outW: ow,
          alignCorners: !!attrs.alignCorners,
          halfPixelCenters: !!attrs.halfPixelCenters,
        });
        return out;
      },
    );
  }
}
