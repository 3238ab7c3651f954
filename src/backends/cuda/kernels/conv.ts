/**
 * Convolution kernels through cuDNN (depthwise convs of channel multiplier 1 on a kernel of our own, depthwise.cu):
 * Conv2D, FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D, Conv3D,
 * Conv2DBackpropInput and Conv3DBackpropInputV2 (transposed convolutions). Activations NHWC / NDHWC as tfjs;
 * filters are transposed once to cuDNN's KRSC layout and cached on the filter tensor. Asymmetric pads ('same' with an
 * odd total) go to cuDNN's graph API as pre- and post-paddings where an engine takes them (convolve); else the input
 * is padded explicitly by the difference.
 */
import {backend_util, TensorInfo} from '@tensorflow/tfjs-core';

import {CudaBackend} from '../backend';
import {DTypeCode, Ptr, UnaryOp} from '../native';
import {activationOps, applyBiasActivation, LEAKY_RELU_ALPHA} from './elementwise';
import {registerCuda, requireFloat, sizeOf, stridesOf, transposeInto, unsupported} from './util';
import {envFlag} from '../../../io/env';

export interface ConvGeometry {
  nd: 2 | 3;
  n: number;
  c: number; // channels of x (the forward convolution's input)
  k: number; // channels of y
  groups: number;
  xs: number[]; // spatial sizes of x
  ys: number[]; // spatial sizes of y
  ws: number[]; // filter spatial sizes
  before: number[];
  after: number[];
  stride: number[];
  dil: number[];
}

function geometry2d(info: backend_util.Conv2DInfo, groups: number): ConvGeometry {
  const p = info.padInfo;
  return {
    nd: 2,
    n: info.batchSize,
    c: info.inChannels,
    k: info.outChannels,
    groups,
    xs: [info.inHeight, info.inWidth],
    ys: [info.outHeight, info.outWidth],
    ws: [info.filterHeight, info.filterWidth],
    before: [p.top, p.left],
    after: [p.bottom, p.right],
    stride: [info.strideHeight, info.strideWidth],
    dil: [info.dilationHeight, info.dilationWidth],
  };
}

export function geometry3d(info: backend_util.Conv3DInfo): ConvGeometry {
  const p = info.padInfo;
  return {
    nd: 3,
    n: info.batchSize,
    c: info.inChannels,
    k: info.outChannels,
    groups: 1,
    xs: [info.inDepth, info.inHeight, info.inWidth],
    ys: [info.outDepth, info.outHeight, info.outWidth],
    ws: [info.filterDepth, info.filterHeight, info.filterWidth],
    before: [p.front, p.top, p.left],
    after: [p.back, p.bottom, p.right],
    stride: [info.strideDepth, info.strideHeight, info.strideWidth],
    dil: [info.dilationDepth, info.dilationHeight, info.dilationWidth],
  };
}

/**
 * The filter in cuDNN's K,spatial,C/groups layout; `perm` maps tfjs's filter layout to it. Cached on the filter
 * tensor (filters are constants), in float32 and, for half-precision convolutions, in half.
 */
export function filterKrsc(backend: CudaBackend, filter: TensorInfo, perm: number[], half = false): Ptr {
  const size = sizeOf(filter.shape);
  const f32 = backend.derived(filter, `krsc:${perm.join('')}`, size * 4, (dst) =>
    transposeInto(backend, 4, backend.ptr(filter), filter.shape, perm, dst),
  );
  if (!half) return f32;
  return backend.derived(filter, `krsc16:${perm.join('')}`, size * 2, (dst) =>
    backend.n.cast({x: f32, srcDtype: DTypeCode.float32, y: dst, dstDtype: DTypeCode.float16, n: size}),
  );
}

/**
 * Runs the convolution described by `g` with the filter `filter` (tfjs layout, `perm` to cuDNN's). Forward: returns
 * y for input x. backwardData: `input` is dy and the result is dx (the transposed convolution). Asymmetric padding
 * goes to cuDNN as it is where an engine takes it (forward, backend.asymmetricConvPads), else it is handled by a
 * zero-padded x (forward) or an enlarged dx that is cropped afterwards (backward data). With the
 * backend's half storage on, the convolution runs on half data (fp32 accumulation) and returns a half-stored result.
 */
export function convolve(
  backend: CudaBackend,
  g: ConvGeometry,
  input: TensorInfo,
  filter: TensorInfo,
  perm: number[],
  backwardData: boolean,
): TensorInfo {
  const sym = g.before.map((b, i) => Math.min(b, g.after[i]));
  const extraB = g.before.map((b, i) => b - sym[i]);
  const extraA = g.after.map((a, i) => a - sym[i]);
  const asym = extraB.some((v) => v > 0) || extraA.some((v) => v > 0);
  const xsExt = g.xs.map((s, i) => s + extraB[i] + extraA[i]);
  for (let i = 0; i < g.nd; i++) {
    const eff = (g.ws[i] - 1) * g.dil[i] + 1;
    if (Math.floor((xsExt[i] + 2 * sym[i] - eff) / g.stride[i]) + 1 !== g.ys[i])
      unsupported('output size inconsistent with the pads and floor rounding (dimRoundingMode)');
  }
  const half = backend.halfStorage;
  const xShape = [g.n, ...g.xs, g.c],
    xExtShape = [g.n, ...xsExt, g.c],
    yShape = [g.n, ...g.ys, g.k];
  const shape = {
    nd: g.nd,
    backwardData,
    n: g.n,
    c: g.c,
    k: g.k,
    groups: g.groups,
    xs: xsExt,
    ys: g.ys,
    ws: g.ws,
    pad: sym,
    stride: g.stride,
    dil: g.dil,
  };
  const w = filterKrsc(backend, filter, perm, half);
  const temps: TensorInfo[] = [];
  const temp = (shape: number[]) => {
    const t = backend.makeOutput(shape, 'float32', half);
    temps.push(t);
    return t;
  };
  try {
    const inPtr = half ? backend.halfPtr(input, temps) : backend.ptr(input);
    if (!backwardData) {
      if (asym && backend.asymmetricConvPads) {
        const y = backend.makeOutput(yShape, 'float32', half);
        let ran = false;
        backend.filling(y, () => {
          ran = backend.n.conv({
            ...shape,
            xs: g.xs,
            pad: g.before,
            padAfter: g.after,
            x: inPtr,
            w,
            y: backend.storedPtr(y),
            half,
          });
        });
        if (ran) return y;
        backend.disposeIntermediate(y);
      }
      let xPtr = inPtr;
      if (asym) {
        xPtr = backend.storedPtr(temp(xExtShape));
        backend.n.pad({
          dtype: half ? DTypeCode.float16 : DTypeCode.float32,
          x: inPtr,
          inShape: xShape,
          y: xPtr,
          outShape: xExtShape,
          before: [0, ...extraB, 0],
          mode: 0,
          value: 0,
        });
      }
      return backend.filling(backend.makeOutput(yShape, 'float32', half), (y) =>
        backend.n.conv({...shape, x: xPtr, w, y: backend.storedPtr(y), half}),
      );
    }
    const dxExt = backend.filling(backend.makeOutput(xExtShape, 'float32', half), (dx) =>
      backend.n.conv({...shape, x: backend.storedPtr(dx), w, y: inPtr, half}),
    );
    if (!asym) return dxExt;
    temps.push(dxExt);
    const extStrides = stridesOf(xExtShape);
    const offset = [0, ...extraB, 0].reduce((acc, v, i) => acc + v * extStrides[i], 0);
    return backend.filling(backend.makeOutput(xShape, 'float32', half), (dx) =>
      backend.n.stridedCopy({
        elemBytes: half ? 2 : 4,
        src: backend.storedPtr(dxExt),
        srcOffset: offset,
        shape: xShape,
        srcStrides: extStrides,
        dst: backend.storedPtr(dx),
        dstOffset: 0,
        dstStrides: stridesOf(xShape),
      }),
    );
  } finally {
    temps.forEach((t) => backend.disposeIntermediate(t));
  }
}

/** TFJS_DELTA_CUDA_SUBPIXEL=0: FLAVR's transposed 3-D convolutions on cuDNN's backward-data kernels instead. */
const subpixelOn = envFlag('TFJS_DELTA_CUDA_SUBPIXEL', true);

/**
 * A transposed 3-D convolution of stride (1, 2, 2), kernel (kt, 4, 4) and padding (pt, 1, 1) on every side, FLAVR's
 * upsampling, as one forward convolution plus one strided copy, or null when the geometry is another. cuDNN's
 * backward-data kernels for this NDHWC shape reach 22-100 TFLOP/s on an H100 (TF32) where its forward kernels reach
 * 250-600, so the sub-pixel form is used: output pixel (2m + rh, 2q + rw) only meets kernel taps of parity (rh, rw),
 * i.e. a 2x2 window of input pixels starting at (m + rh - 1, q + rw - 1). One forward convolution with a
 * (kt, 2, 2) kernel, padding (kt - 1 - pt, 1, 1) and 4 * Cout output channels, one block per phase (rh, rw),
 * computes all four phases on an (H + 1) x (W + 1) grid; the strided copy interleaves them into [2H, 2W].
 * Multiply-adds: (H + 1)(W + 1) / HW of the transposed convolution's own.
 */
export function subpixelTransposed3d(
  backend: CudaBackend,
  x: TensorInfo,
  filter: TensorInfo,
  strides: number[],
  pad: Array<[number, number]>,
  outShape: number[],
  half: boolean,
): TensorInfo | null {
  const [kt, kh, kw, co, ci] = filter.shape;
  const [n, d, h, w] = x.shape;
  const pt = pad[0][0];
  if (
    !subpixelOn ||
    strides.join() !== '1,2,2' ||
    kh !== 4 ||
    kw !== 4 ||
    pad[0][1] !== pt ||
    pt > kt - 1 ||
    pad.slice(1).some((p) => p[0] !== 1 || p[1] !== 1) ||
    outShape.join() !== [n, d - 1 + kt - 2 * pt, 2 * h, 2 * w, co].join() ||
    ci !== x.shape[4]
  ) {
    return null;
  }
  // Forward filter, K,T,R,S,C: F[(rh*2 + rw)*Cout + o][jt][jh][jw][c] = W[kt-1-jt][3-rh-2jh][3-rw-2jw][o][c].
  const make = (dst: Ptr) => {
    const src = backend.readSync(filter.dataId) as Float32Array; // once per filter (constant), before any capture
    const f = new Float32Array(src.length);
    let i = 0;
    for (let rh = 0; rh < 2; rh++)
      for (let rw = 0; rw < 2; rw++)
        for (let o = 0; o < co; o++)
          for (let jt = 0; jt < kt; jt++)
            for (let jh = 0; jh < 2; jh++)
              for (let jw = 0; jw < 2; jw++) {
                const base = ((((kt - 1 - jt) * 4 + 3 - rh - 2 * jh) * 4 + 3 - rw - 2 * jw) * co + o) * ci;
                f.set(src.subarray(base, base + ci), i);
                i += ci;
              }
    backend.n.upload({dst, values: f});
  };
  const size = sizeOf(filter.shape);
  let wPtr = backend.derived(filter, 'subpixel', size * 4, make);
  if (half) {
    const f32 = wPtr;
    wPtr = backend.derived(filter, 'subpixel16', size * 2, (dst) =>
      backend.n.cast({x: f32, srcDtype: DTypeCode.float32, y: dst, dstDtype: DTypeCode.float16, n: size}),
    );
  }
  const od = outShape[1],
    k4 = 4 * co;
  const temps: TensorInfo[] = [];
  try {
    const xPtr = half ? backend.halfPtr(x, temps) : backend.ptr(x);
    const z = backend.makeOutput([n, od, h + 1, w + 1, k4], 'float32', half);
    temps.push(z);
    backend.n.conv({
      nd: 3,
      backwardData: false,
      n,
      c: ci,
      k: k4,
      groups: 1,
      xs: [d, h, w],
      ys: [od, h + 1, w + 1],
      ws: [kt, 2, 2],
      pad: [kt - 1 - pt, 1, 1],
      stride: [1, 1, 1],
      dil: [1, 1, 1],
      x: xPtr,
      w: wPtr,
      y: backend.storedPtr(z),
      half,
    });
    // y[b, t, 2m + rh, 2q + rw, o] = z[b, t, m + rh, q + rw, (rh*2 + rw)*Cout + o]: dims [b*t, m, rh, q, rw, o]
    const rowZ = (w + 1) * k4;
    const y = backend.makeOutput(outShape.slice(), 'float32', half);
    const shape = [n * od, h, 2, w, 2, co];
    backend.filling(y, () =>
      backend.n.stridedCopy({
        elemBytes: half ? 2 : 4,
        src: backend.storedPtr(z),
        srcOffset: 0,
        shape,
        srcStrides: [(h + 1) * rowZ, rowZ, rowZ + 2 * co, k4, k4 + co, 1],
        dst: backend.storedPtr(y),
        dstOffset: 0,
        dstStrides: stridesOf(shape),
      }),
    );
    return y;
  } finally {
    temps.forEach((t) => backend.disposeIntermediate(t));
  }
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

/** A 2-D conv's input, output and window as the native kernels take them (pads: top and left; the rest implied). */
function windowGeometry(info: backend_util.Conv2DInfo) {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/** A fused conv's epilogue as tfjs passes it: bias, activation, prelu weights, leaky ReLU's slope. */
interface FusedEpilogue {
  bias?: TensorInfo;
  activation?: string;
  prelu?: TensorInfo;
  leakyAlpha?: number;
}

function conv2dLike(backend: CudaBackend, inputs: {[k: string]: TensorInfo}, attrs: Conv2DAttrs, depthwise: boolean) {
  const {x, filter, bias, preluActivationWeights} = inputs;
  requireFloat('conv2d', x, filter);
  if (attrs.dataFormat === 'NCHW') unsupported('NCHW data format');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  const epilogue: FusedEpilogue = {
    bias,
    activation: attrs.activation,
    prelu: preluActivationWeights,
    leakyAlpha: attrs.leakyreluAlpha,
  };
  if (depthwise && info.outChannels === info.inChannels && backend.ownDepthwise) {
    return depthwiseConv(backend, info, x, filter, epilogue);
  }
  if (!depthwise) {
    const y = tiledFusedConv(backend, info, x, filter, epilogue);
    if (y) return y;
  }
  const g = geometry2d(info, depthwise ? info.inChannels : 1);
  return backend.filling(convolve(backend, g, x, filter, depthwise ? [2, 3, 0, 1] : [3, 0, 1, 2], false), (y) =>
    applyBiasActivation(backend, y, bias, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha),
  );
}

/** Dense convs that ran on the tiled kernel with their bias and activation fused (tiledFusedConv), for tests and benchmarks. */
export const fusedConvStats = {tiled: 0};

/** TFJS_DELTA_CONV_MMA_PACK=0 (comparisons): the mma kernel stages and rounds the plain filter itself. */
const PACK_FILTERS = envFlag('TFJS_DELTA_CONV_MMA_PACK', true);

/**
 * A regular conv's filter [kh, kw, c, co] rounded to TF32 in the layout of the tiled mma kernel (delta_conv_tc.cu: B
 * fragments in lane order), derived once per filter tensor; 0 where that kernel cannot take it (c % 4 or co % 32 not
 * zero), TF32 is off or TFJS_DELTA_CONV_MMA_PACK=0. Shared by the dense fused convs and the delta convs. `tf32`: whether
 * TF32 is on, where the caller has asked the addon already (else asked here, once the shape allows packing).
 */
export function tf32PackedFilter(backend: CudaBackend, filter: TensorInfo, tf32?: boolean): Ptr {
  const [kh, kw, ci, co] = filter.shape;
  if (!PACK_FILTERS || co % 32 !== 0 || ci % 4 !== 0 || !(tf32 ?? backend.n.getOptions().allowTF32)) return 0;
  return backend.derived(filter, 'deltaConv:tf32pack', co * Math.ceil(ci / 16) * 16 * kh * kw * 4, (dst) =>
    backend.n.deltaConvPackFilter({kh, kw, c: ci, co, filter: backend.ptr(filter), out: dst}),
  );
}

/**
 * A FusedConv2D on the tiled TF32 kernel of the delta convs with its bias and activation in the kernel's store
 * (CudaBackend.fusedConvMaxK and fusedConvMinOutChannels say when), or null where the conv stays on cuDNN.
 */
function tiledFusedConv(
  backend: CudaBackend,
  info: backend_util.Conv2DInfo,
  x: TensorInfo,
  filter: TensorInfo,
  {bias, activation, prelu, leakyAlpha}: FusedEpilogue,
): TensorInfo | null {
  const act = activationOps[activation || 'linear'];
  const {inChannels: c, outChannels: co, filterHeight: kh, filterWidth: kw} = info;
  if (
    act === undefined ||
    prelu !== undefined ||
    (!bias && act === UnaryOp.linear) ||
    (bias && (bias.shape.length !== 1 || bias.shape[0] !== co)) ||
    kh * kw * c > backend.fusedConvMaxK ||
    co < backend.fusedConvMinOutChannels ||
    c % 4 !== 0 ||
    co % 4 !== 0 ||
    backend.halfStorage ||
    backend.isHalf(x) ||
    info.batchSize * info.inHeight * info.inWidth >= 2 ** 31 ||
    !backend.n.getOptions().allowTF32
  ) {
    return null;
  }
  return backend.filling(backend.makeOutput(info.outShape.slice(), 'float32'), (y) => {
    backend.n.deltaConv({
      geometry: {...windowGeometry(info), mode: 0, co, mult: 1},
      x: backend.ptr(x),
      mask: 0,
      filter: backend.ptr(filter),
      bias: bias ? backend.ptr(bias) : 0,
      packedFilter: tf32PackedFilter(backend, filter, true), // the checks above required TF32
      y: backend.ptr(y),
      outMask: 0,
      writeZeros: true,
      mmaPartial: true,
      act,
      alpha: leakyAlpha ?? LEAKY_RELU_ALPHA,
    });
    fusedConvStats.tiled++;
  });
}

/**
 * A depthwise conv of channel multiplier 1 on the kernel of native/cuda/depthwise.cu, with the bias and the activation
 * in its epilogue where they are per channel (others, and prelu, by applyBiasActivation after it). Output in the
 * backend's storage (half inside fp16 compiled streams), x read as it is stored.
 */
function depthwiseConv(
  backend: CudaBackend,
  info: backend_util.Conv2DInfo,
  x: TensorInfo,
  filter: TensorInfo,
  {bias, activation, prelu, leakyAlpha}: FusedEpilogue,
): TensorInfo {
  const act = activationOps[activation || 'linear'];
  const inKernel = act !== undefined && (!bias || (bias.shape.length === 1 && bias.shape[0] === info.outChannels));
  return backend.filling(backend.makeOutput(info.outShape.slice(), 'float32', backend.halfStorage), (y) => {
    backend.n.depthwiseConv({
      geometry: windowGeometry(info),
      x: backend.storedPtr(x),
      xHalf: backend.isHalf(x),
      w: backend.ptr(filter),
      bias: inKernel && bias ? backend.ptr(bias) : 0,
      y: backend.storedPtr(y),
      yHalf: backend.isHalf(y),
      act: inKernel ? act : UnaryOp.linear,
      alpha: leakyAlpha ?? LEAKY_RELU_ALPHA,
    });
    if (!inKernel) applyBiasActivation(backend, y, bias, activation, prelu, leakyAlpha);
  });
}

export function registerConvKernels(): void {
  registerCuda<Conv2DAttrs>('Conv2D', ({inputs, backend, attrs}) => conv2dLike(backend, inputs, attrs, false));
  registerCuda<Conv2DAttrs>('FusedConv2D', ({inputs, backend, attrs}) => conv2dLike(backend, inputs, attrs, false));
  registerCuda<Conv2DAttrs>('DepthwiseConv2dNative', ({inputs, backend, attrs}) =>
    conv2dLike(backend, inputs, attrs, true),
  );
  registerCuda<Conv2DAttrs>('FusedDepthwiseConv2D', ({inputs, backend, attrs}) =>
    conv2dLike(backend, inputs, attrs, true),
  );

  registerCuda<{strides: number | number[]; pad: 'valid' | 'same'; dataFormat?: string; dilations?: number | number[]}>(
    'Conv3D',
    ({inputs, backend, attrs}) => {
      const {x, filter} = inputs;
      requireFloat('conv3d', x, filter);
      if (attrs.dataFormat === 'NCDHW') unsupported('NCDHW data format');
      const info = backend_util.computeConv3DInfo(
        x.shape as [number, number, number, number, number],
        filter.shape as [number, number, number, number, number],
        attrs.strides as [number, number, number],
        (attrs.dilations ?? 1) as [number, number, number],
        attrs.pad,
      );
      return convolve(backend, geometry3d(info), x, filter, [4, 0, 1, 2, 3], false);
    },
  );

  registerCuda<Conv2DAttrs & {inputShape: [number, number, number, number]}>(
    'Conv2DBackpropInput',
    ({inputs, backend, attrs}) => {
      const {dy, filter} = inputs;
      requireFloat('conv2dTranspose', dy, filter);
      if (attrs.dataFormat === 'NCHW') unsupported('NCHW data format');
      const info = backend_util.computeConv2DInfo(
        attrs.inputShape,
        filter.shape as [number, number, number, number],
        attrs.strides,
        1,
        attrs.pad,
        attrs.dimRoundingMode,
        false,
        'channelsLast',
      );
      return convolve(backend, geometry2d(info, 1), dy, filter, [3, 0, 1, 2], true);
    },
  );

  registerCuda<{strides: number | number[]; pad: 'valid' | 'same'; inputShape: number[]}>(
    'Conv3DBackpropInputV2',
    ({inputs, backend, attrs}) => {
      const {dy, filter} = inputs;
      requireFloat('conv3dTranspose', dy, filter);
      const info = backend_util.computeConv3DInfo(
        attrs.inputShape as [number, number, number, number, number],
        filter.shape as [number, number, number, number, number],
        attrs.strides as [number, number, number],
        1,
        attrs.pad,
      );
      const p = info.padInfo;
      const subpixel = subpixelTransposed3d(
        backend,
        dy,
        filter,
        [info.strideDepth, info.strideHeight, info.strideWidth],
        [
          [p.front, p.back],
          [p.top, p.bottom],
          [p.left, p.right],
        ],
        attrs.inputShape,
        backend.halfStorage,
      );
      return subpixel ?? convolve(backend, geometry3d(info), dy, filter, [4, 0, 1, 2, 3], true);
    },
  );
}
