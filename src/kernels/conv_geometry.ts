/** Convolution geometry of the delta conv kernels, shared by every backend's kernels. */
import * as tf from '@tensorflow/tfjs-core';
import type {backend_util, NamedAttrMap, TensorInfo} from '@tensorflow/tfjs-core';

import type {DeltaConv2DAttrs} from '../ops/kernel_names';

type Shape4 = [number, number, number, number];

/** tfjs's Conv2DInfo of a DeltaConv2D / DeltaDepthwiseConv2D call. */
export function deltaConv2DInfo(
  x: TensorInfo,
  filter: TensorInfo,
  attrs: NamedAttrMap | undefined,
  depthwise: boolean,
): backend_util.Conv2DInfo {
  const {strides, pad, dilations, dimRoundingMode} = attrs as unknown as DeltaConv2DAttrs;
  return tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
  );
}

/**
 * A pointwise convolution: 1x1, stride 1, unpadded. Each output pixel reads only its own input pixel, so a delta
 * input's mask is the output's, and the conv is one matrix product over the pixels.
 */
export function isPointwise(info: backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return (
    info.filterHeight === 1 &&
    info.filterWidth === 1 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    p.top === 0 &&
    p.bottom === 0 &&
    p.left === 0 &&
    p.right === 0
  );
}

/**
 * The output pixels whose receptive field holds an active in-bounds input pixel, from the input
 * flags ([batch, inHeight, inWidth]): the OR over the filter taps, rows first, then columns.
 */
export function reachOnHost(flags: Uint8Array, info: backend_util.Conv2DInfo): Uint8Array {
  const {batchSize: batch, inHeight: inH, inWidth: inW, outHeight: outH, outWidth: outW} = info;
  const [sy, sx] = [info.strideHeight, info.strideWidth];
  const [dy, dx] = [info.dilationHeight, info.dilationWidth];
  const {top, left} = info.padInfo;
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  // Columns: rowReach[b, iy, ox] = any active input at (iy, ox * sx - left + kx * dx).
  const rowReach = new Uint8Array(batch * inH * outW);
  for (let b = 0; b < batch; b++) {
    for (let iy = 0; iy < inH; iy++) {
      const src = (b * inH + iy) * inW;
      const dst = (b * inH + iy) * outW;
      for (let ox = 0; ox < outW; ox++) {
        const x0 = ox * sx - left;
        for (let kx = 0; kx < kw; kx++) {
          const ix = x0 + kx * dx;
          if (ix >= 0 && ix < inW && flags[src + ix]) {
            rowReach[dst + ox] = 1;
            break;
          }
        }
      }
    }
  }
  const reach = new Uint8Array(batch * outH * outW);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * sy - top;
      const dst = (b * outH + oy) * outW;
      for (let ky = 0; ky < kh; ky++) {
        const iy = y0 + ky * dy;
        if (iy < 0 || iy >= inH) continue;
        const src = (b * inH + iy) * outW;
        for (let ox = 0; ox < outW; ox++) reach[dst + ox] |= rowReach[src + ox];
      }
    }
  }
  return reach;
}
