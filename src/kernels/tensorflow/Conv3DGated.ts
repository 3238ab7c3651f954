/**
 * conv3dGated from TF ops. TF's Conv3D takes only 'SAME'/'VALID', so the explicit pads the op
 * resolved are applied by zero-padding x (cropping where negative) and convolving 'valid'; the
 * transposed conv is computed 'valid' (x[i] reaches full[i * stride + k]) and cropped at the front
 * pads, out[o] = full[o + padFront], as the reference scatters x[i] to out[i * stride - padFront + k].
 * Then bias, the SE gate sigmoid(mean_{DHW}(y) . Wg + bg) and the activation. Dense output.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {Conv3DGated, Conv3DGatedAttrs} from '../../ops/kernel_names';
import {NodeBackend, TfOps} from './tf_ops';

export const conv3DGatedConfig: KernelConfig = {
  kernelName: Conv3DGated,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {x, filter, bias, gateKernel, gateBias} = inputs as {[k: string]: TensorInfo};
    const {strides, pad, transpose, outputShape, activation, alpha} = attrs as unknown as Conv3DGatedAttrs;
    const ops = new TfOps(backend as NodeBackend);
    return tf.tidy(() => {
      let y: TensorInfo;
      if (!transpose) {
        // Pads may be negative ('same' with kernel < stride, as tfjs resolves it): then a crop.
        const paddedShape = x.shape.map((n, i) => (i === 0 || i === 4 ? n : n + pad[i - 1][0] + pad[i - 1][1]));
        const padded = ops.window(x, [0, -pad[0][0], -pad[1][0], -pad[2][0], 0], paddedShape);
        y = ops.conv3dValid(padded, filter, strides);
      } else {
        const full = ops.transposedConvValid(x, filter, strides);
        y = ops.window(full, [0, pad[0][0], pad[1][0], pad[2][0], 0], outputShape);
      }
      if (bias != null) y = ops.biasAdd(y, bias);
      const [n, c] = [outputShape[0], outputShape[4]];
      const mean = ops.reduce('Mean', y, [1, 2, 3], false);
      const gate = ops.unary('Sigmoid', ops.binary('AddV2', ops.matMul(mean, gateKernel), gateBias));
      const gated = ops.binary('Mul', y, ops.reshape(gate, [n, 1, 1, 1, c]));
      return ops.activation(gated, activation, alpha) as Tensor;
    });
  },
};
