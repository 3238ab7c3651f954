/**
 * Reference delta convolution (regular and depthwise), output-stationary: an output pixel is
 * active iff an in-bounds pixel of its receptive field is active in the input mask; only active
 * outputs are computed, only active inputs are read. Accumulates in float64.
 */
import type {backend_util, KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {deltaConv2DInfo} from '../conv_geometry';
import {CpuBackend, makeOutput, maskValues, values} from './cpu_util';

/** The 'cpu' kernel config of DeltaConv2D or DeltaDepthwiseConv2D (same inputs and attributes). */
export function deltaConvKernel(kernelName: string, depthwise: boolean): KernelConfig {
  return {
    kernelName,
    backendName: 'cpu',
    kernelFunc: ({inputs, backend, attrs}) => {
      const {x, filter, bias} = inputs as {x: TensorInfo; filter: TensorInfo; bias?: TensorInfo};
      return deltaConvGather(
        backend as CpuBackend,
        x,
        filter,
        bias,
        deltaConv2DInfo(x, filter, attrs, depthwise),
        depthwise,
      );
    },
  };
}

export function deltaConvGather(
  backend: CpuBackend,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
  depthwise: boolean,
): TensorInfo {
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: OH,
    outWidth: OW,
    outChannels: CO,
    strideHeight: sh,
    strideWidth: sw,
    dilationHeight: dh,
    dilationWidth: dw,
    filterHeight: KH,
    filterWidth: KW,
  } = info;
  const {top, left} = info.padInfo;
  const xv = values(backend, x);
  const wv = values(backend, filter);
  const inMask = maskValues(backend, x);
  const biasV = bias != null ? values(backend, bias) : null;
  const mult = depthwise ? CO / C : CO; // filter's last dimension
  const out = new Float32Array(B * OH * OW * CO);
  const outMask = new Uint8Array(B * OH * OW);
  const acc = new Float64Array(CO);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        acc.fill(0);
        let active = false;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - top + kh * dh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - left + kw * dw;
            if (iw < 0 || iw >= W) continue;
            const pixel = (b * H + ih) * W + iw;
            if (inMask != null && !inMask[pixel]) continue;
            active = true;
            const xo = pixel * C;
            const wo = (kh * KW + kw) * C * mult;
            for (let ci = 0; ci < C; ci++) {
              const v = xv[xo + ci];
              if (v === 0) continue;
              const row = wo + ci * mult;
              const accBase = depthwise ? ci * mult : 0;
              for (let j = 0; j < mult; j++) acc[accBase + j] += v * wv[row + j];
            }
          }
        }
        const p = (b * OH + oh) * OW + ow;
        outMask[p] = active ? 1 : 0;
        if (active || biasV != null) {
          for (let co = 0; co < CO; co++) out[p * CO + co] = acc[co] + (biasV != null ? biasV[co] : 0);
        }
      }
    }
  }
  // With a bias (the first frame of a stream) every output pixel changes: the result is dense.
  return makeOutput(backend, [B, OH, OW, CO], out, biasV != null ? null : outMask);
}
