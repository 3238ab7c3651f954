/**
 * Reference delta transposed convolution, input-stationary: every active input pixel scatters
 * into the outputs it reaches (oh = ih * stride - padTop + kh), marking them active.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaConv2DTranspose, DeltaConv2DTransposeAttrs} from '../../ops/kernel_names';
import {CpuBackend, makeOutput, maskValues, values} from './cpu_util';

export const deltaConv2DTransposeConfig: KernelConfig = {
  kernelName: DeltaConv2DTranspose,
  backendName: 'cpu',
  kernelFunc: ({inputs, backend: anyBackend, attrs}) => {
    const backend = anyBackend as CpuBackend;
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
    const [B, XH, XW, XC] = x.shape;
    const [, OH, OW, OC] = outputShape;
    const [KH, KW] = filter.shape;
    const {top, left} = info.padInfo;
    const xv = values(backend, x);
    const w = values(backend, filter);
    // [KH, KW, OC, XC] -> [KH, KW, XC, OC] so the innermost loop runs over output channels.
    const wt = new Float32Array(w.length);
    for (let k = 0; k < KH * KW; k++) {
      for (let co = 0; co < OC; co++) {
        for (let cx = 0; cx < XC; cx++) wt[(k * XC + cx) * OC + co] = w[(k * OC + co) * XC + cx];
      }
    }
    const inMask = maskValues(backend, x);
    const acc = new Float64Array(B * OH * OW * OC);
    const outMask = new Uint8Array(B * OH * OW);
    for (let b = 0; b < B; b++) {
      for (let ih = 0; ih < XH; ih++) {
        for (let iw = 0; iw < XW; iw++) {
          const pixel = (b * XH + ih) * XW + iw;
          if (inMask != null && !inMask[pixel]) continue;
          for (let kh = 0; kh < KH; kh++) {
            const oh = ih * info.strideHeight - top + kh;
            if (oh < 0 || oh >= OH) continue;
            for (let kw = 0; kw < KW; kw++) {
              const ow = iw * info.strideWidth - left + kw;
              if (ow < 0 || ow >= OW) continue;
              const p = (b * OH + oh) * OW + ow;
              outMask[p] = 1;
              for (let cx = 0; cx < XC; cx++) {
                const v = xv[pixel * XC + cx];
                if (v === 0) continue;
                const row = ((kh * KW + kw) * XC + cx) * OC;
                for (let co = 0; co < OC; co++) acc[p * OC + co] += v * wt[row + co];
              }
            }
          }
        }
      }
    }
    if (bias != null) {
      const bv = values(backend, bias);
      for (let i = 0; i < acc.length; i++) acc[i] += bv[i % OC];
    }
    return makeOutput(backend, outputShape.slice(), acc, bias != null ? null : outMask);
  },
};
