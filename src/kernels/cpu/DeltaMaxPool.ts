/** Reference delta max pool: maxPool(A + delta) - maxPool(A) where the window has an active input. */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaMaxPool, DeltaMaxPoolAttrs} from '../../ops/kernel_names';
import {CpuBackend, makeOutput, maskValues, values} from './cpu_util';

export const deltaMaxPoolConfig: KernelConfig = {
  kernelName: DeltaMaxPool,
  backendName: 'cpu',
  kernelFunc: ({inputs, backend: anyBackend, attrs}) => {
    const backend = anyBackend as CpuBackend;
    const {accumulated, delta} = inputs as {accumulated: TensorInfo; delta: TensorInfo};
    const {filterSize, strides, pad, dimRoundingMode} = attrs as unknown as DeltaMaxPoolAttrs;
    const info = tf.backend_util.computePool2DInfo(
      delta.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const {batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW} = info;
    const {top, left} = info.padInfo;
    const a = values(backend, accumulated);
    const d = values(backend, delta);
    const inMask = maskValues(backend, delta);
    const next = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) next[i] = a[i] + d[i];
    const out = new Float32Array(B * OH * OW * C);
    const outMask = new Uint8Array(B * OH * OW);
    const maxNew = new Float64Array(C);
    const maxOld = new Float64Array(C);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const h0 = oh * info.strideHeight - top;
          const w0 = ow * info.strideWidth - left;
          const h1 = Math.min(h0 + info.filterHeight, H);
          const w1 = Math.min(w0 + info.filterWidth, W);
          let active = false;
          maxNew.fill(-Infinity);
          maxOld.fill(-Infinity);
          for (let ih = Math.max(h0, 0); ih < h1; ih++) {
            for (let iw = Math.max(w0, 0); iw < w1; iw++) {
              const pixel = (b * H + ih) * W + iw;
              if (inMask == null || inMask[pixel]) active = true;
              for (let c = 0; c < C; c++) {
                maxNew[c] = Math.max(maxNew[c], next[pixel * C + c]);
                maxOld[c] = Math.max(maxOld[c], a[pixel * C + c]);
              }
            }
          }
          if (!active) continue;
          const p = (b * OH + oh) * OW + ow;
          outMask[p] = 1;
          for (let c = 0; c < C; c++) out[p * C + c] = maxNew[c] - maxOld[c];
        }
      }
    }
    return [makeOutput(backend, [B, OH, OW, C], out, outMask), makeOutput(backend, delta.shape.slice(), next, null)];
  },
};
