/**
 * Gradient of Conv3DGated, written out by hand from tf ops (tfjs cannot nest tf.grads inside a
 * gradient function). With p = y * g (g broadcast over D, H, W) and out = act(p):
 *   dp = dOut * act'(p)
 *   dy = dp * g + (dz . Wg^T) / (D*H*W)        where dz = sum_{DHW}(dp * y) * g * (1 - g)
 *   dWg = mean_{DHW}(y)^T . dz,  dbg = sum_N dz,  dbias = sum_{N,D,H,W} dy
 *   dx, dfilter: the conv3d (or transposed conv3d) input and filter gradients of dy.
 * Explicit pads are handled by padding x (or cropping the full transposed output) and running
 * the convolutions 'valid'.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor5D} from '@tensorflow/tfjs-core';

import {Conv3DGated, Conv3DGatedAttrs} from './kernel_names';

type Shape5 = [number, number, number, number, number];

function paddedShape(x: Tensor, attrs: Conv3DGatedAttrs): Shape5 {
  return x.shape.map((n, i) => (i === 0 || i === 4 ? n : n + attrs.pad[i - 1][0] + attrs.pad[i - 1][1])) as Shape5;
}

/** Spatial size of the 'valid' transposed conv before cropping: (in - 1) * s + k. */
function fullTransposedShape(x: Tensor, filter: Tensor, attrs: Conv3DGatedAttrs): Shape5 {
  const s = attrs.strides;
  return [
    x.shape[0],
    ...[1, 2, 3].map((i) => (x.shape[i] - 1) * s[i - 1] + filter.shape[i - 1]),
    filter.shape[3],
  ] as Shape5;
}

/** Crops (or zero-extends) a full transposed-conv output to outputShape, starting at the front pads. */
function cropFull(full: Tensor5D, attrs: Conv3DGatedAttrs): Tensor5D {
  const out = attrs.outputShape;
  const begin = [0, attrs.pad[0][0], attrs.pad[1][0], attrs.pad[2][0], 0];
  const size = out.map((n, i) => (i === 0 || i === 4 ? n : Math.min(n, full.shape[i] - begin[i])));
  const sliced = tf.slice(full, begin, size);
  return tf.pad(
    sliced,
    out.map((n, i) => [0, n - size[i]] as [number, number]),
  ) as Tensor5D;
}

/** The adjoint of cropFull: places dOut back into a zero tensor of the full shape. */
function uncropFull(dOut: Tensor5D, fullShape: Shape5, attrs: Conv3DGatedAttrs): Tensor5D {
  const begin = [0, attrs.pad[0][0], attrs.pad[1][0], attrs.pad[2][0], 0];
  const size = dOut.shape.map((n, i) => Math.min(n, fullShape[i] - begin[i]));
  const kept = tf.slice(dOut, [0, 0, 0, 0, 0], size);
  return tf.pad(
    kept,
    fullShape.map((n, i) => [begin[i], n - begin[i] - size[i]] as [number, number]),
  ) as Tensor5D;
}

function convPreGate(x: Tensor5D, filter: Tensor5D, attrs: Conv3DGatedAttrs): Tensor5D {
  if (!attrs.transpose) {
    const xp = tf.pad(x, [[0, 0], ...attrs.pad, [0, 0]]);
    return tf.conv3d(xp, filter, attrs.strides, 'valid');
  }
  const full = tf
    .engine()
    .runKernel(
      'Conv3DBackpropInputV2',
      {dy: x, filter},
      {strides: attrs.strides, pad: 'valid', inputShape: fullTransposedShape(x, filter, attrs)},
    ) as Tensor5D;
  return cropFull(full, attrs);
}

function activationDerivative(p: Tensor, attrs: Conv3DGatedAttrs): Tensor {
  switch (attrs.activation) {
    case 'linear':
      return tf.onesLike(p);
    case 'relu':
      return tf.cast(tf.greater(p, 0), 'float32');
    case 'relu6':
      return tf.cast(tf.logicalAnd(tf.greater(p, 0), tf.less(p, 6)), 'float32');
    case 'leakyRelu':
      return tf.where(tf.greater(p, 0), tf.onesLike(p), tf.fill(p.shape, attrs.alpha));
    case 'sigmoid': {
      const s = tf.sigmoid(p);
      return tf.mul(s, tf.sub(1, s));
    }
    case 'tanh': {
      const t = tf.tanh(p);
      return tf.sub(1, tf.square(t));
    }
    default:
      throw new Error(`conv3dGated: gradient of activation '${attrs.activation}' is not implemented`);
  }
}

export function registerConv3DGatedGradient(): void {
  tf.registerGradient({
    kernelName: Conv3DGated,
    inputsToSave: ['x', 'filter', 'bias', 'gateKernel', 'gateBias'],
    gradFunc: (dOut: Tensor | Tensor[], saved: Tensor[], rawAttrs): {[name: string]: () => Tensor} => {
      const attrs = rawAttrs as unknown as Conv3DGatedAttrs;
      const [x, filter, bias, gateKernel, gateBias] = saved as Tensor5D[];
      const dy5 = (Array.isArray(dOut) ? dOut[0] : dOut) as Tensor5D;
      const grads = tf.tidy(() => {
        let y = convPreGate(x, filter, attrs);
        if (bias != null) y = tf.add(y, bias);
        const [n, c] = [y.shape[0], y.shape[4]];
        const voxels = y.shape[1] * y.shape[2] * y.shape[3];
        const m = tf.mean(y, [1, 2, 3]); // [N, C]
        const g = tf.sigmoid(tf.add(tf.matMul(m, gateKernel as Tensor as tf.Tensor2D), gateBias));
        const gb = tf.reshape(g, [n, 1, 1, 1, c]);
        const p = tf.mul(y, gb);
        const dp = tf.mul(dy5, activationDerivative(p, attrs));
        const dz = tf.mul(tf.sum(tf.mul(dp, y), [1, 2, 3]), tf.mul(g, tf.sub(1, g))); // [N, C]
        const dGateKernel = tf.matMul(m, dz, true, false);
        const dGateBias = tf.sum(dz, 0);
        const dm = tf.matMul(dz, gateKernel as Tensor as tf.Tensor2D, false, true);
        const dy = tf.add(tf.mul(dp, gb), tf.reshape(tf.div(dm, voxels), [n, 1, 1, 1, c])) as Tensor5D;
        const dBias = tf.sum(dy, [0, 1, 2, 3]);
        let dx: Tensor, dFilter: Tensor;
        if (!attrs.transpose) {
          const xp = tf.pad(x, [[0, 0], ...attrs.pad, [0, 0]]);
          const dxp = tf
            .engine()
            .runKernel(
              'Conv3DBackpropInputV2',
              {dy, filter},
              {strides: attrs.strides, pad: 'valid', inputShape: paddedShape(x, attrs)},
            ) as Tensor;
          dx = tf.slice(dxp, [0, attrs.pad[0][0], attrs.pad[1][0], attrs.pad[2][0], 0], x.shape);
          dFilter = tf
            .engine()
            .runKernel(
              'Conv3DBackpropFilterV2',
              {x: xp, dy},
              {strides: attrs.strides, pad: 'valid', filterShape: filter.shape},
            ) as Tensor;
        } else {
          const dFull = uncropFull(dy, fullTransposedShape(x, filter, attrs), attrs);
          dx = tf.conv3d(dFull, filter, attrs.strides, 'valid');
          dFilter = tf
            .engine()
            .runKernel(
              'Conv3DBackpropFilterV2',
              {x: dFull, dy: x},
              {strides: attrs.strides, pad: 'valid', filterShape: filter.shape},
            ) as Tensor;
        }
        return {dx, dFilter, dBias, dGateKernel, dGateBias};
      });
      const result: {[name: string]: () => Tensor} = {
        x: () => grads.dx,
        filter: () => grads.dFilter,
        gateKernel: () => grads.dGateKernel,
        gateBias: () => grads.dGateBias,
      };
      if (bias != null) result.bias = () => grads.dBias;
      return result;
    },
  });
}
