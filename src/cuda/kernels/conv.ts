/**
 * Convolution kernels through cuDNN: Conv2D, FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D, Conv3D,
 * Conv2DBackpropInput and Conv3DBackpropInputV2 (transposed convolutions). Activations NHWC / NDHWC as tfjs;
 * filters are transposed once to cuDNN's KRSC layout and cached on the filter tensor. cuDNN pads symmetrically,
 * so an asymmetric ('same' with an even total) padding pads the input explicitly by the difference.
 */
import {backend_util, TensorInfo} from '@tensorflow/tfjs-core';

import {CudaBackend} from '../backend';
import {Ptr} from '../native';
import {applyBiasActivation} from './elementwise';
import {registerCuda, requireFloat, sizeOf, stridesOf, transposeInto, unsupported} from './util';

interface ConvGeometry {
  nd: 2 | 3;
  n: number;
  c: number;       // channels of x (the forward convolution's input)
  k: number;       // channels of y
  groups: number;
  xs: number[];    // spatial sizes of x
  ys: number[];    // spatial sizes of y
  ws: number[];    // filter spatial sizes
  before: number[];
  after: number[];
  stride: number[];
  dil: number[];
}

function geometry2d(info: backend_util.Conv2DInfo, groups: number): ConvGeometry {
  const p = info.padInfo;
  return {
    nd: 2, n: info.batchSize, c: info.inChannels, k: info.outChannels, groups,
    xs: [info.inHeight, info.inWidth], ys: [info.outHeight, info.outWidth], ws: [info.filterHeight, info.filterWidth],
    before: [p.top, p.left], after: [p.bottom, p.right], stride: [info.strideHeight, info.strideWidth],
    dil: [info.dilationHeight, info.dilationWidth],
  };
}

function geometry3d(info: backend_util.Conv3DInfo): ConvGeometry {
  const p = info.padInfo;
  return {
    nd: 3, n: info.batchSize, c: info.inChannels, k: info.outChannels, groups: 1,
    xs: [info.inDepth, info.inHeight, info.inWidth], ys: [info.outDepth, info.outHeight, info.outWidth],
    ws: [info.filterDepth, info.filterHeight, info.filterWidth], before: [p.front, p.top, p.left],
    after: [p.back, p.bottom, p.right], stride: [info.strideDepth, info.strideHeight, info.strideWidth],
    dil: [info.dilationDepth, info.dilationHeight, info.dilationWidth],
  };
}

/** The filter in cuDNN's K,spatial,C/groups layout; `perm` maps tfjs's filter layout to it. */
function filterKrsc(backend: CudaBackend, filter: TensorInfo, perm: number[]): Ptr {
  return backend.derived(filter, `krsc:${perm.join('')}`, sizeOf(filter.shape) * 4,
                         dst => transposeInto(backend, 4, backend.ptr(filter), filter.shape, perm, dst));
}

const pad3 = (v: number[], fill: number) => [...v, ...new Array(3 - v.length).fill(fill)];

/**
 * Runs the convolution described by `g`. Forward: returns y for input x. backwardData: `input` is dy and the result
 * is dx (the transposed convolution). Asymmetric padding is handled by a zero-padded x (forward) or an enlarged dx
 * that is cropped afterwards (backward data).
 */
function convolve(backend: CudaBackend, g: ConvGeometry, input: TensorInfo, w: Ptr, backwardData: boolean): TensorInfo {
  const sym = g.before.map((b, i) => Math.min(b, g.after[i]));
  const extraB = g.before.map((b, i) => b - sym[i]);
  const extraA = g.after.map((a, i) => a - sym[i]);
  const asym = extraB.some(v => v > 0) || extraA.some(v => v > 0);
  const xsExt = g.xs.map((s, i) => s + extraB[i] + extraA[i]);
  for (let i = 0; i < g.nd; i++) {
    const eff = (g.ws[i] - 1) * g.dil[i] + 1;
    if (Math.floor((xsExt[i] + 2 * sym[i] - eff) / g.stride[i]) + 1 !== g.ys[i])
      unsupported('output size differs from floor rounding (dimRoundingMode)');
  }
  const xShape = [g.n, ...g.xs, g.c], xExtShape = [g.n, ...xsExt, g.c], yShape = [g.n, ...g.ys, g.k];
  const params = [g.nd, backwardData ? 1 : 0, g.n, g.c, g.k, g.groups, ...pad3(xsExt, 1), ...pad3(g.ys, 1),
                  ...pad3(g.ws, 1), ...pad3(sym, 0), ...pad3(g.stride, 1), ...pad3(g.dil, 1)];
  if (!backwardData) {
    let x = input;
    if (asym) {
      x = backend.makeOutput(xExtShape, 'float32');
      backend.n.pad(0, backend.ptr(input), xShape, backend.ptr(x), xExtShape, [0, ...extraB, 0], 0, 0);
    }
    try {
      return backend.filling(backend.makeOutput(yShape, 'float32'),
                             y => backend.n.conv(params, backend.ptr(x), w, backend.ptr(y)));
    } finally {
      if (x !== input) backend.disposeIntermediate(x);
    }
  }
  const dxExt = backend.filling(backend.makeOutput(xExtShape, 'float32'),
                                dx => backend.n.conv(params, backend.ptr(dx), w, backend.ptr(input)));
  if (!asym) return dxExt;
  const dx = backend.makeOutput(xShape, 'float32');
  const extStrides = stridesOf(xExtShape);
  const offset = [0, ...extraB, 0].reduce((acc, v, i) => acc + v * extStrides[i], 0);
  backend.n.stridedCopy(4, backend.ptr(dxExt), offset, xShape, extStrides, backend.ptr(dx), 0, stridesOf(xShape));
  backend.disposeIntermediate(dxExt);
  return dx;
}

interface Conv2DAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

function conv2dLike(backend: CudaBackend, inputs: {[k: string]: TensorInfo}, attrs: Conv2DAttrs, depthwise: boolean) {
  const {x, filter, bias, preluActivationWeights} = inputs;
  requireFloat('conv2d', x, filter);
  if (attrs.dataFormat === 'NCHW') unsupported('NCHW data format');
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
                                              filter.shape as [number, number, number, number], attrs.strides,
                                              attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, depthwise,
                                              'channelsLast');
  const g = geometry2d(info, depthwise ? info.inChannels : 1);
  const w = filterKrsc(backend, filter, depthwise ? [2, 3, 0, 1] : [3, 0, 1, 2]);
  return backend.filling(convolve(backend, g, x, w, false), y => applyBiasActivation(
      backend, y, bias, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha));
}

export function registerConvKernels(): void {
  registerCuda<Conv2DAttrs>('Conv2D', ({inputs, backend, attrs}) => conv2dLike(backend, inputs, attrs, false));
  registerCuda<Conv2DAttrs>('FusedConv2D', ({inputs, backend, attrs}) => conv2dLike(backend, inputs, attrs, false));
  registerCuda<Conv2DAttrs>('DepthwiseConv2dNative',
                            ({inputs, backend, attrs}) => conv2dLike(backend, inputs, attrs, true));
  registerCuda<Conv2DAttrs>('FusedDepthwiseConv2D',
                            ({inputs, backend, attrs}) => conv2dLike(backend, inputs, attrs, true));

  registerCuda<{strides: number | number[]; pad: 'valid' | 'same'; dataFormat?: string; dilations?: number | number[]}>(
      'Conv3D', ({inputs, backend, attrs}) => {
        const {x, filter} = inputs;
        requireFloat('conv3d', x, filter);
        if (attrs.dataFormat === 'NCDHW') unsupported('NCDHW data format');
        const info = backend_util.computeConv3DInfo(
            x.shape as [number, number, number, number, number],
            filter.shape as [number, number, number, number, number], attrs.strides as [number, number, number],
            (attrs.dilations ?? 1) as [number, number, number], attrs.pad);
        return convolve(backend, geometry3d(info), x, filterKrsc(backend, filter, [4, 0, 1, 2, 3]), false);
      });

  registerCuda<Conv2DAttrs & {inputShape: [number, number, number, number]}>(
      'Conv2DBackpropInput', ({inputs, backend, attrs}) => {
        const {dy, filter} = inputs;
        requireFloat('conv2dTranspose', dy, filter);
        if (attrs.dataFormat === 'NCHW') unsupported('NCHW data format');
        const info = backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number],
                                                    attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false,
                                                    'channelsLast');
        return convolve(backend, geometry2d(info, 1), dy, filterKrsc(backend, filter, [3, 0, 1, 2]), true);
      });

  registerCuda<{strides: number | number[]; pad: 'valid' | 'same'; inputShape: number[]}>(
      'Conv3DBackpropInputV2', ({inputs, backend, attrs}) => {
        const {dy, filter} = inputs;
        requireFloat('conv3dTranspose', dy, filter);
        const info = backend_util.computeConv3DInfo(
            attrs.inputShape as [number, number, number, number, number],
            filter.shape as [number, number, number, number, number], attrs.strides as [number, number, number], 1,
            attrs.pad);
        return convolve(backend, geometry3d(info), dy, filterKrsc(backend, filter, [4, 0, 1, 2, 3]), true);
      });
}
