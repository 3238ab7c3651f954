/** Reductions (Sum, Mean, Max, Min, Prod), pooling (MaxPool, AvgPool, 2-D and 3-D), FusedBatchNorm, Softmax. */
import {backend_util, TensorInfo, util} from '@tensorflow/tfjs-core';

import {CudaBackend} from '../backend';
import {ReduceOp} from '../native';
import {registerCuda, requireFloat, sizeOf, transposeInto, unsupported} from './util';

function reduce(
  backend: CudaBackend,
  op: number,
  x: TensorInfo,
  axis: number | number[],
  keepDims: boolean,
  name: string,
): TensorInfo {
  requireFloat(name, x);
  const rank = x.shape.length;
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const r = sizeOf(reduceShape);
  const out = backend.makeOutput(keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'float32');
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (axes.length === 0) {
    backend.n.reduce({op, x: backend.ptr(x), y: backend.ptr(out), outer: sizeOf(x.shape), r: 1, inner: 1});
  } else if (contiguous) {
    // reads a half-stored x as it is
    const outer = sizeOf(x.shape.slice(0, axes[0])),
      inner = sizeOf(x.shape.slice(axes[axes.length - 1] + 1));
    backend.n.reduce({op, x: backend.storedPtr(x), y: backend.ptr(out), outer, r, inner, xHalf: backend.isHalf(x)});
  } else {
    // move the reduced axes last, then reduce rows
    const perm = backend_util.getAxesPermutation(axes, rank)!;
    const t = backend.makeOutput(
      perm.map((p) => x.shape[p]),
      'float32',
    );
    transposeInto(backend, 4, backend.ptr(x), x.shape, perm, backend.ptr(t));
    backend.n.reduce({op, x: backend.ptr(t), y: backend.ptr(out), outer: sizeOf(outShape), r, inner: 1});
    backend.disposeIntermediate(t);
  }
  return out;
}

/** Pools that ran on the split kernel (CudaBackend.poolSplit): tests and benchmarks. */
export const poolStats = {splitWindow: 0};

type PoolAttrs = {
  filterSize: number | number[];
  strides: number | number[];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: string;
};

function pool2d(backend: CudaBackend, x: TensorInfo, attrs: PoolAttrs, isMax: boolean): TensorInfo {
  requireFloat('pool', x);
  const i = backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize as [number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const half = backend.isHalf(x);
  const out = backend.makeOutput(i.outShape, 'float32', half);
  const split = backend.n.pool({
    isMax,
    x: backend.storedPtr(x),
    y: backend.storedPtr(out),
    half,
    n: i.batchSize,
    d: 1,
    h: i.inHeight,
    w: i.inWidth,
    c: i.inChannels,
    od: 1,
    oh: i.outHeight,
    ow: i.outWidth,
    kd: 1,
    kh: i.filterHeight,
    kw: i.filterWidth,
    sd: 1,
    sh: i.strideHeight,
    sw: i.strideWidth,
    dd: 1,
    dh: i.dilationHeight,
    dw: i.dilationWidth,
    pf: 0,
    pt: i.padInfo.top,
    pl: i.padInfo.left,
    splitWindow: backend.poolSplit,
  });
  if (split) poolStats.splitWindow++;
  return out;
}

function pool3d(backend: CudaBackend, x: TensorInfo, attrs: PoolAttrs, isMax: boolean): TensorInfo {
  requireFloat('pool3d', x);
  if (attrs.dataFormat === 'NCDHW') unsupported('NCDHW data format');
  const i = backend_util.computePool3DInfo(
    x.shape as [number, number, number, number, number],
    attrs.filterSize as [number, number, number],
    attrs.strides as [number, number, number],
    1,
    attrs.pad as 'same',
    attrs.dimRoundingMode,
  );
  const half = backend.isHalf(x);
  const out = backend.makeOutput(i.outShape, 'float32', half);
  const split = backend.n.pool({
    isMax,
    x: backend.storedPtr(x),
    y: backend.storedPtr(out),
    half,
    n: i.batchSize,
    d: i.inDepth,
    h: i.inHeight,
    w: i.inWidth,
    c: i.inChannels,
    od: i.outDepth,
    oh: i.outHeight,
    ow: i.outWidth,
    kd: i.filterDepth,
    kh: i.filterHeight,
    kw: i.filterWidth,
    sd: i.strideDepth,
    sh: i.strideHeight,
    sw: i.strideWidth,
    dd: i.dilationDepth,
    dh: i.dilationHeight,
    dw: i.dilationWidth,
    pf: i.padInfo.front,
    pt: i.padInfo.top,
    pl: i.padInfo.left,
    splitWindow: backend.poolSplit,
  });
  if (split) poolStats.splitWindow++;
  return out;
}

export function registerReducePoolKernels(): void {
  const reductions: Array<[string, number, string]> = [
    ['Sum', ReduceOp.sum, 'axis'],
    ['Mean', ReduceOp.mean, 'axis'],
    ['Max', ReduceOp.max, 'reductionIndices'],
    ['Min', ReduceOp.min, 'axis'],
    ['Prod', ReduceOp.prod, 'axis'],
  ];
  for (const [name, op, axisAttr] of reductions)
    registerCuda(name, ({inputs, backend, attrs}) =>
      reduce(backend, op, inputs.x, attrs[axisAttr] as number | number[], attrs.keepDims as boolean, name),
    );

  registerCuda<PoolAttrs>('MaxPool', ({inputs, backend, attrs}) => pool2d(backend, inputs.x, attrs, true));
  registerCuda<PoolAttrs>('AvgPool', ({inputs, backend, attrs}) => pool2d(backend, inputs.x, attrs, false));
  registerCuda<PoolAttrs>('MaxPool3D', ({inputs, backend, attrs}) => pool3d(backend, inputs.x, attrs, true));
  registerCuda<PoolAttrs>('AvgPool3D', ({inputs, backend, attrs}) => pool3d(backend, inputs.x, attrs, false));

  registerCuda<{varianceEpsilon?: number}>('FusedBatchNorm', ({inputs, backend, attrs}) => {
    const {x, mean, variance, offset, scale} = inputs;
    requireFloat('batchNorm', x, mean, variance, offset, scale);
    const half = backend.isHalf(x);
    const out = backend.makeOutput(x.shape, 'float32', half);
    const len = (t?: TensorInfo) => (t ? sizeOf(t.shape) : 1);
    backend.n.batchNorm({
      x: backend.storedPtr(x),
      y: backend.storedPtr(out),
      n: sizeOf(x.shape),
      mean: backend.ptr(mean),
      meanLen: len(mean),
      variance: backend.ptr(variance),
      varianceLen: len(variance),
      offset: offset ? backend.ptr(offset) : 0,
      offsetLen: len(offset),
      scale: scale ? backend.ptr(scale) : 0,
      scaleLen: len(scale),
      epsilon: attrs.varianceEpsilon ?? 0.001,
      half,
    });
    return out;
  });

  registerCuda<{dim: number}>('Softmax', ({inputs, backend, attrs}) => {
    const x = inputs.logits;
    requireFloat('softmax', x);
    const rank = x.shape.length;
    const dim = attrs.dim < 0 ? attrs.dim + rank : attrs.dim;
    if (dim !== rank - 1) unsupported('softmax along a non-last axis');
    const out = backend.makeOutput(x.shape, 'float32');
    const cols = x.shape[rank - 1];
    backend.n.softmax({x: backend.ptr(x), y: backend.ptr(out), rows: cols ? sizeOf(x.shape) / cols : 0, cols});
    return out;
  });
}
