/**
 * Kernel names and attribute types of the tfjs-delta ops: the contract between ops/ and the
 * per-backend kernels in kernels/{cpu,tensorflow,cuda}/.
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
}

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
