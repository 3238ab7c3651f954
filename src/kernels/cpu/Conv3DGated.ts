/**
 * Reference conv3dGated: direct 3D convolution (output-stationary) or transposed convolution
 * (input-stationary scatter), then the SE gate and the activation, all accumulated in float64.
 */
import type {KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {Conv3DGated, Conv3DGatedAttrs} from '../../ops/kernel_names';
import {scalarActivation} from '../activations';
import {CpuBackend, makeOutput, values} from './cpu_util';

type Dims3 = [number, number, number];

function conv3d(
  xv: Float32Array,
  xShape: number[],
  w: Float32Array,
  k: Dims3,
  outShape: number[],
  strides: Dims3,
  pad: Conv3DGatedAttrs['pad'],
): Float64Array {
  const [N, D, H, W, C] = xShape;
  const [, OD, OH, OW, CO] = outShape;
  const y = new Float64Array(N * OD * OH * OW * CO);
  for (let n = 0; n < N; n++) {
    for (let od = 0; od < OD; od++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const o = (((n * OD + od) * OH + oh) * OW + ow) * CO;
          for (let kd = 0; kd < k[0]; kd++) {
            const id = od * strides[0] - pad[0][0] + kd;
            if (id < 0 || id >= D) continue;
            for (let kh = 0; kh < k[1]; kh++) {
              const ih = oh * strides[1] - pad[1][0] + kh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < k[2]; kw++) {
                const iw = ow * strides[2] - pad[2][0] + kw;
                if (iw < 0 || iw >= W) continue;
                const xo = (((n * D + id) * H + ih) * W + iw) * C;
                const wo = ((kd * k[1] + kh) * k[2] + kw) * C * CO;
                for (let ci = 0; ci < C; ci++) {
                  const v = xv[xo + ci];
                  if (v === 0) continue;
                  const row = wo + ci * CO;
                  for (let co = 0; co < CO; co++) y[o + co] += v * w[row + co];
                }
              }
            }
          }
        }
      }
    }
  }
  return y;
}

/** tf.conv3dTranspose semantics: x[i] reaches out[i * stride - padFront + k]. */
function conv3dTranspose(
  xv: Float32Array,
  xShape: number[],
  w: Float32Array,
  k: Dims3,
  outShape: number[],
  strides: Dims3,
  pad: Conv3DGatedAttrs['pad'],
): Float64Array {
  const [N, D, H, W, C] = xShape;
  const [, OD, OH, OW, CO] = outShape;
  const taps = k[0] * k[1] * k[2];
  // [k, CO, C] -> [k, C, CO] so the innermost loop runs over output channels.
  const wt = new Float32Array(w.length);
  for (let t = 0; t < taps; t++) {
    for (let co = 0; co < CO; co++)
      for (let ci = 0; ci < C; ci++) wt[(t * C + ci) * CO + co] = w[(t * CO + co) * C + ci];
  }
  const y = new Float64Array(N * OD * OH * OW * CO);
  for (let n = 0; n < N; n++) {
    for (let id = 0; id < D; id++) {
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          const xo = (((n * D + id) * H + ih) * W + iw) * C;
          for (let kd = 0; kd < k[0]; kd++) {
            const od = id * strides[0] - pad[0][0] + kd;
            if (od < 0 || od >= OD) continue;
            for (let kh = 0; kh < k[1]; kh++) {
              const oh = ih * strides[1] - pad[1][0] + kh;
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < k[2]; kw++) {
                const ow = iw * strides[2] - pad[2][0] + kw;
                if (ow < 0 || ow >= OW) continue;
                const o = (((n * OD + od) * OH + oh) * OW + ow) * CO;
                const wo = ((kd * k[1] + kh) * k[2] + kw) * C * CO;
                for (let ci = 0; ci < C; ci++) {
                  const v = xv[xo + ci];
                  if (v === 0) continue;
                  const row = wo + ci * CO;
                  for (let co = 0; co < CO; co++) y[o + co] += v * wt[row + co];
                }
              }
            }
          }
        }
      }
    }
  }
  return y;
}

export const conv3DGatedConfig: KernelConfig = {
  kernelName: Conv3DGated,
  backendName: 'cpu',
  kernelFunc: ({inputs, backend: anyBackend, attrs}) => {
    const backend = anyBackend as CpuBackend;
    const {x, filter, bias, gateKernel, gateBias} = inputs as {[k: string]: TensorInfo};
    const {strides, pad, transpose, outputShape, activation, alpha} = attrs as unknown as Conv3DGatedAttrs;
    const k = filter.shape.slice(0, 3) as Dims3;
    const conv = transpose ? conv3dTranspose : conv3d;
    const y = conv(values(backend, x), x.shape, values(backend, filter), k, outputShape, strides, pad);
    const [N, OD, OH, OW, CO] = outputShape;
    const voxels = OD * OH * OW;
    if (bias != null) {
      const bv = values(backend, bias);
      for (let i = 0; i < y.length; i++) y[i] += bv[i % CO];
    }
    const wg = values(backend, gateKernel);
    const bg = values(backend, gateBias);
    const f = scalarActivation(activation, alpha);
    const out = new Float32Array(y.length);
    const mean = new Float64Array(CO);
    const gate = new Float64Array(CO);
    for (let n = 0; n < N; n++) {
      const base = n * voxels * CO;
      mean.fill(0);
      for (let v = 0; v < voxels; v++) for (let c = 0; c < CO; c++) mean[c] += y[base + v * CO + c];
      for (let c = 0; c < CO; c++) mean[c] /= voxels;
      for (let co = 0; co < CO; co++) {
        let z = bg[co];
        for (let ci = 0; ci < CO; ci++) z += mean[ci] * wg[ci * CO + co];
        gate[co] = 1 / (1 + Math.exp(-z));
      }
      for (let v = 0; v < voxels; v++) {
        for (let c = 0; c < CO; c++) out[base + v * CO + c] = f(y[base + v * CO + c] * gate[c]);
      }
    }
    return makeOutput(backend, outputShape.slice(), out, null);
  },
};
