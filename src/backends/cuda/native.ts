/**
 * Loads the native addon of the 'cuda' backend (build/Release/tfjs_delta_cuda.node, built by
 * scripts/build-native.js) and probes for a GPU. Never throws: on a machine without the addon, its libraries
 * or a GPU it reports `available: false` with the reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import {PACKAGE_ROOT} from '../../io/package_root';
import {envString} from '../../io/env';

/** Device pointers travel as JS numbers. */
export type Ptr = number;

export interface DeviceInfo {
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
  blocks: number;
  workspace: number;
  convPlans: number;
  deviceFree: number;
  deviceTotal: number;
}

/** The addon's functions (native/cuda/addon.cc). Enum values mirror native/cuda/common.h. */
export interface CudaBinding {
  probe(): {ok: boolean; reason: string; deviceCount: number; driverVersion: number; runtimeVersion: number};
  init(): DeviceInfo;
  setOptions(o: {allowTF32?: boolean; findAlgorithms?: boolean; poison?: boolean}): void;
  getOptions(): {allowTF32: boolean; findAlgorithms: boolean; poison: boolean};
  /** `hostData`: an upload into the block follows at once (no poison fill; a constant while capturing). */
  alloc(bytes: number, hostData?: boolean): Ptr;
  free(p: Ptr): void;
  memory(): NativeMemory;
  emptyCache(): void;
  upload(dst: Ptr, values: ArrayBufferView): void;
  download(src: Ptr, out: ArrayBufferView): void;
  copy(dst: Ptr, src: Ptr, bytes: number): void;
  sync(): void;
  timerStart(): number;
  timerEnd(id: number): number;
  // `half` (a trailing flag of several kernels): the float activations are in half storage (DTypeCode.float16).
  unary(op: number, x: Ptr, y: Ptr, n: number, alpha: number, half?: boolean): void;
  binary(op: number, dtype: number, a: Ptr, b: Ptr, out: Ptr, outShape: number[], aStrides: number[],
         bStrides: number[]): void;
  biasAct(y: Ptr, n: number, bias: Ptr, biasLen: number, act: number, alpha: number, prelu: Ptr,
          preluLen: number, half?: boolean): void;
  batchNorm(x: Ptr, y: Ptr, n: number, mean: Ptr, meanLen: number, variance: Ptr, varianceLen: number,
            offset: Ptr, offsetLen: number, scale: Ptr, scaleLen: number, eps: number, half?: boolean): void;
  cast(x: Ptr, srcDtype: number, y: Ptr, dstDtype: number, n: number): void;
  fill(y: Ptr, dtype: number, n: number, value: number): void;
  softmax(x: Ptr, y: Ptr, rows: number, cols: number): void;
  stridedCopy(elemBytes: number, src: Ptr, srcOffset: number, shape: number[], srcStrides: number[], dst: Ptr,
              dstOffset: number, dstStrides: number[]): void;
  pad(dtype: number, x: Ptr, inShape: number[], y: Ptr, outShape: number[], before: number[], mode: number,
      value: number): void;
  resize(bilinear: boolean, x: Ptr, n: number, h: number, w: number, c: number, y: Ptr, outH: number,
         outW: number, alignCorners: boolean, halfPixelCenters: boolean): void;
  /** `xHalf`: x in half storage (y is float32). */
  reduce(op: number, x: Ptr, y: Ptr, outer: number, r: number, inner: number, xHalf?: boolean): void;
  pool(isMax: boolean, x: Ptr, y: Ptr, params: number[], half?: boolean): void;
  conv(params: number[], x: Ptr, w: Ptr, y: Ptr, half?: boolean): void;
  /** Cached convolution plans: shape key, cuDNN algorithm, workspace bytes, math type (profiling). */
  convPlans(): Array<{key: string; algo: number; workspace: number; mathType: number}>;
  gemm(a: Ptr, b: Ptr, c: Ptr, batch: number, m: number, n: number, k: number, transA: boolean,
       transB: boolean, strideA: number, strideB: number): void;
  // ---- delta kernels (issue 7): masks are uint8 device buffers; a 0 pointer means dense ----
  compare(op: number, dtype: number, a: Ptr, b: Ptr, out: Ptr, outShape: number[], aStrides: number[],
          bStrides: number[]): void;
  select(elemBytes: number, cond: Ptr, condInner: number, a: Ptr, b: Ptr, out: Ptr, n: number): void;
  tile(elemBytes: number, x: Ptr, inShape: number[], out: Ptr, outShape: number[]): void;
  anyAll(isAll: boolean, x: Ptr, y: Ptr, outer: number, r: number, inner: number): void;
  clip(x: Ptr, y: Ptr, n: number, lo: number, hi: number): void;
  zeroInactive(x: Ptr, mask: Ptr, pixels: number, channels: number): void;
  sparseAccumulate(a: Ptr, r: Ptr, d: Ptr, mask: Ptr, outD: Ptr, outA: Ptr, outR: Ptr, outMask: Ptr, pixels: number,
                   channels: number, threshold: number, act: number, alpha: number, writeZeros: boolean): void;
  /** params: n h w c oh ow kh kw sh sw pt pl. */
  deltaMaxPool(params: number[], a: Ptr, d: Ptr, mask: Ptr, outD: Ptr, outA: Ptr, outMask: Ptr, writeZeros: boolean): void;
  /** params: mode n h w c oh ow co kh kw sh sw dh dw pt pl mult; returns whether the tensor-core kernel ran. */
  deltaConv(params: number[], x: Ptr, mask: Ptr, w: Ptr, bias: Ptr, y: Ptr, outMask: Ptr, writeZeros: boolean): boolean;
  deltaConvMask(params: number[], mask: Ptr, outMask: Ptr): void;
  /** y = x * scale at active pixels (mask 0: dense); inactive written (zeros) only with writeZeros. */
  deltaScale(x: Ptr, mask: Ptr, scale: Ptr, y: Ptr, pixels: number, channels: number, writeZeros: boolean): void;
  /** y = a + b over each input's active pixels; outMask = maskA | maskB (0 when either input is dense). */
  deltaAdd(a: Ptr, maskA: Ptr, b: Ptr, maskB: Ptr, y: Ptr, outMask: Ptr, pixels: number, channels: number,
           writeZeros: boolean): void;
  /** params: n h w c oh ow top left; zero padding of H and W, outMask = mask (all active when 0) padded inactive. */
  deltaPad(params: number[], x: Ptr, mask: Ptr, y: Ptr, outMask: Ptr, writeZeros: boolean): void;
  gateSigmoid(mean: Ptr, wg: Ptr, bg: Ptr, gate: Ptr, n: number, c: number): void;
  applyGate(y: Ptr, gate: Ptr, out: Ptr, n: number, voxels: number, c: number, act: number, alpha: number,
            half?: boolean): void;
  // ---- compiled plans (plan.cc): CUDA-graph capture of the kernels queued between planBegin and planEnd ----
  planBegin(): number;
  /** Ends the capture and instantiates the graph; returns its node count. */
  planEnd(plan: number): number;
  planAbort(plan: number): void;
  planLaunch(plan: number): void;
  planDestroy(plan: number): void;
  /** Device bytes the plan's memory pool owns. */
  planBytes(plan: number): number;
  /** Benchmarks: keeps the stream busy for this long, so that work queued behind it runs back to back. */
  busyWait(microseconds: number): void;
}

export const UnaryOp = {
  linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, tanh: 5, elu: 6, exp: 7, neg: 8, abs: 9, sqrt: 10,
  rsqrt: 11, square: 12, log: 13, floor: 14, ceil: 15, reciprocal: 16, selu: 17, softplus: 18, round: 19,
  sign: 20, step: 21,
} as const;
export const BinaryOp = {add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, sqdiff: 6, pow: 7, prelu: 8} as const;
export const ReduceOp = {sum: 0, max: 1, min: 2, mean: 3, prod: 4} as const;
export const CompareOp = {
  greater: 0, greaterEqual: 1, less: 2, lessEqual: 3, equal: 4, notEqual: 5, and: 6, or: 7, not: 8,
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

/** Loads and initialises the addon once; later calls return the same status. */
export function loadCuda(): CudaStatus {
  if (status) return status;
  const tried = candidatePaths();
  const found = tried.find(p => fs.existsSync(p));
  if (!found) {
    status = {
      available: false,
      reason: `native addon not built (looked for ${tried.join(', ')}); ` +
          'build it with `node scripts/build-native.js` on a machine with a CUDA toolkit',
    };
    return status;
  }
  let binding: CudaBinding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the addon's path is found at run time
    binding = require(found) as CudaBinding;
  } catch (e) {
    status = {available: false, addonPath: found, reason: `native addon ${found} failed to load: ${(e as Error).message}`};
    return status;
  }
  const probe = binding.probe();
  if (!probe.ok) {
    status = {available: false, addonPath: found, reason: `no usable GPU: ${probe.reason}`};
    return status;
  }
  try {
    const device = binding.init();
    status = {available: true, binding, device, addonPath: found};
  } catch (e) {
    status = {available: false, addonPath: found, reason: `GPU initialisation failed: ${(e as Error).message}`};
  }
  return status;
}
