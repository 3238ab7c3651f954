/**
 * Dense tfjs compositions the parity suites compare against, written so every backend can run
 * them: tfjs-node's Conv2D accepts only 'same'/'valid'/explicit pads, so a numeric pad (with its
 * dimRoundingMode) becomes explicit padding plus a crop to the size tfjs defines for it.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Pad2D =
  'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** tf.conv2d / tf.depthwiseConv2d with any pad on any backend. */
export function denseConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number,
  pad: Pad2D,
  dilation = 1,
  rounding?: Rounding,
  depthwise = false,
): tf.Tensor4D {
  const conv = (input: tf.Tensor4D, p: Exclude<Pad2D, number>) =>
    depthwise
      ? tf.depthwiseConv2d(input, filter, strides, p, 'NHWC', dilation)
      : tf.conv2d(input, filter, strides, p, 'NHWC', dilation);
  if (typeof pad !== 'number') return conv(x, pad);
  return tf.tidy(() => {
    const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, strides, dilation, pad, rounding, depthwise);
    const reach = (out: number, n: number, k: number) =>
      Math.max(pad, (out - 1) * strides + (k - 1) * dilation + 1 - n - pad);
    const padded = tf.pad(x, [
      [0, 0],
      [pad, reach(info.outHeight, x.shape[1], filter.shape[0])],
      [pad, reach(info.outWidth, x.shape[2], filter.shape[1])],
      [0, 0],
    ]);
    const full = conv(padded as tf.Tensor4D, 'valid');
    return tf.slice(full, [0, 0, 0, 0], [full.shape[0], info.outHeight, info.outWidth, full.shape[3]]);
  });
}

/** tf.conv2dTranspose with any pad on any backend: the full ('valid') result cropped by the pad. */
export function denseConv2dTranspose(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  outputShape: [number, number, number, number],
  strides: number,
  pad: Pad2D,
): tf.Tensor4D {
  if (typeof pad !== 'number') return tf.conv2dTranspose(x, filter, outputShape, strides, pad);
  return tf.tidy(() => {
    const full = (n: number, k: number) => (n - 1) * strides + k;
    const [fh, fw] = [full(x.shape[1], filter.shape[0]), full(x.shape[2], filter.shape[1])];
    const whole = tf.conv2dTranspose(x, filter, [outputShape[0], fh, fw, outputShape[3]], strides, 'valid');
    return tf.slice(whole, [0, pad, pad, 0], outputShape);
  });
}
