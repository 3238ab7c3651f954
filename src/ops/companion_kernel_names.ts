/**
 * Kernel names and attributes of the companion delta ops: the linear layers a delta model needs
 * besides convolutions, activations and max pooling. Their values are exactly a standard tfjs op
 * applied to the delta (the op is linear and, where it has an offset, the offset is passed only
 * on a stream's first frame); what they add is the propagated per-pixel mask (src/ops/mask.ts).
 *
 * Mask rule for all of them: an output pixel is active iff some active input pixel contributes to
 * it. Outputs are dense (no mask) when every contributing input is dense, or when an offset/bias
 * is added (it reaches every pixel).
 */
import type {DimRoundingMode, PadSpec2D} from './validation';

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
  interpolation: 'nearest'|'bilinear';
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

export const COMPANION_KERNELS: Array<[kernel: string, op: string, dense: string]> = [
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
