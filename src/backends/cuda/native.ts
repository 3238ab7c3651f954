/**
 * Loads the native addon of the 'cuda' backend (build/Release/tfjs_delta_cuda.node, built by
 * scripts/build-native.js) and probes for a GPU. Never throws: on a machine without the addon, its libraries
 * or a GPU it reports `available: false` with the reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import {PACKAGE_ROOT} from '../../io/package_root';
import {envIndex, envString} from '../../io/env';

/** Device pointers travel as JS numbers. */
export type Ptr = number;

export interface DeviceInfo {
  /** The CUDA device index this process runs on (TFJS_DELTA_CUDA_DEVICE, useCudaIfAvailable({device})). */
  device: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  multiProcessors: number;
  driverVersion: number;
  runtimeVersion: number;
  cudnnVersion: number;
  cublasVersion: number;
}

export interface NativeMemory {
  inUse: number;
  cached: number;
  reserved: number;
  /** The most `inUse` has been since resetPeakMemory (or the start). */
  peakInUse: number;
  blocks: number;
  workspace: number;
  convPlans: number;
  deviceFree: number;
  deviceTotal: number;
}

/** Arguments of the kernels whose float activations may be in half storage (DTypeCode.float16); default false. */
interface MaybeHalf {
  half?: boolean;
}

// One named-arguments type per native entry, with the field names the native binding reads
// (native/cuda/bindings/<family>.cc). Pointers are device pointers, 0 a null pointer (for masks: dense).
export interface AllocArgs {
  bytes: number;
  /** An upload into the block follows at once (no poison fill; a constant while capturing). */
  hostData?: boolean;
}
export interface FreeArgs {
  ptr: Ptr;
}
export interface UploadArgs {
  dst: Ptr;
  values: ArrayBufferView;
}
export interface DownloadArgs {
  src: Ptr;
  out: ArrayBufferView;
}
export interface CopyArgs {
  dst: Ptr;
  src: Ptr;
  bytes: number;
}
/** An asynchronous read: readBegin queues the copy into pinned memory, readReady polls it, readFinish takes it. */
export interface ReadBeginArgs {
  src: Ptr;
  bytes: number;
}
export interface ReadTicketArgs {
  ticket: number;
}
export interface ReadFinishArgs {
  ticket: number;
  out: ArrayBufferView;
}
/** Packed bytes (four to an int32) <-> float32 (half when `half`): y = x * scale, or bytes of round(x * scale). */
export interface FramesBytesArgs extends MaybeHalf {
  x: Ptr;
  y: Ptr;
  n: number;
  scale: number;
}
export interface TimerEndArgs {
  timer: number;
}
export interface ProfilerArgs {
  /** Start (true) or stop collecting, for a profiler started with collection off (ncu --profile-from-start off). */
  on: boolean;
}
export interface OptionsArgs {
  allowTF32?: boolean;
  findAlgorithms?: boolean;
  poison?: boolean;
  /** List counts published by their producers instead of a memset each (TFJS_DELTA_CUDA_LIST_COUNTERS; default on). */
  listCounters?: boolean;
}
export interface UnaryArgs extends MaybeHalf {
  op: number;
  x: Ptr;
  y: Ptr;
  n: number;
  alpha: number;
}
/** `out` is contiguous with shape outShape; a and b strides are 0 on their broadcast dims. */
export interface BroadcastArgs {
  op: number;
  dtype: number;
  a: Ptr;
  b: Ptr;
  out: Ptr;
  outShape: number[];
  aStrides: number[];
  bStrides: number[];
}
export interface BiasActArgs extends MaybeHalf {
  y: Ptr;
  n: number;
  bias: Ptr;
  biasLen: number;
  act: number;
  alpha: number;
  prelu: Ptr;
  preluLen: number;
}
/** depthwise.cu: channel multiplier 1, NHWC; w [kh, kw, c]; bias 0 or [c]. */
export interface DepthwiseConvArgs {
  /** A delta conv's geometry less what a dense depthwise conv of multiplier 1 does not take. */
  geometry: Omit<DeltaConvGeometry, 'mode' | 'co' | 'mult'>;
  x: Ptr;
  xHalf: boolean;
  w: Ptr;
  bias: Ptr;
  y: Ptr;
  yHalf: boolean;
  act: number;
  alpha: number;
}
export interface BatchNormArgs extends MaybeHalf {
  x: Ptr;
  y: Ptr;
  n: number;
  mean: Ptr;
  meanLen: number;
  variance: Ptr;
  varianceLen: number;
  offset: Ptr;
  offsetLen: number;
  scale: Ptr;
  scaleLen: number;
  epsilon: number;
}
export interface CastArgs {
  x: Ptr;
  srcDtype: number;
  y: Ptr;
  dstDtype: number;
  n: number;
}
export interface FillArgs {
  y: Ptr;
  dtype: number;
  n: number;
  value: number;
}
export interface SoftmaxArgs {
  x: Ptr;
  y: Ptr;
  rows: number;
  cols: number;
}
export interface StridedCopyArgs {
  elemBytes: number;
  src: Ptr;
  srcOffset: number;
  shape: number[];
  srcStrides: number[];
  dst: Ptr;
  dstOffset: number;
  dstStrides: number[];
}
/** mode 0 constant (value), 1 reflect, 2 symmetric; before[k]: the pad before dim k. */
export interface PadArgs {
  dtype: number;
  x: Ptr;
  inShape: number[];
  y: Ptr;
  outShape: number[];
  before: number[];
  mode: number;
  value: number;
}
export interface ResizeArgs {
  bilinear: boolean;
  x: Ptr;
  n: number;
  h: number;
  w: number;
  c: number;
  y: Ptr;
  outH: number;
  outW: number;
  alignCorners: boolean;
  halfPixelCenters: boolean;
}
/** x viewed as [outer, r, inner] reduced over r into float32 y; `xHalf`: x in half storage. */
export interface ReduceArgs {
  op: number;
  x: Ptr;
  y: Ptr;
  outer: number;
  r: number;
  inner: number;
  xHalf?: boolean;
}
/** NDHWC; 2D pools pass d = od = kd = sd = dd = 1 and pf = 0. */
export interface PoolArgs extends MaybeHalf {
  isMax: boolean;
  x: Ptr;
  y: Ptr;
  n: number;
  d: number;
  h: number;
  w: number;
  c: number;
  od: number;
  oh: number;
  ow: number;
  kd: number;
  kh: number;
  kw: number;
  sd: number;
  sh: number;
  sw: number;
  dd: number;
  dh: number;
  dw: number;
  pf: number;
  pt: number;
  pl: number;
  /** Windows of 32 positions or more on the split kernel (a block per output pixel and channel slice). */
  splitWindow?: boolean;
}
/**
 * cuDNN convolution: x NDHWC, w KTRSC, y NDHWC; backwardData: y is the input and x the output (transposed conv).
 * The spatial fields hold nd numbers.
 */
export interface ConvArgs extends MaybeHalf {
  nd: number;
  backwardData: boolean;
  n: number;
  c: number;
  k: number;
  groups: number;
  xs: number[];
  ys: number[];
  ws: number[];
  pad: number[];
  /** Pads after each spatial dim where they differ from `pad` (forward only; default `pad`). */
  padAfter?: number[];
  stride: number[];
  dil: number[];
  x: Ptr;
  w: Ptr;
  y: Ptr;
}
/** Row-major c[b] = op(a[b]) * op(b[b]); a batch stride of 0 broadcasts. */
export interface GemmArgs {
  a: Ptr;
  b: Ptr;
  c: Ptr;
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  strideA: number;
  strideB: number;
}
export interface SelectArgs {
  elemBytes: number;
  cond: Ptr;
  condInner: number;
  a: Ptr;
  b: Ptr;
  out: Ptr;
  n: number;
}
export interface TileArgs {
  elemBytes: number;
  x: Ptr;
  inShape: number[];
  out: Ptr;
  outShape: number[];
}
export interface AnyAllArgs {
  isAll: boolean;
  x: Ptr;
  y: Ptr;
  outer: number;
  r: number;
  inner: number;
}
export interface ClipArgs {
  x: Ptr;
  y: Ptr;
  n: number;
  lo: number;
  hi: number;
}
export interface ZeroInactiveArgs {
  x: Ptr;
  mask: Ptr;
  pixels: number;
  channels: number;
}
export interface BusyWaitArgs {
  microseconds: number;
}
export interface SparseAccumulateArgs {
  a: Ptr;
  r: Ptr;
  d: Ptr;
  mask: Ptr;
  outD: Ptr;
  outA: Ptr;
  outR: Ptr;
  outMask: Ptr;
  pixels: number;
  channels: number;
  threshold: number;
  act: number;
  alpha: number;
  writeZeros: boolean;
  /** a, r, outA and outR in half storage, updated by the half-state rule (statePrecision 'fp16'). */
  halfState: boolean;
  /** 1 + pixels int32s for a pixel list (native/cuda/pixel_list.cuh; a mask, in place, lazy zeros), or 0: none. */
  scratch: Ptr;
  /** scratch holds the list already and outMask its zeros (DeltaConvArgs.accumulateList): no list pass. */
  listReady?: boolean;
}
export interface DeltaSparsifyArgs {
  x: Ptr;
  a: Ptr;
  outD: Ptr;
  outA: Ptr;
  outMask: Ptr;
  /** n*h*w bytes of scratch for a dilated test; 0 without dilation. */
  rows: Ptr;
  n: number;
  h: number;
  w: number;
  channels: number;
  threshold: number;
  dilation: number;
  writeZeros: boolean;
}
export interface DeltaMaxPoolArgs {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  a: Ptr;
  d: Ptr;
  mask: Ptr;
  outD: Ptr;
  outA: Ptr;
  outMask: Ptr;
  writeZeros: boolean;
}
/** A delta convolution's geometry (native DeltaConvParams); mode: DeltaConvMode. */
export interface DeltaConvGeometry {
  mode: number;
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pl: number;
  /** Depthwise channel multiplier. */
  mult: number;
}
/**
 * bias non-zero: every output written (a dense result); outMask 0: no output mask; packedFilter: the filter from
 * deltaConvPackFilter (regular convs; with a bias on a dense input only), else 0.
 */
export interface DeltaConvArgs {
  geometry: DeltaConvGeometry;
  x: Ptr;
  mask: Ptr;
  filter: Ptr;
  bias: Ptr;
  /**
   * y = act(conv + bias) at every output written (a UnaryOp code; default linear), with alpha its parameter (leaky
   * ReLU's slope). Needs a bias or a dense input (mask 0).
   */
  act?: number;
  alpha?: number;
  packedFilter: Ptr;
  y: Ptr;
  outMask: Ptr;
  writeZeros: boolean;
  /** The mma kernel takes output channel counts that are multiples of 4 but not of 32 too. */
  mmaPartial?: boolean;
  /**
   * The list of the sparseAccumulate that follows (1 + output pixels int32s: a count, the active output pixels) and
   * its output mask, written zero at the inactive pixels (needs outMask); then its listReady. 0 or absent: none.
   */
  accumulateList?: Ptr;
  accumulateMask?: Ptr;
  /**
   * The tiled kernel runs over a list of its active tiles (a pass lists them) where its grid over every tile would be
   * more than this many times the blocks the GPU holds at once; with a mask and lazy zeros only. 0: wherever it can;
   * negative or absent: never.
   */
  tileListWaves?: number;
}
/** Which kernel a deltaConv ran (the low bits of its result; DeltaConvKernel.tileList is a flag beside them). */
export enum DeltaConvKernel {
  cudaCores = 0,
  wmma = 1,
  mma = 2,
  /** Set where the tiled kernel ran over a list of its active tiles. */
  tileList = 8,
}
export interface DeltaConvMaskArgs {
  geometry: DeltaConvGeometry;
  mask: Ptr;
  outMask: Ptr;
}
/**
 * A delta conv then sparseAccumulate, updating a and r in place, on pixel groups (native/cuda/delta_fused.cu):
 * depthwise (filter [kh, kw, c, 1]) or regular of a small reduction (deltaConvAccumulateFits). outD written at flushed
 * pixels (zeros elsewhere only with writeZeros), outMask at every output pixel.
 */
export interface DeltaConvAccumulateArgs {
  geometry: DeltaConvGeometry;
  x: Ptr;
  mask: Ptr;
  w: Ptr;
  a: Ptr;
  r: Ptr;
  outD: Ptr;
  outMask: Ptr;
  threshold: number;
  act: number;
  alpha: number;
  writeZeros: boolean;
  /** a and r in half storage, updated by the half-state rule (statePrecision 'fp16'). */
  halfState: boolean;
  /** 1 + 2 x output pixels int32s for a pixel list (native/cuda/pixel_list.cuh; a mask, lazy zeros), or 0: none. */
  scratch: Ptr;
}
/**
 * A 1x1, stride-1, unpadded delta conv (packedFilter from deltaConvPackFilter) then sparseAccumulate, updating a
 * and r in place, over a work list of the active pixels: outD written at flushed pixels (zeros elsewhere only with
 * writeZeros), outMask at every pixel. scratch: deltaPointwiseScratchInts int32s of device memory.
 */
export interface DeltaPointwiseAccumulateArgs {
  geometry: DeltaConvGeometry;
  x: Ptr;
  mask: Ptr;
  packedFilter: Ptr;
  a: Ptr;
  r: Ptr;
  outD: Ptr;
  outMask: Ptr;
  scratch: Ptr;
  threshold: number;
  act: number;
  alpha: number;
  writeZeros: boolean;
}
/**
 * A 1x1 delta conv then sparseAccumulate, updating a and r in place, as one tiled kernel (native/cuda/delta_conv_tc.cu:
 * the mma kernel's sums, the accumulator as its epilogue; deltaConvMmaAccumulateFits). outD written at flushed pixels
 * (zeros elsewhere only with writeZeros), outMask at every output pixel.
 */
export interface DeltaConvMmaAccumulateArgs {
  geometry: DeltaConvGeometry;
  x: Ptr;
  mask: Ptr;
  filter: Ptr;
  /** The filter from deltaConvPackFilter, or 0 (the kernel stages and rounds `filter`). */
  packedFilter: Ptr;
  a: Ptr;
  r: Ptr;
  outD: Ptr;
  outMask: Ptr;
  threshold: number;
  act: number;
  alpha: number;
  writeZeros: boolean;
  /** a and r in half storage, updated by the half-state rule (statePrecision 'fp16'). */
  halfState: boolean;
  /** As DeltaConvArgs's. */
  mmaPartial?: boolean;
  /** As DeltaConvArgs's. */
  tileListWaves?: number;
}
/** out holds co * ceil(c / 16) * 16 * kh * kw floats; needs co % 32 == 0. */
export interface DeltaConvPackFilterArgs {
  kh: number;
  kw: number;
  c: number;
  co: number;
  filter: Ptr;
  out: Ptr;
}
export interface DeltaScaleArgs {
  x: Ptr;
  mask: Ptr;
  scale: Ptr;
  y: Ptr;
  pixels: number;
  channels: number;
  writeZeros: boolean;
}
export interface DeltaAddArgs {
  a: Ptr;
  maskA: Ptr;
  b: Ptr;
  maskB: Ptr;
  y: Ptr;
  outMask: Ptr;
  pixels: number;
  channels: number;
  writeZeros: boolean;
}
export interface DeltaPadArgs {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  top: number;
  left: number;
  x: Ptr;
  mask: Ptr;
  y: Ptr;
  outMask: Ptr;
  writeZeros: boolean;
}
/** A delta's global average pool: y [n, c], the mean over every pixel of those `mask` sets (x elsewhere never added). */
export interface DeltaGlobalAvgPoolArgs {
  n: number;
  h: number;
  w: number;
  c: number;
  x: Ptr;
  mask: Ptr;
  y: Ptr;
  outMask: Ptr;
}
export interface GateSigmoidArgs {
  mean: Ptr;
  wg: Ptr;
  bg: Ptr;
  gate: Ptr;
  n: number;
  c: number;
}
export interface ApplyGateArgs extends MaybeHalf {
  y: Ptr;
  gate: Ptr;
  out: Ptr;
  n: number;
  voxels: number;
  c: number;
  act: number;
  alpha: number;
}
export interface PlanArgs {
  plan: number;
}

/**
 * The addon's functions (native/cuda/bindings/<family>.cc): each takes one object of named fields (or nothing), and
 * a missing or mistyped field throws an Error naming the entry and the field. Enum values mirror native/cuda/common.h.
 */
export interface CudaBinding {
  probe(): {ok: boolean; reason: string; deviceCount: number; driverVersion: number; runtimeVersion: number};
  /** Binds the process to `device` (validated against the device count) and creates the stream and handles there. */
  init(a: {device: number}): DeviceInfo;
  setOptions(o: OptionsArgs): void;
  getOptions(): Required<OptionsArgs>;
  alloc(a: AllocArgs): Ptr;
  free(a: FreeArgs): void;
  memory(): NativeMemory;
  resetPeakMemory(): void;
  emptyCache(): void;
  upload(a: UploadArgs): void;
  download(a: DownloadArgs): void;
  readBegin(a: ReadBeginArgs): number;
  readReady(a: ReadTicketArgs): boolean;
  readFinish(a: ReadFinishArgs): void;
  /** Waits for the copy (ignoring its errors) and releases the ticket. */
  readCancel(a: ReadTicketArgs): void;
  copy(a: CopyArgs): void;
  framesFromBytes(a: FramesBytesArgs): void;
  framesToBytes(a: FramesBytesArgs): void;
  sync(): void;
  timerStart(): number;
  timerEnd(a: TimerEndArgs): number;
  profiler(a: ProfilerArgs): void;
  unary(a: UnaryArgs): void;
  binary(a: BroadcastArgs): void;
  biasAct(a: BiasActArgs): void;
  batchNorm(a: BatchNormArgs): void;
  cast(a: CastArgs): void;
  fill(a: FillArgs): void;
  softmax(a: SoftmaxArgs): void;
  stridedCopy(a: StridedCopyArgs): void;
  pad(a: PadArgs): void;
  resize(a: ResizeArgs): void;
  reduce(a: ReduceArgs): void;
  /**
   * out[i] (float32) = the share of nonzero bytes in masks[i] (a bool buffer of lengths[i] bytes), or with `windows`
   * (13 integers a mask: n, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw) the share of the window's n x oh x ow
   * output pixels whose window holds a nonzero byte of the n x h x w mask (a conv's reach); two launches per 32 masks.
   */
  maskFractions(a: {masks: Ptr[]; lengths?: number[]; windows?: number[]; out: Ptr}): void;
  /** Returns whether the split kernel ran. */
  pool(a: PoolArgs): boolean;
  /** False (nothing launched) where the pads are asymmetric and no cuDNN engine takes them. */
  conv(a: ConvArgs): boolean;
  /** y = act(depthwise conv of x + bias) in one kernel (dense; not cuDNN). */
  depthwiseConv(a: DepthwiseConvArgs): void;
  /** Cached convolution plans: shape key, cuDNN algorithm, workspace bytes, math type (profiling). */
  convPlans(): Array<{key: string; algo: number; workspace: number; mathType: number}>;
  gemm(a: GemmArgs): void;
  // ---- delta kernels: masks are uint8 device buffers; a 0 pointer means dense ----
  /** out (bool) = a (op) b, broadcast as binary's. */
  compare(a: BroadcastArgs): void;
  select(a: SelectArgs): void;
  tile(a: TileArgs): void;
  anyAll(a: AnyAllArgs): void;
  clip(a: ClipArgs): void;
  zeroInactive(a: ZeroInactiveArgs): void;
  /** Returns whether the pixel list ran. */
  sparseAccumulate(a: SparseAccumulateArgs): boolean;
  deltaSparsify(a: DeltaSparsifyArgs): void;
  deltaMaxPool(a: DeltaMaxPoolArgs): void;
  /** Returns which kernel ran. */
  deltaConv(a: DeltaConvArgs): DeltaConvKernel;
  deltaConvMask(a: DeltaConvMaskArgs): void;
  deltaConvPackFilter(a: DeltaConvPackFilterArgs): void;
  /** Returns whether the pixel list ran. */
  deltaConvAccumulate(a: DeltaConvAccumulateArgs): boolean;
  /**
   * Whether deltaConvAccumulate takes the geometry: a depthwise conv of multiplier 1 (at most 32 taps and 3072
   * channels), or a regular conv 3x3 over 3 input channels or 1x1 over 16, 24 or 32, with at most 512 output channels;
   * output pixels below 2^31.
   */
  deltaConvAccumulateFits(a: {geometry: DeltaConvGeometry}): boolean;
  /** Returns which kernel ran (DeltaConvKernel.mma, with tileList where it ran over a tile list). */
  deltaConvMmaAccumulate(a: DeltaConvMmaAccumulateArgs): DeltaConvKernel;
  /**
   * Whether deltaConvMmaAccumulate takes the geometry with these arguments: a regular 1x1 conv that the tiled conv
   * runs on its mma kernel (TF32 on, c >= 16 and c % 4 == 0, co >= 16 and co % 32 == 0, or co % 4 == 0 with
   * mmaPartial and no packed filter), co <= 256, an activation exact in float32 (linear, relu, relu6), its output tile
   * within the shared memory a block may take.
   */
  deltaConvMmaAccumulateFits(a: {
    geometry: DeltaConvGeometry;
    packed: boolean;
    mmaPartial?: boolean;
    act: number;
  }): boolean;
  deltaPointwiseAccumulate(a: DeltaPointwiseAccumulateArgs): void;
  /** The scratch deltaPointwiseAccumulate needs (int32s), or -1 when it does not take the geometry. */
  deltaPointwiseScratchInts(a: {geometry: DeltaConvGeometry}): number;
  /** y = x * scale at active pixels (mask 0: dense); inactive written (zeros) only with writeZeros. */
  deltaScale(a: DeltaScaleArgs): void;
  /** y = a + b over each input's active pixels; outMask = maskA | maskB (0 when either input is dense). */
  deltaAdd(a: DeltaAddArgs): void;
  /** Zero padding of H and W; outMask = mask (all active when 0) padded inactive. */
  deltaPad(a: DeltaPadArgs): void;
  deltaGlobalAvgPool(a: DeltaGlobalAvgPoolArgs): void;
  gateSigmoid(a: GateSigmoidArgs): void;
  applyGate(a: ApplyGateArgs): void;
  // ---- compiled plans (plan.cc): CUDA-graph capture of the kernels queued between planBegin and planEnd ----
  planBegin(): number;
  /** Ends the capture and instantiates the graph; returns its node count. */
  planEnd(a: PlanArgs): number;
  planAbort(a: PlanArgs): void;
  planLaunch(a: PlanArgs): void;
  planDestroy(a: PlanArgs): void;
  /** Device bytes the plan's memory pool owns. */
  planBytes(a: PlanArgs): number;
  /** Benchmarks: keeps the stream busy for this long, so that work queued behind it runs back to back. */
  busyWait(a: BusyWaitArgs): void;
}

export const UnaryOp = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 3,
  sigmoid: 4,
  tanh: 5,
  elu: 6,
  exp: 7,
  neg: 8,
  abs: 9,
  sqrt: 10,
  rsqrt: 11,
  square: 12,
  log: 13,
  floor: 14,
  ceil: 15,
  reciprocal: 16,
  selu: 17,
  softplus: 18,
  round: 19,
  sign: 20,
  step: 21,
} as const;
export const BinaryOp = {add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, sqdiff: 6, pow: 7, prelu: 8} as const;
export const ReduceOp = {sum: 0, max: 1, min: 2, mean: 3, prod: 4} as const;
export const CompareOp = {
  greater: 0,
  greaterEqual: 1,
  less: 2,
  lessEqual: 3,
  equal: 4,
  notEqual: 5,
  and: 6,
  or: 7,
  not: 8,
} as const;
export const DeltaConvMode = {regular: 0, depthwise: 1, transposed: 2} as const;
/** Device dtype codes; float16 is the half storage of float32 tensors, not a tfjs dtype. */
export const DTypeCode: Record<string, number> = {float32: 0, int32: 1, bool: 2, float16: 3};

export interface CudaStatus {
  available: boolean;
  /** Why the backend is unavailable (only when available is false). */
  reason?: string;
  binding?: CudaBinding;
  device?: DeviceInfo;
  addonPath?: string;
  /** CUDA devices on this machine, when the addon could count them. */
  deviceCount?: number;
}

const ADDON = 'tfjs_delta_cuda.node';

function candidatePaths(): string[] {
  const out: string[] = [];
  const addon = envString('TFJS_DELTA_CUDA_ADDON');
  if (addon != null) out.push(path.resolve(addon));
  out.push(path.join(PACKAGE_ROOT, 'build', 'Release', ADDON));
  return out;
}

let status: CudaStatus | undefined;

/**
 * The CUDA device a caller asks for: `device` when given (a whole number >= 0, else an Error naming the argument),
 * else TFJS_DELTA_CUDA_DEVICE, else 0. `caller` names the function in the error.
 */
export function requestedCudaDevice(device: unknown, caller = 'useCudaIfAvailable'): number {
  if (device === undefined) return envIndex('TFJS_DELTA_CUDA_DEVICE') ?? 0;
  if (typeof device !== 'number' || !Number.isSafeInteger(device) || device < 0) {
    throw new Error(
      `${caller}: device must be a whole number >= 0 (a CUDA device index), got ${JSON.stringify(device)}`,
    );
  }
  return device;
}

/** Why `device` cannot be used on a machine with `count` CUDA devices, or null. */
export function cudaDeviceProblem(device: number, count: number): string | null {
  if (device < count) return null;
  const have = count === 1 ? 'one CUDA device (0)' : `${count} CUDA devices (0 to ${count - 1})`;
  return `CUDA device ${device} does not exist: this machine has ${have}`;
}

/**
 * Loads and initialises the addon once, on `device` (see requestedCudaDevice); later calls return the same status.
 * A process holds one device: asking for another once the backend is initialised throws.
 */
export function loadCuda(device?: number): CudaStatus {
  if (status) {
    if (device !== undefined && status.device != null && status.device.device !== device) {
      throw new Error(
        `the 'cuda' backend already runs on CUDA device ${status.device.device} in this process and cannot move ` +
          `to device ${device}: run one process per GPU (tfjs-delta worker --gpu N, or TFJS_DELTA_CUDA_DEVICE)`,
      );
    }
    return status;
  }
  let index: number;
  try {
    index = requestedCudaDevice(device);
  } catch (e) {
    // A mistyped variable is reported, not thrown, so that cudaAvailability() keeps its promise never to throw;
    // it is not cached, so fixing the variable takes effect on the next call.
    return {available: false, reason: (e as Error).message};
  }
  const tried = candidatePaths();
  const found = tried.find((p) => fs.existsSync(p));
  if (!found) {
    status = {
      available: false,
      reason:
        `native addon not built (looked for ${tried.join(', ')}); ` +
        'build it with `node scripts/build-native.js` on a machine with a CUDA toolkit',
    };
    return status;
  }
  let binding: CudaBinding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the addon's path is found at run time
    binding = require(found) as CudaBinding;
  } catch (e) {
    status = {
      available: false,
      addonPath: found,
      reason: `native addon ${found} failed to load: ${(e as Error).message}`,
    };
    return status;
  }
  const probe = binding.probe();
  if (!probe.ok) {
    status = {available: false, addonPath: found, reason: `no usable GPU: ${probe.reason}`};
    return status;
  }
  const problem = cudaDeviceProblem(index, probe.deviceCount);
  if (problem != null) {
    const source =
      device === undefined && envString('TFJS_DELTA_CUDA_DEVICE') != null ? ' (TFJS_DELTA_CUDA_DEVICE)' : '';
    // Not cached either: the same process may still ask for a device that exists.
    return {available: false, addonPath: found, reason: `${problem}${source}`, deviceCount: probe.deviceCount};
  }
  try {
    const info = binding.init({device: index});
    status = {available: true, binding, device: info, addonPath: found, deviceCount: probe.deviceCount};
  } catch (e) {
    status = {available: false, addonPath: found, reason: `GPU initialisation failed: ${(e as Error).message}`};
  }
  return status;
}
