/**
 * The delta ops on 'cuda': SparseAccumulate, DeltaSparsify, DeltaMaxPool, DeltaConv2D, DeltaDepthwiseConv2D,
 * DeltaConv2DTranspose (native/cuda/delta_*.cu) and Conv3DGated (cuDNN + the gate kernels). Semantics are those
 * of src/kernels/cpu. Masks stay on the GPU: an input's mask (src/ops/mask.ts) is a bool tensor of this backend, i.e. a
 * uint8 device buffer, passed to the kernels as a pointer (0 = dense); output masks are written by the kernels.
 *
 * Delta outputs are written lazily when `backend.lazyZeros` is on (the default): inactive pixels are left
 * unwritten and zeroed by the backend before anything other than a delta kernel reads them (CudaBackend.ptr).
 */
import * as tf from '@tensorflow/tfjs-core';
import {backend_util, TensorInfo} from '@tensorflow/tfjs-core';

import {
  Conv3DGated,
  Conv3DGatedAttrs,
  DeltaConv2D,
  DeltaConv2DAttrs,
  DeltaConv2DTranspose,
  DeltaConv2DTransposeAttrs,
  DeltaDepthwiseConv2D,
  DeltaMaxPool,
  DeltaMaxPoolAttrs,
  DeltaSparsify,
  DeltaSparsifyAttrs,
  FusedDeltaConv2D,
  FusedDeltaConv2DAttrs,
  FusedDeltaDepthwiseConv2D,
  FusedDeltaDepthwiseConv2DAttrs,
  SparseAccumulate,
  SparseAccumulateAttrs,
  StoreHalf,
} from '../../../ops/kernel_names';
import type {Activation} from '../../../ops/validation';
import {attachMask, maskOf} from '../../../ops/mask';
import {CudaBackend} from '../backend';
import {DeltaConvGeometry, DeltaConvKernel, DeltaConvMode, DTypeCode, Ptr, ReduceOp, UnaryOp} from '../native';
import {convolve, filterKrsc, subpixelTransposed3d, tf32PackedFilter} from './conv';
import {applyBiasActivation} from './elementwise';
import {alias, registerCuda, requireFloat, sizeOf, stridesOf, transposeInto, unsupported} from './util';
import {composedDeltaConvAccumulate} from '../../../kernels/composite/FusedDeltaConvs';
import {isPointwise} from '../../../kernels/conv_geometry';

const ACTIVATIONS: {[k in Activation]: number} = {
  linear: UnaryOp.linear,
  relu: UnaryOp.relu,
  relu6: UnaryOp.relu6,
  leakyRelu: UnaryOp.leakyrelu,
  sigmoid: UnaryOp.sigmoid,
  tanh: UnaryOp.tanh,
};

function activationCode(a: Activation): number {
  const code = ACTIVATIONS[a];
  if (code === undefined) unsupported(`activation ${a}`);
  return code;
}

export interface InputMask {
  ptr: Ptr;
  temp?: TensorInfo;
}

/** The device pointer of `x`'s mask (0 when dense); a mask held by another backend is uploaded for the call. */
export function inputMask(backend: CudaBackend, x: TensorInfo): InputMask {
  const m = maskOf(x);
  if (m == null) return {ptr: 0};
  if (backend.data.has(m.dataId)) return {ptr: backend.ptr(m)};
  const temp = backend.makeTensorInfo(m.shape, 'bool', m.dataSync() as Uint8Array);
  return {ptr: backend.ptr(temp), temp};
}

/**
 * The data pointer of a delta input: as is when it carries a mask (delta kernels read only its active pixels), else
 * through ptr(), which zeroes a lazily written tensor whose mask no longer fits its shape.
 */
export function deltaData(backend: CudaBackend, x: TensorInfo, m: InputMask): Ptr {
  return m.ptr !== 0 ? backend.rawPtr(x) : backend.ptr(x);
}

export function releaseMask(backend: CudaBackend, m: InputMask): void {
  if (m.temp) backend.disposeIntermediate(m.temp);
}

/** Attaches the device mask `mask` to `out`; with `lazy`, `out` was written only at its active pixels. */
export function attachDeviceMask(backend: CudaBackend, out: TensorInfo, mask: TensorInfo, lazy: boolean): void {
  attachMask(backend, out, tf.engine().makeTensorFromTensorInfo(mask, backend));
  if (lazy) backend.markLazy(out, mask);
}

/** Runs `launch` on fresh outputs; disposes them all if it throws. */
function withOutputs<T extends TensorInfo[]>(backend: CudaBackend, outs: T, launch: (...outs: T) => void): T {
  try {
    launch(...outs);
  } catch (e) {
    outs.forEach((o) => backend.disposeIntermediate(o));
    throw e;
  }
  return outs;
}

/**
 * A pixel list and output mask a conv wrote for the sparseAccumulate that follows it (DeltaConvArgs.accumulateList):
 * the accumulator then skips its list pass, and `outMask` becomes its output mask.
 */
interface ReadyList {
  scratch: TensorInfo;
  outMask: TensorInfo;
}

// ---- sparseAccumulate ----
function sparseAccumulate(
  backend: CudaBackend,
  inputs: {[k: string]: TensorInfo},
  attrs: SparseAccumulateAttrs,
  ready?: ReadyList,
) {
  const {accumulated: a, residual: r, delta: d} = inputs;
  requireFloat('sparseAccumulate', a, r, d);
  const shape = d.shape.slice();
  const channels = shape[shape.length - 1];
  const pixels = channels === 0 ? 0 : sizeOf(shape) / channels;
  const lazy = backend.lazyFor(shape);
  // Half state reads and writes half storage: a float32-stored state input is read through a half copy (a stream's
  // first frame, or a caller's tensor). Float32 state reads a half-stored input through a float32 copy. Neither copy
  // is cached with the input.
  const half = attrs.statePrecision === 'fp16';
  const storedAsState = (t: TensorInfo) => backend.isHalf(t) === half;
  // In place: the state outputs are the state inputs (aliased, as Identity does); only active pixels are touched.
  const inPlace =
    attrs.inPlace === true &&
    a.dataId !== r.dataId &&
    a.dataId !== d.dataId &&
    r.dataId !== d.dataId &&
    storedAsState(a) &&
    storedAsState(r);
  const temps: TensorInfo[] = [];
  const m = inputMask(backend, d);
  const list = ready
    ? backend.ptr(ready.scratch)
    : pixelListScratch(backend, 1 + pixels, lazy && inPlace && m.ptr !== 0, temps);
  try {
    const stateIn = (t: TensorInfo) => (half ? backend.halfPtr(t, temps) : backend.floatPtr(t, temps));
    const outD = backend.makeOutput(shape, 'float32');
    const outMask = ready ? ready.outMask : backend.makeOutput(shape.slice(0, -1), 'bool');
    if (inPlace) [a, r].forEach((t) => backend.writtenInPlace(t));
    const state = inPlace
      ? [alias(backend, a), alias(backend, r)]
      : [backend.makeOutput(shape, 'float32', half), backend.makeOutput(shape, 'float32', half)];
    withOutputs<TensorInfo[]>(backend, [outD, outMask, ...state], () => {
      const listed = backend.n.sparseAccumulate({
        a: stateIn(a),
        r: stateIn(r),
        d: deltaData(backend, d, m),
        mask: m.ptr,
        outD: backend.ptr(outD),
        outA: backend.storedPtr(state[0]),
        outR: backend.storedPtr(state[1]),
        outMask: backend.ptr(outMask),
        pixels,
        channels,
        ...accumulatorArgs(attrs, lazy),
        halfState: half,
        scratch: list,
        listReady: ready != null,
      });
      if (listed) deltaConvStats.pixelLists++;
      if (listed && ready) deltaConvStats.producedLists++;
    });
    attachDeviceMask(backend, outD, outMask, lazy);
    return [outD, ...state];
  } finally {
    releaseMask(backend, m);
    temps.forEach((t) => backend.disposeIntermediate(t));
  }
}

// ---- deltaSparsify ----
// Where the dilated test runs as one tile kernel (native/cuda/delta_accumulate.cu: kTileChannels, kMaxTileRadius).
const SPARSIFY_TILE_CHANNELS = 4;
const SPARSIFY_TILE_MAX_DILATION = 161;
function deltaSparsify(backend: CudaBackend, inputs: {[k: string]: TensorInfo}, attrs: DeltaSparsifyAttrs) {
  const {frame: x, sent: a} = inputs;
  requireFloat('deltaSparsify', x, a);
  const shape = x.shape.slice();
  const channels = shape[shape.length - 1];
  // [n, h, w] of an NHWC frame; any other rank is a row of pixels (only without dilation: the op checks).
  const [n, h, w] = shape.length === 4 ? shape.slice(0, 3) : [1, 1, sizeOf(shape.slice(0, -1))];
  const lazy = backend.lazyFor(shape);
  const inPlace = attrs.inPlace === true && x.dataId !== a.dataId && !backend.isHalf(a);
  // The row flags of the three-pass dilated test; frames of a few channels take the one-pass tile kernel instead.
  const tiled = channels <= SPARSIFY_TILE_CHANNELS && attrs.dilation <= SPARSIFY_TILE_MAX_DILATION;
  const rows = attrs.dilation > 1 && !tiled ? backend.makeOutput(shape.slice(0, -1), 'bool') : null;
  try {
    const outD = backend.makeOutput(shape, 'float32');
    const outMask = backend.makeOutput(shape.slice(0, -1), 'bool');
    const outA = inPlace ? alias(backend, a) : backend.makeOutput(shape, 'float32');
    withOutputs<TensorInfo[]>(backend, [outD, outMask, outA], () =>
      backend.n.deltaSparsify({
        x: backend.ptr(x),
        a: backend.ptr(a),
        outD: backend.ptr(outD),
        outA: backend.ptr(outA),
        outMask: backend.ptr(outMask),
        rows: rows == null ? 0 : backend.ptr(rows),
        n,
        h,
        w,
        channels,
        threshold: attrs.threshold,
        dilation: attrs.dilation,
        writeZeros: !lazy,
      }),
    );
    attachDeviceMask(backend, outD, outMask, lazy);
    return [outD, outA];
  } finally {
    if (rows != null) backend.disposeIntermediate(rows);
  }
}

// ---- deltaMaxPool ----
function deltaMaxPool(backend: CudaBackend, inputs: {[k: string]: TensorInfo}, attrs: DeltaMaxPoolAttrs) {
  const {accumulated: a, delta: d} = inputs;
  requireFloat('deltaMaxPool', a, d);
  const i = backend_util.computePool2DInfo(
    d.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const window = {
    n: i.batchSize,
    h: i.inHeight,
    w: i.inWidth,
    c: i.inChannels,
    oh: i.outHeight,
    ow: i.outWidth,
    kh: i.filterHeight,
    kw: i.filterWidth,
    sh: i.strideHeight,
    sw: i.strideWidth,
    pt: i.padInfo.top,
    pl: i.padInfo.left,
  };
  const outShape = [i.batchSize, i.outHeight, i.outWidth, i.inChannels];
  const lazy = backend.lazyFor(outShape);
  const m = inputMask(backend, d);
  try {
    const [outD, outA, outMask] = withOutputs(
      backend,
      [
        backend.makeOutput(outShape, 'float32'),
        backend.makeOutput(d.shape.slice(), 'float32'),
        backend.makeOutput(outShape.slice(0, 3), 'bool'),
      ],
      (outD, outA, outMask) =>
        backend.n.deltaMaxPool({
          ...window,
          a: backend.ptr(a),
          d: deltaData(backend, d, m),
          mask: m.ptr,
          outD: backend.ptr(outD),
          outA: backend.ptr(outA),
          outMask: backend.ptr(outMask),
          writeZeros: !lazy,
        }),
    );
    attachDeviceMask(backend, outD, outMask, lazy);
    return [outD, outA];
  } finally {
    releaseMask(backend, m);
  }
}

// ---- delta convolutions ----
interface ConvCall {
  mode: number;
  info: backend_util.Conv2DInfo;
  x: TensorInfo;
  w: Ptr; // filter as [kh, kw, c, co] (transposed conv: already transposed), or [kh, kw, c, mult]
  filter?: TensorInfo; // regular convs: the filter tensor (its packed TF32 copy is derived from it)
  bias?: TensorInfo;
  mult: number;
  inSpatial: [number, number]; // the delta input's H, W (the info's output for a transposed conv)
  outShape: number[];
}

function convGeometry(c: ConvCall): DeltaConvGeometry {
  const i = c.info;
  const transposed = c.mode === DeltaConvMode.transposed;
  return {
    mode: c.mode,
    n: c.x.shape[0],
    h: c.inSpatial[0],
    w: c.inSpatial[1],
    c: c.x.shape[3],
    oh: c.outShape[1],
    ow: c.outShape[2],
    co: c.outShape[3],
    kh: i.filterHeight,
    kw: i.filterWidth,
    sh: i.strideHeight,
    sw: i.strideWidth,
    dh: transposed ? 1 : i.dilationHeight,
    dw: transposed ? 1 : i.dilationWidth,
    pt: i.padInfo.top,
    pl: i.padInfo.left,
    mult: c.mult,
  };
}

/**
 * Counts of delta-conv launches by path (TF32 tensor cores / fp32 CUDA cores / dense cuDNN; of the tensor-core ones,
 * the mma kernel's and the pointwise blocks over work lists; the small regular convs on pixel groups), and of
 * sparseAccumulate and fused-block launches over pixel lists, for tests and benchmarks.
 */
export const deltaConvStats = {
  tensorCore: 0,
  mma: 0,
  cudaCores: 0,
  cudnnDense: 0,
  pointwiseBlocks: 0,
  /** Regular delta convs of a small reduction run as fused blocks on pixel groups (delta_fused.cu). */
  smallConvBlocks: 0,
  /** 1x1 delta convs run as the tiled kernel with the accumulator as its epilogue (delta_conv_tc.cu). */
  mmaAccumulateBlocks: 0,
  pixelLists: 0,
  /** Tiled delta convs that ran over a list of their active tiles. */
  tileLists: 0,
  /** sparseAccumulate launches over a list their conv wrote (no list pass of their own). */
  producedLists: 0,
};

/**
 * The filter of a regular TF32 delta conv in the layout of the mma kernel (delta_conv_tc.cu: B fragments in lane
 * order, rounded to TF32), derived once per filter tensor; 0 when that kernel cannot take the conv (it needs
 * c % 4 == 0 and co % 32 == 0) or TF32 is off.
 */
function packedFilter(backend: CudaBackend, c: ConvCall): Ptr {
  const f = c.filter;
  if (f == null || c.mode !== DeltaConvMode.regular || c.bias != null) return 0;
  return tf32PackedFilter(backend, f);
}

/** Blocks the tiled kernel (delta_conv_tc.cu) launches for `c`: 8x16-pixel tiles times 64 (1x1) or 32 channels. */
function tiledBlocks(c: ConvCall): number {
  const [n, oh, ow, co] = c.outShape;
  const perBlock = c.info.filterHeight * c.info.filterWidth === 1 ? 64 : 32;
  return n * Math.ceil(oh / 8) * Math.ceil(ow / 16) * Math.ceil(co / perBlock);
}

/** Whether a masked regular delta conv goes to cuDNN: too few tiles to fill the GPU (backend.denseBelowBlocks). */
function smallGridOnCudnn(backend: CudaBackend, c: ConvCall): boolean {
  return tiledBlocks(c) < backend.denseBelowBlocks && cudnnGeometry(c.info);
}

/**
 * Runs a delta convolution: masked output (lazy when allowed) without bias, dense output with one. `acc` (without
 * bias): the conv writes the list and output mask of the sparseAccumulate that follows too.
 */
function runDeltaConv(backend: CudaBackend, c: ConvCall, acc?: ReadyList): TensorInfo {
  const geometry = convGeometry(c);
  const packed = packedFilter(backend, c);
  const m = inputMask(backend, c.x);
  const withMask = c.bias == null;
  const lazy = withMask && backend.lazyFor(c.outShape);
  try {
    const outs = [backend.makeOutput(c.outShape, 'float32')];
    if (withMask) outs.push(backend.makeOutput(c.outShape.slice(0, 3), 'bool'));
    withOutputs(backend, outs, (y: TensorInfo, outMask?: TensorInfo) => {
      const ran = backend.n.deltaConv({
        geometry,
        x: deltaData(backend, c.x, m),
        mask: m.ptr,
        filter: c.w,
        bias: c.bias ? backend.ptr(c.bias) : 0,
        packedFilter: packed,
        y: backend.ptr(y),
        outMask: outMask ? backend.ptr(outMask) : 0,
        writeZeros: !lazy,
        mmaPartial: backend.mmaPartialChannels,
        accumulateList: acc ? backend.ptr(acc.scratch) : 0,
        accumulateMask: acc ? backend.ptr(acc.outMask) : 0,
        tileListWaves: backend.tileListWaves,
      });
      const kernel = ran & ~DeltaConvKernel.tileList;
      if (kernel === DeltaConvKernel.cudaCores) deltaConvStats.cudaCores++;
      else deltaConvStats.tensorCore++;
      if (kernel === DeltaConvKernel.mma) deltaConvStats.mma++;
      if (ran & DeltaConvKernel.tileList) deltaConvStats.tileLists++;
    });
    if (withMask) attachDeviceMask(backend, outs[0], outs[1], lazy);
    return outs[0];
  } finally {
    releaseMask(backend, m);
  }
}

/** Whether cuDNN (which rounds output sizes down) computes exactly this geometry. */
function cudnnGeometry(i: backend_util.Conv2DInfo): boolean {
  const eff = (k: number, d: number) => (k - 1) * d + 1;
  const p = i.padInfo;
  return (
    Math.floor((i.inHeight + p.top + p.bottom - eff(i.filterHeight, i.dilationHeight)) / i.strideHeight) + 1 ===
      i.outHeight &&
    Math.floor((i.inWidth + p.left + p.right - eff(i.filterWidth, i.dilationWidth)) / i.strideWidth) + 1 === i.outWidth
  );
}

/**
 * Dense input (no mask) or a bias (the first frame of a stream): every output pixel is computed, so the dense
 * cuDNN convolution serves (TF32 when allowed, like the dense ops); the output mask, if any, from the mask kernel.
 */
/** The dense 'cuda' kernel `name` (a cuDNN convolution) on NHWC inputs with a delta conv's geometry. */
function denseConvKernel(
  backend: CudaBackend,
  name: string,
  inputs: {[k: string]: TensorInfo},
  attrs: DeltaConv2DAttrs,
  extra: {[k: string]: unknown} = {},
): TensorInfo {
  const {strides, pad, dilations, dimRoundingMode} = attrs;
  return tf.getKernel(name, 'cuda')!.kernelFunc({
    inputs,
    backend,
    attrs: {strides, pad, dilations, dimRoundingMode, dataFormat: 'NHWC', ...extra} as unknown as tf.NamedAttrMap,
  }) as TensorInfo;
}

function denseDeltaConv2d(
  backend: CudaBackend,
  inputs: {[k: string]: TensorInfo},
  attrs: DeltaConv2DAttrs,
  c: ConvCall,
): TensorInfo {
  const convInputs: {[k: string]: TensorInfo} = {x: c.x, filter: inputs.filter};
  if (c.bias) convInputs.bias = c.bias;
  // Delta tensors stay float32 under half storage: they become state, which a replayed plan updates in place.
  const y = backend.withFloatStorage(() =>
    denseConvKernel(backend, c.bias ? 'FusedConv2D' : 'Conv2D', convInputs, attrs, {activation: 'linear'}),
  );
  deltaConvStats.cudnnDense++;
  if (c.bias) return y;
  const outMask = backend.makeOutput(c.outShape.slice(0, 3), 'bool');
  try {
    backend.n.deltaConvMask({geometry: convGeometry(c), mask: 0, outMask: backend.ptr(outMask)});
  } catch (e) {
    backend.disposeIntermediate(outMask);
    backend.disposeIntermediate(y);
    throw e;
  }
  attachDeviceMask(backend, y, outMask, false);
  return y;
}

/** A regular delta conv's call: its geometry from `attrs`, filter [kh, kw, c, co]. */
function regularCall(
  backend: CudaBackend,
  x: TensorInfo,
  filter: TensorInfo,
  attrs: DeltaConv2DAttrs,
  bias?: TensorInfo,
): ConvCall {
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return {
    mode: DeltaConvMode.regular,
    info,
    x,
    w: backend.ptr(filter),
    filter,
    bias,
    mult: 1,
    inSpatial: [info.inHeight, info.inWidth],
    outShape: info.outShape.slice(),
  };
}

function deltaConv2d(backend: CudaBackend, inputs: {[k: string]: TensorInfo}, attrs: DeltaConv2DAttrs): TensorInfo {
  const {x, filter, bias} = inputs;
  requireFloat('deltaConv2d', x, filter, bias);
  const c = regularCall(backend, x, filter, attrs, bias);
  const {info} = c;
  if ((bias != null || maskOf(x) == null) && cudnnGeometry(info) && sizeOf(x.shape) > 0)
    return denseDeltaConv2d(backend, inputs, attrs, c);
  if (smallGridOnCudnn(backend, c) && sizeOf(x.shape) > 0) {
    return cudnnDeltaConv(backend, c, () => denseConvKernel(backend, 'Conv2D', {x, filter}, attrs));
  }
  return runDeltaConv(backend, c);
}

/**
 * Depthwise and transposed delta convolutions run as cuDNN's dense convolution of the (zero-filled) delta, plus
 * the output mask from the mask kernel. The tile-skipping direct kernel (`delta_conv.cu`, one output per thread)
 * was far slower than cuDNN on real models (H100, benchmarks/results/delta_vtest_*): the pose heads' transposed
 * convs (2048 -> 256 channels, 4x4 stride 2) took 51-66 ms of a 63-75 ms delta ResNet-50 pose frame, and
 * MobileNetV2's 17 depthwise convs 5-6 ms of a 6-8 ms frame, against well under a millisecond in cuDNN; the layers
 * that feed them are mostly dense by then anyway. backend.directDeltaConvs (TFJS_DELTA_CUDA_DIRECT_CONVS=1) keeps
 * the direct kernel.
 */
function cudnnDeltaConv(backend: CudaBackend, c: ConvCall, denseConv: () => TensorInfo): TensorInfo {
  const m = inputMask(backend, c.x); // before the conv reads x (which zero-fills a lazily written delta)
  try {
    const y = backend.withFloatStorage(denseConv); // delta tensors stay float32 (their masks, lazy zeros, state)
    deltaConvStats.cudnnDense++;
    return backend.filling(y, () => {
      if (c.bias) {
        // the stream's first frame: bias applied once, dense output (as runDeltaConv)
        applyBiasActivation(backend, y, c.bias);
        return;
      }
      const same = m.ptr !== 0 && m.temp == null && isPointwise(c.info) ? maskOf(c.x)! : null;
      let outMask: TensorInfo;
      if (same != null) {
        backend.incRef(same.dataId); // a pointwise conv's output mask is its input's: the buffer is shared
        outMask = {dataId: same.dataId, shape: same.shape, dtype: 'bool'};
      } else {
        outMask = backend.makeOutput(c.outShape.slice(0, 3), 'bool');
        backend.filling(outMask, () =>
          backend.n.deltaConvMask({geometry: convGeometry(c), mask: m.ptr, outMask: backend.ptr(outMask)}),
        );
      }
      // cuDNN's FFT and Winograd engines leave rounding noise (~1e-7) where a delta output must be exactly zero:
      // inactive pixels are zeroed, lazily (before a dense read) or now.
      if (!backend.lazyZeros) {
        const channels = c.outShape[3];
        backend.n.zeroInactive({
          x: backend.ptr(y),
          mask: backend.ptr(outMask),
          pixels: sizeOf(c.outShape) / channels,
          channels,
        });
      }
      attachDeviceMask(backend, y, outMask, backend.lazyZeros);
    });
  } finally {
    releaseMask(backend, m);
  }
}

/** A depthwise delta conv's call: its geometry from `attrs`, filter [kh, kw, c, multiplier]. */
function depthwiseCall(
  backend: CudaBackend,
  x: TensorInfo,
  filter: TensorInfo,
  attrs: DeltaConv2DAttrs,
  bias?: TensorInfo,
): ConvCall {
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  return {
    mode: DeltaConvMode.depthwise,
    info,
    x,
    w: backend.ptr(filter),
    bias,
    mult: filter.shape[3],
    inSpatial: [info.inHeight, info.inWidth],
    outShape: info.outShape.slice(),
  };
}

function deltaDepthwiseConv2d(backend: CudaBackend, inputs: {[k: string]: TensorInfo}, attrs: DeltaConv2DAttrs) {
  const {x, filter, bias} = inputs;
  requireFloat('deltaDepthwiseConv2d', x, filter, bias);
  const c = depthwiseCall(backend, x, filter, attrs, bias);
  if (backend.directDeltaConvs || sizeOf(x.shape) === 0) return runDeltaConv(backend, c);
  return cudnnDeltaConv(backend, c, () => denseConvKernel(backend, 'DepthwiseConv2dNative', {x, filter}, attrs));
}

/**
 * The depthwise delta conv with sparseAccumulate as its epilogue (native/cuda/delta_fused.cu): one launch where the
 * two kernels take four (zeroing the lazily written input, cuDNN's conv, the output mask, the accumulator). Shapes
 * the fused kernel does not take (channel multiplier > 1, windows over 32 taps, over 3072 channels or 2^31 - 1
 * output pixels, half state not yet in half storage, TFJS_DELTA_CUDA_FUSED=0) run the two kernels.
 */
function fusedDeltaDepthwiseConv2d(
  backend: CudaBackend,
  inputs: {[k: string]: TensorInfo},
  attrs: FusedDeltaDepthwiseConv2DAttrs,
): TensorInfo[] {
  const {x, filter, accumulated: a, residual: r} = inputs;
  requireFloat('fusedDeltaDepthwiseConv2d', x, filter, a, r);
  const c = depthwiseCall(backend, x, filter, attrs);
  const fits =
    backend.fusedDeltaBlocks &&
    convAccumulateFits(backend, convGeometry(c)) &&
    fusedStateFits(backend, inputs, attrs, true);
  if (!fits) return composedDeltaConvAccumulate(FusedDeltaDepthwiseConv2D, inputs, attrs);
  return runPixelGroupBlock(backend, c, inputs, attrs);
}

/** Whether the pixel-group block (native deltaConvAccumulate) takes a conv of this geometry. */
function convAccumulateFits(backend: CudaBackend, geometry: DeltaConvGeometry): boolean {
  return backend.n.deltaConvAccumulateFits({geometry});
}

/** A fused block on pixel groups (delta_fused.cu: depthwise, or regular of a small reduction): its outputs. */
function runPixelGroupBlock(
  backend: CudaBackend,
  c: ConvCall,
  inputs: {[k: string]: TensorInfo},
  attrs: SparseAccumulateAttrs,
): TensorInfo[] {
  const {info} = c;
  return runFusedBlock(backend, c, inputs, attrs, (m, outs, lazy) => {
    const temps: TensorInfo[] = [];
    const outPixels = info.batchSize * info.outHeight * info.outWidth;
    try {
      const listed = backend.n.deltaConvAccumulate({
        geometry: convGeometry(c),
        x: deltaData(backend, c.x, m),
        mask: m.ptr,
        w: c.w,
        ...outs,
        ...accumulatorArgs(attrs, lazy),
        halfState: attrs.statePrecision === 'fp16',
        // Over a list where the delta is lazy. A regular conv's group spends up to 512 lanes on one pixel, so it takes
        // the list also where the delta is written whole (native zeroes it first): unlisted, each inactive pixel costs
        // a group's turn behind the block's barriers. A depthwise group is 4 channels a lane and cheap unlisted.
        scratch: pixelListScratch(
          backend,
          1 + 2 * outPixels,
          m.ptr !== 0 && (lazy || c.mode === DeltaConvMode.regular),
          temps,
        ),
      });
      if (listed) deltaConvStats.pixelLists++;
      if (c.mode === DeltaConvMode.regular && outPixels > 0) deltaConvStats.smallConvBlocks++;
    } finally {
      temps.forEach((t) => backend.disposeIntermediate(t));
    }
  });
}

/**
 * Scratch of `ints` int32s for a pixel list (native/cuda/pixel_list.cuh: a count, the listed pixels, a payload each)
 * where the list `applies` and backend.pixelLists is on, pushed onto `temps` (the caller disposes them after the
 * launch); 0 otherwise. A list needs 32-bit pixel indices.
 */
function pixelListScratch(backend: CudaBackend, ints: number, applies: boolean, temps: TensorInfo[]): Ptr {
  if (!backend.pixelLists || !applies || ints >= 2 ** 31) return 0;
  const scratch = backend.makeOutput([ints], 'int32');
  temps.push(scratch);
  return backend.ptr(scratch);
}

/** The accumulator's arguments of a launch: sparseAccumulate's, or a fused block's epilogue (`lazy`: its delta output). */
function accumulatorArgs(attrs: SparseAccumulateAttrs, lazy: boolean) {
  return {
    threshold: attrs.threshold,
    act: activationCode(attrs.activation),
    alpha: attrs.alpha ?? 0.2,
    writeZeros: !lazy,
  };
}

/**
 * Whether a fused block can update this state in place: two distinct tensors stored as the state's precision says
 * (float32, or half for half state where the block takes the half-state rule: `halfOk`). A first accumulate of half
 * state from float32 tensors runs the two kernels, which round it.
 */
function fusedStateFits(
  backend: CudaBackend,
  inputs: {[k: string]: TensorInfo},
  attrs: SparseAccumulateAttrs,
  halfOk: boolean,
): boolean {
  const {accumulated: a, residual: r} = inputs;
  const half = attrs.statePrecision === 'fp16';
  if (half && !halfOk) return false;
  return backend.isHalf(a) === half && backend.isHalf(r) === half && a.dataId !== r.dataId;
}

/**
 * The outputs of a fused block ([delta, accumulated, residual]) around `launch`: the delta and its mask fresh, the
 * state aliased in place (as sparseAccumulate's inPlace) or copied and updated.
 */
function runFusedBlock(
  backend: CudaBackend,
  c: ConvCall,
  inputs: {[k: string]: TensorInfo},
  attrs: SparseAccumulateAttrs,
  launch: (m: InputMask, outs: {a: Ptr; r: Ptr; outD: Ptr; outMask: Ptr}, lazy: boolean) => void,
): TensorInfo[] {
  const {x, accumulated: a, residual: r} = inputs;
  const shape = c.outShape.slice();
  const lazy = backend.lazyFor(shape);
  const inPlace = attrs.inPlace === true && a.dataId !== x.dataId && r.dataId !== x.dataId;
  // A copy keeps the state's storage (half state stays half).
  const stateOf = (t: TensorInfo): TensorInfo => (inPlace ? alias(backend, t) : backend.copyOf(t));
  const m = inputMask(backend, x);
  try {
    const outD = backend.makeOutput(shape, 'float32');
    const outMask = backend.makeOutput(shape.slice(0, 3), 'bool');
    if (inPlace) [a, r].forEach((t) => backend.writtenInPlace(t));
    const state = [stateOf(a), stateOf(r)];
    withOutputs<TensorInfo[]>(backend, [outD, outMask, ...state], () =>
      launch(
        m,
        {
          a: backend.storedPtr(state[0]),
          r: backend.storedPtr(state[1]),
          outD: backend.ptr(outD),
          outMask: backend.ptr(outMask),
        },
        lazy,
      ),
    );
    attachDeviceMask(backend, outD, outMask, lazy);
    return [outD, ...state];
  } finally {
    releaseMask(backend, m);
  }
}

/**
 * The regular delta conv with sparseAccumulate as its epilogue. A small reduction (3x3 over 3 input channels, 1x1
 * over 16, 24 or 32; at most 512 output channels) on at most backend.smallConvBlockMaxPixels output pixels runs as one
 * block on pixel groups (delta_fused.cu; TFJS_DELTA_CUDA_SMALL_CONV_BLOCKS=0: never). Otherwise, with
 * backend.mmaAccumulateBlocks (TFJS_DELTA_CUDA_MMA_ACCUMULATE=1), a 1x1 conv the native kernel takes
 * (deltaConvMmaAccumulateFits) runs as the tiled conv with the accumulator as its epilogue. Otherwise, with
 * backend.pointwiseBlocks (TFJS_DELTA_CUDA_POINTWISE=1), a pointwise conv (1x1, stride 1, c % 4 == 0, co % 32 == 0,
 * TF32, float32 state) runs native/cuda/delta_pointwise.cu: a work list of the active pixels, then one kernel over it
 * whose epilogue is the accumulator. Everything else (other shapes by default, TFJS_DELTA_CUDA_FUSED=0) runs the two
 * kernels.
 */
function fusedDeltaConv2d(
  backend: CudaBackend,
  inputs: {[k: string]: TensorInfo},
  attrs: FusedDeltaConv2DAttrs,
): TensorInfo[] {
  const {x, filter, accumulated: a, residual: r} = inputs;
  requireFloat('fusedDeltaConv2d', x, filter, a, r);
  const c = regularCall(backend, x, filter, attrs);
  const geometry = convGeometry(c);
  if (
    backend.fusedDeltaBlocks &&
    backend.smallConvBlocks &&
    sizeOf(c.outShape.slice(0, 3)) <= backend.smallConvBlockMaxPixels &&
    convAccumulateFits(backend, geometry) &&
    fusedStateFits(backend, inputs, attrs, true)
  )
    return runPixelGroupBlock(backend, c, inputs, attrs);
  if (backend.fusedDeltaBlocks && backend.mmaAccumulateBlocks && fusedStateFits(backend, inputs, attrs, true)) {
    const packed = packedFilter(backend, c);
    const fits = backend.n.deltaConvMmaAccumulateFits({
      geometry,
      packed: packed !== 0,
      mmaPartial: backend.mmaPartialChannels,
      act: activationCode(attrs.activation),
    });
    if (fits) return runMmaAccumulateBlock(backend, c, inputs, attrs, packed);
  }
  const fused = backend.fusedDeltaBlocks && backend.pointwiseBlocks && fusedStateFits(backend, inputs, attrs, false);
  const packed = fused ? packedFilter(backend, c) : 0;
  const scratchInts = packed === 0 ? -1 : backend.n.deltaPointwiseScratchInts({geometry});
  if (scratchInts < 0)
    return (
      listedDeltaConvAccumulate(backend, inputs, attrs, c) ??
      composedDeltaConvAccumulate(FusedDeltaConv2D, inputs, attrs)
    );
  const scratch = backend.makeOutput([scratchInts], 'int32');
  try {
    return runFusedBlock(backend, c, inputs, attrs, (m, outs, lazy) => {
      backend.n.deltaPointwiseAccumulate({
        geometry,
        x: deltaData(backend, x, m),
        mask: m.ptr,
        packedFilter: packed,
        ...outs,
        scratch: backend.ptr(scratch),
        ...accumulatorArgs(attrs, lazy),
      });
      deltaConvStats.tensorCore++;
      deltaConvStats.pointwiseBlocks++;
    });
  } finally {
    backend.disposeIntermediate(scratch);
  }
}

/** A 1x1 delta conv as the tiled kernel with the accumulator as its epilogue (deltaConvMmaAccumulate): its outputs. */
function runMmaAccumulateBlock(
  backend: CudaBackend,
  c: ConvCall,
  inputs: {[k: string]: TensorInfo},
  attrs: SparseAccumulateAttrs,
  packed: Ptr,
): TensorInfo[] {
  return runFusedBlock(backend, c, inputs, attrs, (m, outs, lazy) => {
    const ran = backend.n.deltaConvMmaAccumulate({
      geometry: convGeometry(c),
      x: deltaData(backend, c.x, m),
      mask: m.ptr,
      filter: c.w,
      packedFilter: packed,
      ...outs,
      ...accumulatorArgs(attrs, lazy),
      halfState: attrs.statePrecision === 'fp16',
      mmaPartial: backend.mmaPartialChannels,
      tileListWaves: backend.tileListWaves,
    });
    deltaConvStats.tensorCore++;
    deltaConvStats.mma++;
    deltaConvStats.mmaAccumulateBlocks++;
    if (ran & DeltaConvKernel.tileList) deltaConvStats.tileLists++;
  });
}

/**
 * FusedDeltaConv2D as its two kernels, one list pass fewer: the tiled conv appends its active output pixels to the
 * pixel list the accumulator runs over (native/cuda/pixel_list.cuh) and writes the accumulator's output mask zero at
 * the others, so sparseAccumulate starts on its pixel groups. null where the list would not run (the lists off, a
 * dense input, state not in place or not yet in its precision's storage, outputs written whole, 2^31 output pixels)
 * or the conv would not be the tiled kernel (a cuDNN route, deltaConv2d): the caller composes the two kernels then.
 */
function listedDeltaConvAccumulate(
  backend: CudaBackend,
  inputs: {[k: string]: TensorInfo},
  attrs: FusedDeltaConv2DAttrs,
  c: ConvCall,
): TensorInfo[] | null {
  const {x, accumulated: a, residual: r} = inputs;
  const pixels = sizeOf(c.outShape.slice(0, 3));
  const half = attrs.statePrecision === 'fp16';
  const applies =
    backend.pixelLists &&
    backend.fusedDeltaBlocks &&
    attrs.inPlace === true &&
    maskOf(x) != null &&
    sizeOf(x.shape) > 0 &&
    pixels > 0 &&
    1 + pixels < 2 ** 31 &&
    new Set([x.dataId, a.dataId, r.dataId]).size === 3 &&
    backend.isHalf(a) === half &&
    backend.isHalf(r) === half &&
    backend.lazyFor(c.outShape) &&
    !smallGridOnCudnn(backend, c);
  if (!applies) return null;
  const {threshold, activation, alpha, inPlace, statePrecision} = attrs;
  const scratch = backend.makeOutput([1 + pixels], 'int32');
  const outMask = backend.makeOutput(c.outShape.slice(0, 3), 'bool');
  const ready = {scratch, outMask};
  let y: TensorInfo | null = null;
  try {
    y = runDeltaConv(backend, c, ready);
    return sparseAccumulate(
      backend,
      {accumulated: a, residual: r, delta: y},
      {threshold, activation, alpha, inPlace, statePrecision},
      ready,
    );
  } catch (e) {
    // sparseAccumulate disposes the mask with its other outputs if its launch throws; before that it is ours.
    if (backend.refCount(outMask.dataId) > 0) backend.disposeIntermediate(outMask);
    throw e;
  } finally {
    if (y != null) backend.disposeIntermediate(y);
    backend.disposeIntermediate(scratch);
  }
}

function deltaConv2dTranspose(
  backend: CudaBackend,
  inputs: {[k: string]: TensorInfo},
  attrs: DeltaConv2DTransposeAttrs,
) {
  const {x, filter, bias} = inputs;
  requireFloat('deltaConv2dTranspose', x, filter, bias);
  // The geometry of the forward convolution that maps outputShape onto x (as the CPU kernel).
  const info = backend_util.computeConv2DInfo(
    attrs.outputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const c: ConvCall = {
    mode: DeltaConvMode.transposed,
    info,
    x,
    w: 0,
    bias,
    mult: 1,
    inSpatial: [x.shape[1], x.shape[2]],
    outShape: attrs.outputShape.slice(),
  };
  if (!backend.directDeltaConvs && sizeOf(x.shape) > 0) {
    return cudnnDeltaConv(
      backend,
      c,
      () =>
        tf.getKernel('Conv2DBackpropInput', 'cuda')!.kernelFunc({
          inputs: {dy: x, filter},
          backend,
          attrs: {
            strides: attrs.strides,
            pad: attrs.pad,
            dimRoundingMode: attrs.dimRoundingMode,
            dataFormat: 'NHWC',
            inputShape: attrs.outputShape,
          } as unknown as tf.NamedAttrMap,
        }) as TensorInfo,
    );
  }
  // [kh, kw, outC, inC] -> [kh, kw, inC, outC]: output channels innermost, as the regular conv's filter.
  c.w = backend.derived(filter, 'hwio:0132', sizeOf(filter.shape) * 4, (dst) =>
    transposeInto(backend, 4, backend.ptr(filter), filter.shape, [0, 1, 3, 2], dst),
  );
  return runDeltaConv(backend, c);
}

// ---- conv3dGated ----
function conv3dGated(backend: CudaBackend, inputs: {[k: string]: TensorInfo}, attrs: Conv3DGatedAttrs): TensorInfo {
  const {x, filter, bias, gateKernel, gateBias} = inputs;
  requireFloat('conv3dGated', x, filter, bias, gateKernel, gateBias);
  const {strides, pad, transpose, outputShape} = attrs;
  const [n, d, h, w, c] = x.shape;
  const outSp = outputShape.slice(1, 4);
  const co = outputShape[4];
  const k = filter.shape.slice(0, 3);
  const act = activationCode(attrs.activation);
  // With half storage the convolution and the gate run on half data; the gate's mean and sigmoid stay float32.
  const half = backend.halfStorage;
  const temps: TensorInfo[] = [];
  const temp = (shape: number[], halfTemp = half) => {
    const t = backend.makeOutput(shape, 'float32', halfTemp);
    temps.push(t);
    return t;
  };
  const at = (t: TensorInfo) => backend.storedPtr(t);
  try {
    let y: TensorInfo, subpixel: TensorInfo | null;
    if (!transpose) {
      y = convolve(
        backend,
        {
          nd: 3,
          n,
          c,
          k: co,
          groups: 1,
          xs: [d, h, w],
          ys: outSp,
          ws: k,
          before: pad.map((p) => p[0]),
          after: pad.map((p) => p[1]),
          stride: strides,
          dil: [1, 1, 1],
        },
        x,
        filter,
        [4, 0, 1, 2, 3],
        false,
      );
      temps.push(y);
    } else if ((subpixel = subpixelTransposed3d(backend, x, filter, strides, pad, outputShape, half)) != null) {
      y = subpixel; // FLAVR's upsampling as one forward convolution
      temps.push(y);
    } else {
      // The full transposed convolution (no padding), then the window [pad front, pad front + out) of it: pads may
      // exceed what the transposed convolution covers (zeros there), which convolve() does not handle.
      const code = half ? DTypeCode.float16 : DTypeCode.float32;
      const wk = filterKrsc(backend, filter, [4, 0, 1, 2, 3], half); // the Conv3D kernels' cache entry
      const full = [d, h, w].map((s, i) => (s - 1) * strides[i] + k[i]);
      const yFull = temp([n, ...full, co]);
      backend.n.conv({
        nd: 3,
        backwardData: true,
        n,
        c: co,
        k: c,
        groups: 1,
        xs: full,
        ys: [d, h, w],
        ws: k,
        pad: [0, 0, 0],
        stride: strides,
        dil: [1, 1, 1],
        x: at(yFull),
        w: wk,
        y: half ? backend.halfPtr(x, temps) : backend.ptr(x),
        half,
      });
      const front = pad.map((p) => p[0]);
      if (front.every((v) => v === 0) && full.every((s, i) => s === outSp[i])) {
        y = yFull;
      } else {
        y = temp(outputShape);
        const count = outSp.map((s, i) => Math.max(0, Math.min(s, full[i] - front[i])));
        if (count.some((v, i) => v < outSp[i]))
          backend.n.fill({y: at(y), dtype: code, n: sizeOf(outputShape), value: 0});
        if (count.every((v) => v > 0)) {
          const fs = stridesOf(yFull.shape);
          const offset = front.reduce((acc, v, i) => acc + v * fs[i + 1], 0);
          backend.n.stridedCopy({
            elemBytes: half ? 2 : 4,
            src: at(yFull),
            srcOffset: offset,
            shape: [n, ...count, co],
            srcStrides: fs,
            dst: at(y),
            dstOffset: 0,
            dstStrides: stridesOf(outputShape),
          });
        }
      }
    }
    const voxels = outSp[0] * outSp[1] * outSp[2];
    if (bias) {
      backend.n.biasAct({
        y: at(y),
        n: sizeOf(outputShape),
        bias: backend.ptr(bias),
        biasLen: co,
        act: UnaryOp.linear,
        alpha: 0,
        prelu: 0,
        preluLen: 1,
        half,
      });
    }
    const mean = temp([n, co], false);
    backend.n.reduce({op: ReduceOp.mean, x: at(y), y: backend.ptr(mean), outer: n, r: voxels, inner: co, xHalf: half});
    const gate = temp([n, co], false);
    backend.n.gateSigmoid({
      mean: backend.ptr(mean),
      wg: backend.ptr(gateKernel),
      bg: backend.ptr(gateBias),
      gate: backend.ptr(gate),
      n,
      c: co,
    });
    return backend.filling(backend.makeOutput(outputShape.slice(), 'float32', half), (out) =>
      backend.n.applyGate({
        y: at(y),
        gate: backend.ptr(gate),
        out: at(out),
        n,
        voxels,
        c: co,
        act,
        alpha: attrs.alpha ?? 0.2,
        half,
      }),
    );
  } finally {
    temps.forEach((t) => backend.disposeIntermediate(t));
  }
}

export function registerDeltaKernels(): void {
  registerCuda(StoreHalf, ({inputs, backend}) => {
    requireFloat('storeHalf', inputs.x);
    return backend.toHalf(inputs.x);
  });
  registerCuda<SparseAccumulateAttrs>(SparseAccumulate, ({inputs, backend, attrs}) =>
    sparseAccumulate(backend, inputs, attrs),
  );
  registerCuda<DeltaSparsifyAttrs>(DeltaSparsify, ({inputs, backend, attrs}) => deltaSparsify(backend, inputs, attrs));
  registerCuda<DeltaMaxPoolAttrs>(DeltaMaxPool, ({inputs, backend, attrs}) => deltaMaxPool(backend, inputs, attrs));
  registerCuda<DeltaConv2DAttrs>(DeltaConv2D, ({inputs, backend, attrs}) => deltaConv2d(backend, inputs, attrs));
  registerCuda<DeltaConv2DAttrs>(DeltaDepthwiseConv2D, ({inputs, backend, attrs}) =>
    deltaDepthwiseConv2d(backend, inputs, attrs),
  );
  registerCuda<FusedDeltaConv2DAttrs>(FusedDeltaConv2D, ({inputs, backend, attrs}) =>
    fusedDeltaConv2d(backend, inputs, attrs),
  );
  registerCuda<FusedDeltaDepthwiseConv2DAttrs>(FusedDeltaDepthwiseConv2D, ({inputs, backend, attrs}) =>
    fusedDeltaDepthwiseConv2d(backend, inputs, attrs),
  );
  registerCuda<DeltaConv2DTransposeAttrs>(DeltaConv2DTranspose, ({inputs, backend, attrs}) =>
    deltaConv2dTranspose(backend, inputs, attrs),
  );
  registerCuda<Conv3DGatedAttrs>(Conv3DGated, ({inputs, backend, attrs}) => conv3dGated(backend, inputs, attrs));
}
