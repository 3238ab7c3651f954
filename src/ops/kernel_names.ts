/**
 * Kernel names and attribute types of the tfjs-delta ops: the contract between ops/ and the
 * per-backend kernels in kernels/{cpu,tensorflow,composite}/ and backends/cuda/; DELTA_KERNELS is the
 * one table of the delta ops (kernel, op, dense twin) that their refusal of gradients and the tests use.
 *
 * Mask convention (src/ops/mask.ts): the `delta`/`x` inputs of delta kernels may carry a per-pixel
 * mask; delta outputs carry the propagated mask. State inputs and outputs (accumulated, residual)
 * are dense.
 */
import type {Activation, DimRoundingMode, PadSpec2D} from './validation';

/** Inputs {x, filter, bias?}. Output: the delta conv; mask = OR over each output's receptive field. */
export const DeltaConv2D = 'DeltaConv2D';
export interface DeltaConv2DAttrs {
  strides: [number, number];
  pad: PadSpec2D;
  dilations: [number, number];
  dimRoundingMode?: DimRoundingMode;
}

/** Inputs {x, filter, bias?}; filter [kh, kw, inChannels, channelMultiplier]. */
export const DeltaDepthwiseConv2D = 'DeltaDepthwiseConv2D';
export type DeltaDepthwiseConv2DAttrs = DeltaConv2DAttrs;

/** Inputs {x, filter, bias?}; filter [kh, kw, outChannels, inChannels] as in tf.conv2dTranspose. */
export const DeltaConv2DTranspose = 'DeltaConv2DTranspose';
export interface DeltaConv2DTransposeAttrs {
  outputShape: [number, number, number, number];
  strides: [number, number];
  pad: PadSpec2D;
  dimRoundingMode?: DimRoundingMode;
}

/**
 * Inputs {frame, sent}; outputs [delta, sent]. DeltaCNN's input sparsify: d = frame - sent; a pixel moved iff
 * max_c |d| > threshold; it is sent iff some pixel of the (dilation x dilation) window centred on it moved (the
 * window clipped at the image; dilation 1: the pixel itself). Sent pixels emit d and sent += d; the others emit
 * zeros and keep sent.
 */
export const DeltaSparsify = 'DeltaSparsify';
export interface DeltaSparsifyAttrs {
  threshold: number;
  dilation: number;
  /** The kernel may write the new state into `sent` and return it (see the op). */
  inPlace?: boolean;
}

/**
 * Inputs {accumulated, residual, delta}; outputs [delta, accumulated, residual].
 * For pixels active in delta's mask: s = residual + delta; out = f(accumulated + s) - f(accumulated);
 * the pixel is flushed iff max_c |out| > threshold: then it emits out, accumulated += s,
 * residual = 0; otherwise it emits zeros and residual = s. Inactive pixels keep their state.
 */
export const SparseAccumulate = 'SparseAccumulate';
export interface SparseAccumulateAttrs {
  threshold: number;
  activation: Activation;
  alpha: number;
  /** The kernel may write the new state into `accumulated` and `residual` and return them (see the op). */
  inPlace?: boolean;
  /** 'fp16': the state is rounded to IEEE half where it is read and written (see the op); default 'fp32'. */
  statePrecision?: StatePrecision;
}

/** How delta state is stored: float32, or IEEE half (half the bytes; 'cuda' keeps it in half storage). */
export type StatePrecision = 'fp32' | 'fp16';

/**
 * Inputs {x, filter, accumulated, residual}; outputs [delta, accumulated, residual]: DeltaDepthwiseConv2D (no bias)
 * of x, then SparseAccumulate of that delta with the given state, as one kernel. Backends without a fused
 * implementation run the two kernels.
 */
export const FusedDeltaDepthwiseConv2D = 'FusedDeltaDepthwiseConv2D';
export type FusedDeltaDepthwiseConv2DAttrs = DeltaConv2DAttrs & SparseAccumulateAttrs;

/** As FusedDeltaDepthwiseConv2D, for DeltaConv2D: inputs {x, filter, accumulated, residual}. */
export const FusedDeltaConv2D = 'FusedDeltaConv2D';
export type FusedDeltaConv2DAttrs = DeltaConv2DAttrs & SparseAccumulateAttrs;

/**
 * Inputs {accumulated, delta}; outputs [delta, accumulated].
 * out = maxPool(accumulated + delta) - maxPool(accumulated) where the window holds an active
 * input pixel (exact zero elsewhere); accumulated += delta.
 */
export const DeltaMaxPool = 'DeltaMaxPool';
export interface DeltaMaxPoolAttrs {
  filterSize: [number, number];
  strides: [number, number];
  pad: PadSpec2D;
  dimRoundingMode?: DimRoundingMode;
}

/**
 * Inputs {x, filter, bias, gateKernel, gateBias}; output act(y * sigmoid(mean_{DHW}(y) . Wg + bg))
 * with y = conv3d(x, filter) + bias (or the transposed conv3d).
 * pad is explicit [[front, back], [top, bottom], [left, right]] (resolved by the op).
 */
export const Conv3DGated = 'Conv3DGated';
export interface Conv3DGatedAttrs {
  strides: [number, number, number];
  pad: [[number, number], [number, number], [number, number]];
  transpose: boolean;
  /** NDHWC output shape; for the plain conv this is what the op computed. */
  outputShape: [number, number, number, number, number];
  activation: Activation;
  alpha: number;
}

/*
 * The companion delta ops: the linear layers a delta model needs
 * besides convolutions, activations and max pooling. Their values are exactly a standard tfjs op
 * applied to the delta (the op is linear and, where it has an offset, the offset is passed only
 * on a stream's first frame); what they add is the propagated per-pixel mask (src/ops/mask.ts).
 *
 * Mask rule for all of them: an output pixel is active iff some active input pixel contributes to
 * it. Outputs are dense (no mask) when every contributing input is dense, or when an offset/bias
 * is added (it reaches every pixel).
 */

/** Inputs {a, b} of one shape. Output a + b; mask = union (dense if either is dense). */
export const DeltaAdd = 'DeltaAdd';

/** Inputs: the tensors in order (an array, as tf.concat passes them). Output tf.concat(xs, axis). */
export const DeltaConcat = 'DeltaConcat';
export interface DeltaConcatAttrs {
  /** Non-negative. The channel axis (rank - 1): mask = union; any other axis: masks concatenated. */
  axis: number;
}

/** Inputs {x, scale, offset?}; scale and offset [C]. Output x * scale (+ offset: dense). */
export const DeltaScaleShift = 'DeltaScaleShift';

/** Inputs {x, kernel, bias?}; x [..., Cin], kernel [Cin, Cout]. Output x . kernel (+ bias: dense). */
export const DeltaDense = 'DeltaDense';

/** Inputs {x} NHWC. Output resized by integer factors; nearest replicates the mask. */
export const DeltaUpSampling2D = 'DeltaUpSampling2D';
export interface DeltaUpSampling2DAttrs {
  size: [number, number];
  interpolation: 'nearest' | 'bilinear';
}

/** Inputs {x} NHWC. Output zero-padded in H and W; the padding is inactive. */
export const DeltaPad2D = 'DeltaPad2D';
export interface DeltaPad2DAttrs {
  /** [[top, bottom], [left, right]]. */
  padding: [[number, number], [number, number]];
}

/** Inputs {x} NHWC. Output tf.avgPool; mask = OR over each window. */
export const DeltaAvgPool = 'DeltaAvgPool';
export interface DeltaAvgPoolAttrs {
  filterSize: [number, number];
  strides: [number, number];
  pad: PadSpec2D;
  dimRoundingMode?: DimRoundingMode;
}

/** Inputs {x} NHWC. Output [B, C], the mean over H and W; mask [B] = any pixel of the row. */
export const DeltaGlobalAvgPool = 'DeltaGlobalAvgPool';

/**
 * Inputs {x}. Output tf.reshape(x, shape) in its own buffer; an output pixel (a run of the last
 * output dimension) is active iff any of its elements came from an active input pixel.
 */
export const DeltaReshape = 'DeltaReshape';
export interface DeltaReshapeAttrs {
  shape: number[];
}

/**
 * Inputs {x} float32. Output: x rounded to IEEE half (round to nearest even), the values half-precision delta
 * state holds; on 'cuda' the output is kept in half storage (2 bytes an element), elsewhere as float32.
 */
export const StoreHalf = 'StoreHalf';

/**
 * Every delta op: its kernel, its name in the API, and the dense tfjs op it stands in for (what to train with, since
 * delta ops have no gradient). Conv3DGated is not a delta op: it is differentiable.
 */
export const DELTA_KERNELS: ReadonlyArray<readonly [kernel: string, op: string, dense: string]> = [
  [DeltaConv2D, 'deltaConv2d', 'tf.conv2d'],
  [DeltaDepthwiseConv2D, 'deltaDepthwiseConv2d', 'tf.depthwiseConv2d'],
  [DeltaConv2DTranspose, 'deltaConv2dTranspose', 'tf.conv2dTranspose'],
  [SparseAccumulate, 'sparseAccumulate', 'the dense activation'],
  [DeltaSparsify, 'deltaSparsify', 'tf.sub'],
  [FusedDeltaConv2D, 'fusedDeltaConv2d', 'tf.fused.conv2d'],
  [FusedDeltaDepthwiseConv2D, 'fusedDeltaDepthwiseConv2d', 'tf.fused.depthwiseConv2d'],
  [DeltaMaxPool, 'deltaMaxPool', 'tf.maxPool'],
  [DeltaAdd, 'deltaAdd', 'tf.add'],
  [DeltaConcat, 'deltaConcat', 'tf.concat'],
  [DeltaScaleShift, 'deltaScaleShift', 'tf.mul and tf.add'],
  [DeltaDense, 'deltaDense', 'tf.matMul'],
  [DeltaUpSampling2D, 'deltaUpSampling2d', 'tf.image.resizeNearestNeighbor'],
  [DeltaPad2D, 'deltaPad2d', 'tf.pad'],
  [DeltaAvgPool, 'deltaAvgPool', 'tf.avgPool'],
  [DeltaGlobalAvgPool, 'deltaGlobalAvgPool', 'tf.mean'],
  [DeltaReshape, 'deltaReshape', 'tf.reshape'],
];
/**
 * Inputs {packed}: int32 [ceil(n / 4)] holding n bytes (little-endian, byte i of the frame data at byte i of the
 * buffer). Output float32 of `shape` (n elements): byte i x scale.
 */
export const FramesFromBytes = 'FramesFromBytes';
export interface FramesFromBytesAttrs {
  shape: number[];
  scale: number;
}

/**
 * Inputs {x}: float32 with n elements. Output int32 [ceil(n / 4)] packing n bytes: clamp(round(x_i x scale), 0, 255)
 * at byte i (rounding half away from zero; NaN gives 0); the bytes past n are 0.
 */
export const FramesToBytes = 'FramesToBytes';
export interface FramesToBytesAttrs {
  scale: number;
}
