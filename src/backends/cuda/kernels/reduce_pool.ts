/** Reductions (Sum, Mean, Max, Min, Prod), pooling (MaxPool, AvgPool, 2-D and 3-D), FusedBatchNorm, Softmax. */
import {backend_util, TensorInfo, util} from '@tensorflow/tfjs-core';

import {CudaBackend} from '../backend';
import {ReduceOp} from '../native';
import {registerCuda, requireFloat, sizeOf, transposeInto, unsupported} from './util';

function reduce(backend: CudaBackend, op: number, x: TensorInfo, axis: number | number[], keepDims: boolean,
                name: string): TensorInfo {
  requireFloat(name, x);
  const rank = x.shape.length;
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const r = sizeOf(reduceShape);
  const out = backend.makeOutput(keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'float32');
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (axes.length === 0) {
    backend.n.reduce(op, backend.ptr(x), backend.ptr(out), sizeOf(x.shape), 1, 1);
  } else if (contiguous) {  // reads a half-stored x as it is
    const outer = sizeOf(x.shape.slice(0, axes[0])), inner = sizeOf(x.shape.slice(axes[axes.length - 1] + 1));
    backend.n.reduce(op, backend.storedPtr(x), backend.ptr(out), outer, r, inner, backend.isHalf(x));
  } else {  // move the reduced axes last, then reduce rows
    const perm = backend_util.getAxesPermutation(axes, rank)!;
    const t = backend.makeOutput(perm.map(p => x.shape[p]), 'float32');
    transposeInto(backend, 4, backend.ptr(x), x.shape, perm, backend.ptr(t));
    backend.n.reduce(op, backend.ptr(t), backend.ptr(out), sizeOf(outShape), r, 1);
    backend.disposeIntermediate(t);
  }
  return out;
}

type PoolAttrs = {
  filterSize: number | number[];
  strides: number | number[];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: string;
};

function pool2d(backend: CudaBackend, x: TensorInfo, attrs: PoolAttrs, isMax: boolean): TensorInfo {
  requireFloat('pool', x);
  const i = backend_util.computePool2DInfo(x.shape as [number, number, number, number],
                                           attrs.filterSize as [number, number], attrs.strides as [number, number], 1,
                                           attrs.pad, attrs.dimRoundingMode);
  const half = backend.isHalf(x);
  const out = backend.makeOutput(i.outShape, 'float32', half);
  backend.n.pool(isMax, backend.storedPtr(x), backend.storedPtr(out), [
    i.batchSize, 1, i.inHeight, i.inWidth, i.inChannels, 1, i.outHeight, i.outWidth, 1, i.filterHeight,
    i.filterWidth, 1, i.strideHeight, i.strideWidth, 1, i.dilationHeight, i.dilationWidth, 0, i.padInfo.top,
    i.padInfo.left,
  ], half);
  return out;
}

function pool3d(backend: CudaBackend, x: TensorInfo, attrs: PoolAttrs, isMax: boolean): TensorInfo {
  requireFloat('pool3d', x);
  if (attrs.dataFormat === 'NCDHW') unsupported('NCDHW data format');
  const i = backend_util.computePool3DInfo(x.shape as [number, number, number, number, number],
                                           attrs.filterSize as [number, number, number],
                                           attrs.strides as [number, number, number], 1, attrs.pad as 'same',
                                           attrs.dimRoundingMode);
  const half = backend.isHalf(x);
  const out = backend.makeOutput(i.outShape, 'float32', half);
  backend.n.pool(isMax, backend.storedPtr(x), backend.storedPtr(out), [
    i.batchSize, i.inDepth, i.inHeight, i.inWidth, i.inChannels, i.outDepth, i.outHeight, i.outWidth,
    i.filterDepth, i.filterHeight, i.filterWidth, i.strideDepth, i.strideHeight, i.strideWidth, i.dilationDepth,
    i.dilationHeight, i.dilationWidth, i.padInfo.front, i.padInfo.top, i.padInfo.left,
  ], half);
  return out;
}

export function registerReducePoolKernels(): void {
  const reductions: Array<[string, number, string]> = [
    ['Sum', ReduceOp.sum, 'axis'], ['Mean', ReduceOp.mean, 'axis'], ['Max', ReduceOp.max, 'reductionIndices'],
    ['Min', ReduceOp.min, 'axis'], ['Prod', ReduceOp.prod, 'axis'],
  ];
  for (const [name, op, axisAttr] of reductions)
    registerCuda(name, ({inputs, backend, attrs}) =>
                           reduce(backend, op, inputs.x, attrs[axisAttr] as number | number[],
                                  attrs.keepDims as boolean, name));

  registerCuda<PoolAttrs>('MaxPool', ({inputs, backend, attrs}) => pool2d(backend, inputs.x, attrs, true));
  registerCuda<PoolAttrs>('AvgPool', ({inputs, backend, attrs}) => pool2d(backend, inputs.x, attrs, false));
  registerCuda<PoolAttrs>('MaxPool3D', ({inputs, backend, attrs}) => pool3d(backend, inputs.x, attrs, true));
  registerCuda<PoolAttrs>('AvgPool3D', ({inputs, backend, attrs}) => pool3d(backend, inputs.x, attrs, false));

  registerCuda<{varianceEpsilon?: number}>('FusedBatchNorm', ({inputs, backend, attrs}) => {
    const {x, mean, variance, offset, scale} = inputs;
    requireFloat('batchNorm', x, mean, variance, offset, scale);
    const half = backend.isHalf(x);
    const out = backend.makeOutput(x.shape, 'float32', half);
    const len = (t?: TensorInfo) => t ? sizeOf(t.shape) : 1;
    backend.n.batchNorm(backend.storedPtr(x), backend.storedPtr(out), sizeOf(x.shape), backend.ptr(mean), len(mean),
                        backend.ptr(variance), len(variance), offset ? backend.ptr(offset) : 0, len(offset),
                        scale ? backend.ptr(scale) : 0, len(scale), attrs.varianceEpsilon ?? 0.001, half);
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
    backend.n.softmax(backend.ptr(x), backend.ptr(out), cols ? sizeOf(x.shape) / cols : 0, cols);
    return out;
  });
}
