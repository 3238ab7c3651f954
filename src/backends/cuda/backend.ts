/**
 * The 'cuda' KernelBackend: every tensor's data lives in device memory owned by the native addon's caching
 * allocator (dataId -> device pointer). Kernels are queued on one CUDA stream; only reads synchronise.
 */
import * as tf from '@tensorflow/tfjs-core';
import {backend_util, DataId, DataStorage, DataType, KernelBackend, TensorInfo, util} from '@tensorflow/tfjs-core';

import {CudaBinding, DeviceInfo, DTypeCode, Ptr} from './native';
import {envFlag, envIndex} from '../../io/env';

export interface CudaData {
  ptr: Ptr;
  bytes: number;
  dtype: DataType;
  shape: number[];
  refCount: number;
  /** Host values of string tensors (never on the device). */
  host?: backend_util.BackendValues;
  /** Device copies derived from this (constant) tensor, e.g. a filter in cuDNN layout; freed with it. */
  derived?: Map<string, Ptr>;
  /**
   * A delta tensor written lazily by a delta kernel: values at pixels whose flag in `maskPtr` (a pinned uint8
   * buffer) is 0 are undefined until `ptr()` or a read zeroes them (see CudaBackend.markLazy).
   */
  lazy?: {maskPtr: Ptr; pixels: number; channels: number};
  /**
   * A float32 tensor stored as IEEE half (2 bytes an element), written by a kernel running with half storage (the
   * 'fp16' precision of compiled streams). Kernels that know half read it as it is; every other kernel, and every
   * read, goes through `ptr()`, which converts it once into a float32 copy cached with it. A kernel that updates a
   * half tensor in place (sparseAccumulate's half state) drops that copy (`writtenInPlace`).
   */
  half?: boolean;
}

export interface CudaMemoryInfo {
  unreliable: boolean;
  /** Bytes held by live tensors and workspaces (allocator blocks in use). */
  numBytesInGPU: number;
  /** Bytes the caching allocator holds from the driver (in use + cached). */
  numBytesInGPUAllocated: number;
  /** Bytes cached for reuse (freed tensors). */
  numBytesInGPUCached: number;
  /** The most numBytesInGPU has been since resetPeakMemory() (or since the backend started). */
  peakBytesInGPU: number;
}

export function bytesPerElement(dtype: DataType): number {
  return dtype === 'bool' ? 1 : 4;
}

function typedArrayFor(dtype: DataType, size: number): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'int32') return new Int32Array(size);
  if (dtype === 'bool') return new Uint8Array(size);
  return new Float32Array(size);
}

function asTyped(values: backend_util.BackendValues, dtype: DataType): ArrayBufferView {
  const ctor = dtype === 'int32' ? Int32Array : dtype === 'bool' ? Uint8Array : Float32Array;
  return values instanceof ctor ? (values as ArrayBufferView) : ctor.from(values as ArrayLike<number>);
}

/** Delta outputs of up to 2^20 elements (4 MB) are written whole: see CudaBackend.lazyZerosAbove. */
const LAZY_ZEROS_ABOVE = 1 << 20;
/** The default of CudaBackend.tileListWaves. */
export const TILE_LIST_WAVES = 8;
/** The defaults of CudaBackend.fusedConvMaxK and fusedConvMinOutChannels. */
export const FUSED_CONV_MAX_K = 64;
export const FUSED_CONV_MIN_OUT_CHANNELS = 16;
/** Reads of fewer bytes stay synchronous: one download costs less than the polling. */
const ASYNC_READ_BYTES = 64 * 1024;
/**
 * An asynchronous read is polled on every turn of the event loop for this long, then every millisecond. The bound is a
 * time, not a count of turns, because turns take from microseconds to ~30 us depending on the machine's load (64 took
 * 0.6-1.8 ms on a loaded 2-core machine), and a read past the bound waits for 1 ms timers (1.1-1.7 ms each): a frame
 * that takes about a millisecond on the GPU must not fall past it.
 */
const READ_SPIN_MS = 5;

let nextDataId = 0;

export class CudaBackend extends KernelBackend {
  readonly data: DataStorage<CudaData>;
  readonly n: CudaBinding;
  readonly device: DeviceInfo;
  /**
   * Delta kernels skip writing inactive pixels of their delta outputs and leave them to be zeroed before the first
   * read by anything else (TFJS_DELTA_CUDA_LAZY_ZEROS=0: they write the zeros at once).
   */
  lazyZeros = envFlag('TFJS_DELTA_CUDA_LAZY_ZEROS', true);
  /**
   * Delta outputs of at most this many elements are written whole even with lazyZeros: on a small grid the zeros
   * cost less inside the kernel that writes the output (a few microseconds at most) than the separate zeroing launch
   * that a dense reader (a cuDNN conv, a dense layer) would need later, and small grids are where such readers are
   * (routed to cuDNN below denseBelowBlocks). TFJS_DELTA_CUDA_LAZY_ZEROS_ABOVE; 0: every delta output lazily.
   */
  lazyZerosAbove = envIndex('TFJS_DELTA_CUDA_LAZY_ZEROS_ABOVE') ?? LAZY_ZEROS_ABOVE;
  /**
   * Depthwise and transposed delta convolutions on the tile-skipping direct kernel instead of cuDNN's dense conv of
   * the zero-filled delta (TFJS_DELTA_CUDA_DIRECT_CONVS=1; see cudnnDeltaConv in kernels/delta.ts).
   */
  directDeltaConvs = envFlag('TFJS_DELTA_CUDA_DIRECT_CONVS');
  /**
   * Dense depthwise convolutions of channel multiplier 1 on native/cuda/depthwise.cu instead of cuDNN's grouped
   * convolution (TFJS_DELTA_CUDA_DEPTHWISE=0 turns it off). Chosen by the default job's graph time over real frames
   * (benchmarks/models/run_frame_cuda.ts: PoseNet's dense graph 7% faster, its delta graph 4-5%), although alone a
   * bare stride-1 conv takes 1.1-1.4x cuDNN's time (benchmarks/ops/depthwise_cuda.ts); fused with a bias and an
   * activation it takes 0.4-0.7x cuDNN's conv plus the bias/activation pass.
   */
  ownDepthwise = envFlag('TFJS_DELTA_CUDA_DEPTHWISE', true);
  /**
   * Dense regular 2-D convs with a bias or an activation (FusedConv2D) whose reduction (filter height x width x input
   * channels) is at most fusedConvMaxK, with at least fusedConvMinOutChannels output channels, run on the tiled TF32
   * kernel of the delta convs (native/cuda/delta_conv_tc.cu) with the bias and activation in its store: one pass over
   * the output where cuDNN's conv and the bias-activation pass after it make three. Such a conv is bound by its
   * output's memory traffic; measured on an H100 (benchmarks/ops/fused_conv_cuda.ts) the tiled kernel takes 0.46-0.92
   * of cuDNN plus the pass up to a reduction of 64 (one batch-1 shape of 10 us: 1.03), and from 96 on mostly 1.0-4x
   * (cuDNN's main loop is the faster one); below 16 output channels its block of 32 channels is mostly empty. Needs
   * TF32 (the default), float32 storage, input and output channels multiples of 4, a per-channel bias and a tfjs
   * activation other than prelu; every other conv stays on cuDNN. TFJS_DELTA_CUDA_FUSED_CONV_MAX_K (0: never) and
   * TFJS_DELTA_CUDA_FUSED_CONV_MIN_OUT_CHANNELS.
   */
  fusedConvMaxK = envIndex('TFJS_DELTA_CUDA_FUSED_CONV_MAX_K') ?? FUSED_CONV_MAX_K;
  /** See fusedConvMaxK. */
  fusedConvMinOutChannels = envIndex('TFJS_DELTA_CUDA_FUSED_CONV_MIN_OUT_CHANNELS') ?? FUSED_CONV_MIN_OUT_CHANNELS;
  /**
   * Fused delta blocks (a delta conv with sparseAccumulate as its epilogue, native/cuda/delta_fused.cu: depthwise
   * convs and small regular ones, and delta_pointwise.cu); TFJS_DELTA_CUDA_FUSED=0 runs their two kernels instead
   * (for comparisons).
   */
  fusedDeltaBlocks = envFlag('TFJS_DELTA_CUDA_FUSED', true);
  /**
   * The pointwise delta block over work lists (delta_pointwise.cu) for 1x1 delta convs with a truncating activation
   * (TFJS_DELTA_CUDA_POINTWISE=1). Off by default: on an H200 it beats the tiled conv + accumulator only at low
   * activity on large grids (benchmarks/results/delta_block_*), and end to end it is a wash (docs/delta-kernels.md).
   */
  pointwiseBlocks = envFlag('TFJS_DELTA_CUDA_POINTWISE', false);
  /**
   * Regular delta convs of a small reduction (3x3 over 3 input channels: a network's first conv over RGB; 1x1 over
   * 16, 24 or 32 channels) with a truncating activation as one fused block on pixel groups (delta_fused.cu: a lane per
   * output channel, its filter in registers, float32 sums), where the two kernels run a tensor-core tile per 128
   * pixels and write a delta that the accumulator reads back. On by default for convs of at most
   * smallConvBlockMaxPixels output pixels; TFJS_DELTA_CUDA_SMALL_CONV_BLOCKS=0 runs the two kernels everywhere
   * (docs/delta-kernels.md, "Small regular convs as pixel-group blocks").
   */
  smallConvBlocks = envFlag('TFJS_DELTA_CUDA_SMALL_CONV_BLOCKS', true);
  /**
   * 1x1 delta convs with a truncating activation (at most 256 output channels) as one tiled tensor-core kernel with
   * the accumulator as its epilogue (native/cuda/delta_conv_tc.cu, deltaConvMmaAccumulateKernel): a tile's delta
   * stays in shared memory, where the two kernels write it for the accumulator to read back, and the layer is one
   * launch, with the two kernels' results bit for bit (TFJS_DELTA_CUDA_MMA_ACCUMULATE=1; off by default until it is
   * measured, docs/delta-kernels.md, "The accumulator in the tiled conv's epilogue"). The small-conv block keeps the
   * convs it takes.
   */
  mmaAccumulateBlocks = envFlag('TFJS_DELTA_CUDA_MMA_ACCUMULATE', false);
  /**
   * The most output pixels (batch x height x width) a conv may have to take the small-conv block
   * (TFJS_DELTA_CUDA_SMALL_CONV_BLOCK_MAX_PIXELS, default 2^17): a block of one pixel a group is bound by latency
   * where the tiled kernel has many tiles to spread, so large grids run the two kernels. The bound keeps the batch-1
   * layers that gain (MobileNetV2's at 576x768 reach 110K pixels) and leaves out the batch-8 ones that lose (221K and
   * more; docs/delta-kernels.md, "The bound, and outputs written whole").
   */
  smallConvBlockMaxPixels = envIndex('TFJS_DELTA_CUDA_SMALL_CONV_BLOCK_MAX_PIXELS') ?? 2 ** 17;
  /**
   * sparseAccumulate and the fused blocks on pixel groups over pixel lists where their delta output is lazy (or, for
   * the small-conv block, written whole after a memset) and, for sparseAccumulate, the state is updated in place
   * (native/cuda/pixel_list.cuh): a pass of a lane per pixel lists the active ones, and the pixel groups run over the
   * list only, where otherwise they spend their lanes on every pixel. The results are the same either way. On by
   * default, at every size: MobileNetV2 576x768 on an H100 runs 1.46x faster with them at batch 8 and 1.06x at batch 1
   * (docs/delta-kernels.md, "Pixel lists"); TFJS_DELTA_CUDA_PIXEL_LISTS=0 turns them off.
   */
  pixelLists = envFlag('TFJS_DELTA_CUDA_PIXEL_LISTS', true);
  /**
   * Regular delta convs whose output channels are a multiple of 4 but not of 32 (MobileNetV2's 16, 24 and 144,
   * PoseNet's 48) on the mma kernel too, its last channel block part empty, instead of the slower WMMA kernel. On by
   * default: MobileNetV2 576x768 batch 8 on an H100 runs 3.5% faster (native/cuda/NOTES.md);
   * TFJS_DELTA_CUDA_MMA_PARTIAL=0 turns it off.
   */
  mmaPartialChannels = envFlag('TFJS_DELTA_CUDA_MMA_PARTIAL', true);
  /**
   * Pools with windows of 32 positions or more (global pools) on the split kernel, a block per output pixel and
   * channel slice, instead of one thread per output (which leaves a global pool of a batch of 8 on a few dozen
   * blocks). On by default: MobileNetV2 576x768 batch 8 on an H100, delta 2% faster (native/cuda/NOTES.md);
   * TFJS_DELTA_CUDA_POOL_SPLIT=0 turns it off.
   */
  poolSplit = envFlag('TFJS_DELTA_CUDA_POOL_SPLIT', true);
  /**
   * A delta's global average pool (deltaGlobalAvgPool, and a deltaAvgPool whose one window is the whole map, as
   * MobileNetV2's head resized to the frame) as one masked split-pool launch that adds only the active pixels and ORs
   * the mask, instead of a zero fill, the pool and three launches for the mask. On by default: MobileNetV2 1080x1920
   * batch 8 on an H100 4.70 -> 4.63 ms a step (docs/delta-kernels.md); TFJS_DELTA_CUDA_GLOBAL_POOL_MASKED=0 turns it
   * off.
   */
  globalPoolMasked = envFlag('TFJS_DELTA_CUDA_GLOBAL_POOL_MASKED', true);
  /**
   * A cuDNN conv whose pads differ before and after (a stride-2 'same' conv on an even size pads (0, 1)) passes them
   * to cuDNN's graph API as pre- and post-paddings, instead of copying x into a padded buffer first (the legacy
   * descriptor's pads are symmetric); where no engine takes them, the copy runs. TFJS_DELTA_CUDNN_ASYMMETRIC_PADS=0
   * always copies.
   */
  asymmetricConvPads = envFlag('TFJS_DELTA_CUDNN_ASYMMETRIC_PADS', true);
  /**
   * A regular delta conv whose tiled kernel would launch fewer blocks than this runs cuDNN's dense conv of the
   * zero-filled delta instead (small frames: a few 8x16 tiles cannot fill the GPU, cuDNN splits the work finer).
   * TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS; 0: never; default two blocks per multiprocessor.
   */
  denseBelowBlocks: number;
  /**
   * A tiled delta conv (masked input, lazy output) whose grid would hold more than this many times the blocks the GPU
   * runs at once runs over a list of its active tiles instead: a pass of a warp per tile lists them, and a grid the
   * size of the GPU takes them in turn, so an inactive tile costs a warp of the pass, not a block's turn on a
   * multiprocessor. Same results either way. The pass costs 4-14 us, which pays on grids of many waves (MobileNetV2's
   * 288x384 and 144x192 layers at batch 8: 26-78 waves, 17-58 us saved a layer on an H100) and not on a few (2.7-4.9
   * waves: 2-13 us lost a layer; docs/delta-kernels.md, "Tile lists"). TFJS_DELTA_CUDA_TILE_LIST_WAVES (default 8; 0:
   * wherever it can); TFJS_DELTA_CUDA_TILE_LISTS=0 turns them off (-1 here).
   */
  tileListWaves = envFlag('TFJS_DELTA_CUDA_TILE_LISTS', true)
    ? (envIndex('TFJS_DELTA_CUDA_TILE_LIST_WAVES') ?? TILE_LIST_WAVES)
    : -1;
  /**
   * Convolution kernels compute in half precision (fp32 accumulation) and write their outputs in half storage;
   * elementwise, pooling and data-movement kernels keep half inputs in half. Set by compiled streams with
   * precision 'fp16' around their frames only.
   */
  halfStorage = false;
  /** Device buffers (masks) that lazy tensors still need: freed only once no lazy tensor refers to them. */
  private readonly pins = new Map<Ptr, {count: number; orphan: boolean}>();

  constructor(binding: CudaBinding, device: DeviceInfo) {
    super();
    this.n = binding;
    this.device = device;
    this.data = new DataStorage(this, tf.engine());
    this.denseBelowBlocks = envIndex('TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS') ?? 2 * device.multiProcessors;
  }

  // ---- storage ----
  override write(values: backend_util.BackendValues | null, shape: number[], dtype: DataType): DataId {
    const dataId = {id: nextDataId++};
    this.move(dataId, values, shape, dtype, 1);
    return dataId;
  }

  override move(
    dataId: DataId,
    values: backend_util.BackendValues | null,
    shape: number[],
    dtype: DataType,
    refCount: number,
  ): void {
    if (dtype === 'string') {
      this.data.set(dataId, {ptr: 0, bytes: 0, dtype, shape, refCount, host: values ?? []});
      return;
    }
    if (dtype === 'complex64') throw new Error(`'cuda' backend: complex64 tensors are not supported`);
    const bytes = util.sizeFromShape(shape) * bytesPerElement(dtype);
    const ptr = bytes > 0 ? this.n.alloc({bytes, hostData: values != null}) : 0;
    if (values != null && bytes > 0) this.n.upload({dst: ptr, values: asTyped(values, dtype)});
    this.data.set(dataId, {ptr, bytes, dtype, shape, refCount});
  }

  override readSync(dataId: DataId): backend_util.BackendValues {
    const d = this.data.get(dataId);
    if (d.host) return d.host;
    if (d.lazy) this.materialise(d);
    const out = typedArrayFor(d.dtype, util.sizeFromShape(d.shape));
    if (d.bytes > 0) this.n.download({src: d.half ? this.floatCopy(d) : d.ptr, out});
    return out;
  }

  /**
   * Reads of more than ASYNC_READ_BYTES leave the JavaScript thread free while the GPU finishes: the copy is queued
   * behind the work that writes the tensor (not behind work queued later) into pinned memory and polled, so a
   * pipeline can read one frame while the next one computes.
   */
  override async read(dataId: DataId): Promise<backend_util.BackendValues> {
    const d = this.data.get(dataId);
    const size = util.sizeFromShape(d.shape);
    if (d.host || size * bytesPerElement(d.dtype) < ASYNC_READ_BYTES) return this.readSync(dataId);
    if (d.lazy) this.materialise(d);
    const out = typedArrayFor(d.dtype, size);
    const ticket = this.n.readBegin({src: d.half ? this.floatCopy(d) : d.ptr, bytes: out.byteLength});
    let finished = false;
    try {
      // Poll on every turn of the event loop at first (a frame's work is often done within a few milliseconds),
      // then every millisecond, so that a long kernel does not keep a core spinning.
      const start = performance.now();
      while (!this.n.readReady({ticket})) {
        const young = performance.now() - start < READ_SPIN_MS;
        await new Promise((resolve) => (young ? setImmediate(resolve) : setTimeout(resolve, 1)));
      }
      this.n.readFinish({ticket, out});
      finished = true;
    } finally {
      if (!finished) this.n.readCancel({ticket});
    }
    return out;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const d = this.data.get(dataId);
    d.refCount--;
    if (!force && d.refCount > 0) return false;
    if (d.lazy) this.unpin(d.lazy.maskPtr);
    const pin = d.bytes > 0 ? this.pins.get(d.ptr) : undefined;
    if (pin)
      pin.orphan = true; // a lazy tensor still needs this mask: freed by its unpin
    else if (d.bytes > 0) this.n.free({ptr: d.ptr});
    if (d.derived) d.derived.forEach((p) => this.n.free({ptr: p}));
    this.data.delete(dataId);
    return true;
  }

  override refCount(dataId: DataId): number {
    return this.data.has(dataId) ? this.data.get(dataId).refCount : 0;
  }

  override incRef(dataId: DataId): void {
    this.data.get(dataId).refCount++;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  // ---- info ----
  override memory(): CudaMemoryInfo {
    const m = this.n.memory();
    return {
      unreliable: false,
      numBytesInGPU: m.inUse,
      numBytesInGPUAllocated: m.reserved,
      numBytesInGPUCached: m.cached,
      peakBytesInGPU: m.peakInUse,
    };
  }

  /** Starts a new peak for memory().peakBytesInGPU at the bytes in use now. */
  resetPeakMemory(): void {
    this.n.resetPeakMemory();
  }

  override async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const id = this.n.timerStart();
    f();
    return {kernelMs: this.n.timerEnd({timer: id})};
  }

  override timerAvailable(): boolean {
    return true;
  }

  override floatPrecision(): 16 | 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override dispose(): void {
    this.n.sync();
    this.n.emptyCache();
  }

  // ---- helpers for kernels ----
  /** A new uninitialised tensor on the device; `half`: a float32 tensor in half storage. */
  makeOutput(shape: number[], dtype: DataType, half = false): TensorInfo {
    if (!half) return {dataId: this.write(null, shape, dtype), shape, dtype};
    if (dtype !== 'float32') throw new Error(`'cuda' backend: half storage is for float32 tensors, not ${dtype}`);
    const dataId = {id: nextDataId++};
    const bytes = util.sizeFromShape(shape) * 2;
    this.data.set(dataId, {ptr: bytes > 0 ? this.n.alloc({bytes}) : 0, bytes, dtype, shape, refCount: 1, half: true});
    return {dataId, shape, dtype};
  }

  /** A new tensor holding `values` (host → device copy). */
  makeTensorInfo(shape: number[], dtype: DataType, values: backend_util.BackendValues): TensorInfo {
    return {dataId: this.write(values, shape, dtype), shape, dtype};
  }

  /**
   * The device pointer of a tensor's data in its dtype's own layout (float32 for a half-stored tensor: its cached
   * float32 copy), with every element defined (a lazy delta tensor is zeroed first).
   */
  ptr(t: TensorInfo): Ptr {
    const d = this.data.get(t.dataId);
    if (d.lazy) this.materialise(d);
    return d.half ? this.floatCopy(d) : d.ptr;
  }

  /** Runs `f` with half storage off (kernels that build float32-only results on dense kernels). */
  withFloatStorage<T>(f: () => T): T {
    const previous = this.halfStorage;
    this.halfStorage = false;
    try {
      return f();
    } finally {
      this.halfStorage = previous;
    }
  }

  /** Whether `t` is held in half storage. */
  isHalf(t: TensorInfo): boolean {
    return this.data.get(t.dataId).half === true;
  }

  /** The device pointer of a tensor's data as stored (half for a half-stored tensor): for kernels that read both. */
  storedPtr(t: TensorInfo): Ptr {
    const d = this.data.get(t.dataId);
    if (d.lazy) this.materialise(d);
    return d.ptr;
  }

  /** Bytes an element of `t` takes as stored. */
  storedElementBytes(t: TensorInfo): number {
    return this.isHalf(t) ? 2 : bytesPerElement(t.dtype);
  }

  /**
   * `t`'s data in half storage: its own buffer when half-stored, else a half copy made now and pushed on `temps`
   * (the caller disposes them after its kernels are queued).
   */
  halfPtr(t: TensorInfo, temps: TensorInfo[]): Ptr {
    if (this.isHalf(t)) return this.storedPtr(t);
    const h = this.toHalf(t);
    temps.push(h);
    return this.storedPtr(h);
  }

  /**
   * `t`'s data in float32: its own buffer when float32-stored, else a float32 copy made now and pushed on `temps`
   * (not cached with `t`, unlike `ptr()`'s: for kernels that read half state, which is written in place later).
   */
  floatPtr(t: TensorInfo, temps: TensorInfo[]): Ptr {
    if (!this.isHalf(t)) return this.ptr(t);
    const f = this.storageCopy(t, false);
    temps.push(f);
    return this.ptr(f);
  }

  /** A new half-stored tensor holding `t` rounded to IEEE half (a copy when `t` is half-stored already). */
  toHalf(t: TensorInfo): TensorInfo {
    return this.isHalf(t) ? this.copyOf(t) : this.storageCopy(t, true);
  }

  /** A new float32 tensor in the other storage than `t`'s (half when `half`), converted by one cast, nothing cached. */
  private storageCopy(t: TensorInfo, half: boolean): TensorInfo {
    const out = this.makeOutput(t.shape, 'float32', half);
    const n = util.sizeFromShape(t.shape);
    const [from, to] = half ? [DTypeCode.float32, DTypeCode.float16] : [DTypeCode.float16, DTypeCode.float32];
    try {
      if (n > 0) this.n.cast({x: this.storedPtr(t), srcDtype: from, y: this.storedPtr(out), dstDtype: to, n});
    } catch (e) {
      this.disposeIntermediate(out);
      throw e;
    }
    return out;
  }

  /**
   * A kernel is about to write `t`'s data in place: the copies derived from it (a half tensor's float32 copy) would
   * go stale, so they are freed now and made afresh when next read.
   */
  writtenInPlace(t: TensorInfo): void {
    const d = this.data.get(t.dataId);
    if (!d.derived) return;
    d.derived.forEach((p) => this.n.free({ptr: p}));
    d.derived = undefined;
  }

  private floatCopy(d: CudaData): Ptr {
    const size = util.sizeFromShape(d.shape);
    return this.derivedOf(d, 'float32', size * 4, (dst) =>
      this.n.cast({x: d.ptr, srcDtype: DTypeCode.float16, y: dst, dstDtype: DTypeCode.float32, n: size}),
    );
  }

  /**
   * A new tensor holding a copy of `t`'s data (one device-to-device copy, queued), in the same storage, or in
   * float32 storage with `asFloat` (a half-stored tensor is then converted).
   */
  copyOf(t: TensorInfo, asFloat = false): TensorInfo {
    if (asFloat && this.isHalf(t)) return this.storageCopy(t, false);
    const half = this.isHalf(t);
    const out = this.makeOutput(t.shape, t.dtype, half);
    const bytes = this.data.get(out.dataId).bytes;
    if (bytes > 0) this.n.copy({dst: this.storedPtr(out), src: this.storedPtr(t), bytes});
    return out;
  }

  /** The device pointer as is: for delta kernels, which read a delta input only at its active pixels. */
  rawPtr(t: TensorInfo): Ptr {
    const d = this.data.get(t.dataId);
    return d.half ? this.floatCopy(d) : d.ptr; // a half tensor is never lazy: its float32 copy is complete
  }

  /** Whether a delta kernel writing an output of `shape` leaves its inactive pixels unwritten (lazyZerosAbove). */
  lazyFor(shape: number[]): boolean {
    return this.lazyZeros && util.sizeFromShape(shape) > this.lazyZerosAbove;
  }

  /**
   * Marks `out` (float32, [...pixels, channels]) as written only at the pixels active in `mask` (bool
   * [...pixels], the mask attached to it). The mask buffer is pinned until `out` is materialised or freed.
   */
  markLazy(out: TensorInfo, mask: TensorInfo): void {
    const d = this.data.get(out.dataId);
    if (d.bytes === 0) return;
    if (d.half) throw new Error(`'cuda' backend: a lazily written delta tensor must be float32-stored`);
    const maskPtr = this.rawPtr(mask);
    const channels = out.shape[out.shape.length - 1];
    const pin = this.pins.get(maskPtr);
    if (pin) pin.count++;
    else this.pins.set(maskPtr, {count: 1, orphan: false});
    d.lazy = {maskPtr, pixels: d.bytes / 4 / channels, channels};
  }

  /** Whether `t` is a lazily written delta tensor not yet materialised (tests, statistics). */
  isLazy(t: TensorInfo): boolean {
    return this.data.has(t.dataId) && this.data.get(t.dataId).lazy !== undefined;
  }

  private materialise(d: CudaData): void {
    const l = d.lazy!;
    d.lazy = undefined;
    this.n.zeroInactive({x: d.ptr, mask: l.maskPtr, pixels: l.pixels, channels: l.channels});
    this.unpin(l.maskPtr);
  }

  private unpin(p: Ptr): void {
    const pin = this.pins.get(p);
    if (!pin) return;
    if (--pin.count > 0) return;
    this.pins.delete(p);
    if (pin.orphan) this.n.free({ptr: p});
  }

  /** Disposes a kernel-internal temporary. */
  disposeIntermediate(t: TensorInfo): void {
    this.disposeData(t.dataId);
  }

  /** Runs `fill(out)` and returns `out`; if it throws, `out` is disposed first (no leak on a failing kernel). */
  filling(out: TensorInfo, fill: (out: TensorInfo) => void): TensorInfo {
    try {
      fill(out);
    } catch (e) {
      this.disposeIntermediate(out);
      throw e;
    }
    return out;
  }

  /** A device buffer derived once from a constant tensor (e.g. a transposed filter), cached on its entry. */
  derived(t: TensorInfo, key: string, bytes: number, make: (dst: Ptr) => void): Ptr {
    return this.derivedOf(this.data.get(t.dataId), key, bytes, make);
  }

  private derivedOf(d: CudaData, key: string, bytes: number, make: (dst: Ptr) => void): Ptr {
    if (!d.derived) d.derived = new Map();
    let p = d.derived.get(key);
    if (p === undefined) {
      p = this.n.alloc({bytes});
      make(p);
      d.derived.set(key, p);
    }
    return p;
  }

  dtypeCode(dtype: DataType): number {
    const c = DTypeCode[dtype];
    if (c === undefined) throw new Error(`'cuda' backend: dtype ${dtype} is not supported on the device`);
    return c;
  }
}
