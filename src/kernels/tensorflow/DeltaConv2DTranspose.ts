/**
 * Delta transposed convolution from TF ops: the 'valid' transposed convolution (every input pixel
 * reaches out[ih * stride + kh]) cropped at the forward pads, so out[oh] = full[oh + padTop] as in
 * the reference scatter; an output pixel is active when an active input pixel reaches it (the
 * mask pushed through the same transposed convolution with a ones filter, > 0).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaConv2DTranspose, DeltaConv2DTransposeAttrs} from '../../ops/kernel_names';
import {NodeBackend, TfOps} from './tf_ops';

export const deltaConv2DTransposeConfig: KernelConfig = {
  kernelName: DeltaConv2DTranspose,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {x, filter, bias} = inputs as {x: TensorInfo; filter: TensorInfo; bias?: TensorInfo};
    const {outputShape, strides, pad, dimRoundingMode} = attrs as unknown as DeltaConv2DTransposeAttrs;
    // The geometry of the forward convolution that maps outputShape onto x.
    const info = tf.backend_util.computeConv2DInfo(
      outputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const [B, XH, XW] = x.shape;
    const [KH, KW] = filter.shape;
    const s: [number, number] = [info.strideHeight, info.strideWidth];
    const begin = [0, info.padInfo.top, info.padInfo.left, 0];
    const ops = new TfOps(backend as NodeBackend);
    return tf.tidy(() => {
      const full = ops.transposedConvValid(x, filter, s);
      const y = ops.window(full, begin, outputShape);
      if (bias != null) return ops.biasAdd(y, bias);
      // Reach of the active pixels as a max pool, cheaper than a one-channel transposed conv: the mask with
      // (stride - 1) zeros between pixels, then a KHxKW max over each full-output window (pads KH-1 / KW-1: every
      // window holds an in-bounds cell).
      const mask = ops.floatMask(x);
      const spread =
        s[0] === 1 && s[1] === 1
          ? mask
          : ops.slice(
              ops.reshape(
                ops.pad(ops.reshape(mask, [B, XH, 1, XW, 1]), [
                  [0, 0],
                  [0, 0],
                  [0, s[0] - 1],
                  [0, 0],
                  [0, s[1] - 1],
                ]),
                [B, XH * s[0], XW * s[1], 1],
              ),
              [0, 0, 0, 0],
              [B, (XH - 1) * s[0] + 1, (XW - 1) * s[1] + 1, 1],
            );
      const fullReach = ops.maxPool(
        spread,
        [KH, KW],
        [1, 1],
        [
          [KH - 1, KH - 1],
          [KW - 1, KW - 1],
        ],
      );
      const reach = ops.window(fullReach, begin, [...outputShape.slice(0, 3), 1]);
      return ops.masked(y, ops.binary('Greater', reach, ops.scalar(0)));
    });
  },
};
