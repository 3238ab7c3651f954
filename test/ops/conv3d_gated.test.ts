/**
 * conv3dGated against the dense composition tf.conv3d / tf.conv3dTranspose + bias -> mean ->
 * matMul -> sigmoid -> multiply -> activation, over kernel sizes, strides, pads (including
 * PyTorch-style explicit pads), odd sizes and batch > 1; its gradient against tfjs's own conv3d
 * gradient and against central finite differences.
 */
import * as tf from '@tensorflow/tfjs-core';

import {conv3dGated} from '../../src/index';
import type {Activation, Pad3D} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {expectClose, freshSeed, pick, randInt, randn} from '../support/util';

type Triple = [number, number, number];

function act(activation: Activation, t: tf.Tensor, alpha: number): tf.Tensor {
  switch (activation) {
    case 'linear':
      return t;
    case 'relu':
      return tf.relu(t);
    case 'leakyRelu':
      return tf.leakyRelu(t, alpha);
    case 'relu6':
      return tf.relu6(t);
    case 'sigmoid':
      return tf.sigmoid(t);
    case 'tanh':
      return tf.tanh(t);
  }
}

/** TensorFlow's 'same' pads as explicit NDHWC pairs (tfjs-backend-cpu's own 'same' is off by one when k < s). */
function tfSamePads(spatial: number[], k: Triple, strides: Triple): Pad3D {
  const pairs = spatial.map((n, i) => {
    const total = Math.max(0, (Math.ceil(n / strides[i]) - 1) * strides[i] + k[i] - n);
    return [Math.floor(total / 2), total - Math.floor(total / 2)] as [number, number];
  });
  return [[0, 0], pairs[0], pairs[1], pairs[2], [0, 0]];
}

/** The dense composition, with explicit pads done as tf.pad + 'valid' (forward only). */
function denseGated(
  x: tf.Tensor5D,
  filter: tf.Tensor5D,
  bias: tf.Tensor | null,
  wg: tf.Tensor2D,
  bg: tf.Tensor,
  strides: Triple,
  pad: Pad3D,
  activation: Activation,
  alpha: number,
  transposeShape?: [number, number, number, number, number],
): tf.Tensor {
  let y: tf.Tensor5D;
  if (pad === 'same' && transposeShape == null) {
    pad = tfSamePads(x.shape.slice(1, 4), filter.shape.slice(0, 3) as Triple, strides);
  }
  if (transposeShape != null && pad === 'same') {
    // The full ('valid') transposed conv cropped at TF's 'same' front pads, zero-extended at the back.
    const full = [1, 2, 3].map((i) => (x.shape[i] - 1) * strides[i - 1] + filter.shape[i - 1]);
    const whole = tf.conv3dTranspose(
      x,
      filter,
      [x.shape[0], full[0], full[1], full[2], transposeShape[4]],
      strides,
      'valid',
    );
    const pads = tfSamePads(transposeShape.slice(1, 4), filter.shape.slice(0, 3) as Triple, strides) as Array<
      [number, number]
    >;
    const take = [0, 1, 2].map((i) => Math.min(transposeShape[i + 1], full[i] - pads[i + 1][0]));
    const cropped = tf.slice(
      whole,
      [0, pads[1][0], pads[2][0], pads[3][0], 0],
      [x.shape[0], take[0], take[1], take[2], transposeShape[4]],
    );
    y = tf.pad(cropped, [
      [0, 0],
      [0, transposeShape[1] - take[0]],
      [0, transposeShape[2] - take[1]],
      [0, transposeShape[3] - take[2]],
      [0, 0],
    ]) as tf.Tensor5D;
  } else if (transposeShape != null) {
    y = tf.conv3dTranspose(x, filter, transposeShape, strides, pad as 'valid');
  } else if (Array.isArray(pad)) {
    y = tf.conv3d(tf.pad(x, pad) as tf.Tensor5D, filter, strides, 'valid');
  } else if (typeof pad === 'number') {
    y = tf.conv3d(
      tf.pad(x, [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [pad, pad],
        [0, 0],
      ]) as tf.Tensor5D,
      filter,
      strides,
      'valid',
    );
  } else {
    y = tf.conv3d(x, filter, strides, pad);
  }
  const yb = bias == null ? y : tf.add(y, bias);
  const g = tf.sigmoid(tf.add(tf.matMul(tf.mean(yb, [1, 2, 3]) as tf.Tensor2D, wg), bg));
  return act(activation, tf.mul(yb, tf.reshape(g, [yb.shape[0], 1, 1, 1, yb.shape[4] as number])), alpha);
}

describeEachBackend('conv3dGated parity with the dense composition', () => {
  const kernels: Triple[] = [
    [1, 1, 1],
    [3, 3, 3],
    [1, 3, 3],
    [3, 4, 4],
  ];
  const strideSet: Triple[] = [
    [1, 1, 1],
    [1, 2, 2],
    [2, 2, 2],
  ];
  for (const k of kernels) {
    for (const strides of strideSet) {
      const torchPad: Pad3D = [
        [0, 0],
        [k[0] >> 1, k[0] >> 1],
        [k[1] >> 1, k[1] >> 1],
        [k[2] >> 1, k[2] >> 1],
        [0, 0],
      ];
      for (const pad of ['same', 'valid', torchPad] as Pad3D[]) {
        const activation = pick(['linear', 'leakyRelu', 'relu'] as Activation[]);
        const name = `conv k[${k}] s[${strides}] pad ${JSON.stringify(pad)} ${activation}`;
        it(name, () => {
          const seed = freshSeed();
          const [n, d, h, w, cin, cout] = [
            pick([1, 3]),
            randInt(k[0], 5),
            randInt(k[1], 9) | 1,
            randInt(k[2], 9),
            randInt(1, 12),
            randInt(1, 12),
          ];
          const ctx = `${name} x[${n},${d},${h},${w},${cin}] cout ${cout} seed ${seed}`;
          tf.tidy(() => {
            const x = randn([n, d, h, w, cin], seed) as tf.Tensor5D;
            const filter = randn([...k, cin, cout], seed + 1, 0.3) as tf.Tensor5D;
            const bias = randn([cout], seed + 2);
            const wg = randn([cout, cout], seed + 3, 0.5) as tf.Tensor2D;
            const bg = randn([cout], seed + 4);
            const got = conv3dGated({x, filter, bias, gateKernel: wg, gateBias: bg, strides, pad, activation});
            expectClose(got, denseGated(x, filter, bias, wg, bg, strides, pad, activation, 0.2), ctx, 1e-5, 1e-5);
          });
        });
      }
    }
  }

  for (const k of [
    [3, 4, 4],
    [3, 3, 3],
    [1, 2, 2],
  ] as Triple[]) {
    for (const strides of [
      [1, 2, 2],
      [1, 1, 1],
      [2, 2, 2],
    ] as Triple[]) {
      for (const pad of ['same', 'valid'] as const) {
        const name = `transposed k[${k}] s[${strides}] ${pad}`;
        it(name, () => {
          const seed = freshSeed();
          const [n, d, h, w, cin, cout] = [
            pick([1, 3]),
            randInt(1, 4),
            randInt(1, 7) | 1,
            randInt(1, 7),
            randInt(1, 12),
            randInt(1, 12),
          ];
          const size = (i: number, v: number) => (pad === 'same' ? v * strides[i] : (v - 1) * strides[i] + k[i]);
          const outShape: [number, number, number, number, number] = [n, size(0, d), size(1, h), size(2, w), cout];
          const ctx = `${name} x[${n},${d},${h},${w},${cin}] out [${outShape}] seed ${seed}`;
          tf.tidy(() => {
            const x = randn([n, d, h, w, cin], seed) as tf.Tensor5D;
            const filter = randn([...k, cout, cin], seed + 1, 0.3) as tf.Tensor5D;
            const bias = randn([cout], seed + 2);
            const wg = randn([cout, cout], seed + 3, 0.5) as tf.Tensor2D;
            const bg = randn([cout], seed + 4);
            const got = conv3dGated({
              x,
              filter,
              bias,
              gateKernel: wg,
              gateBias: bg,
              strides,
              pad,
              transpose: true,
              outputShape: outShape,
              activation: 'leakyRelu',
            });
            expectClose(
              got,
              denseGated(x, filter, bias, wg, bg, strides, pad, 'leakyRelu', 0.2, outShape),
              ctx,
              1e-5,
              1e-5,
            );
          });
        });
      }
    }
  }

  it('works without a bias (FLAVR 2x encoder)', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = randn([2, 3, 5, 6, 4], seed) as tf.Tensor5D;
      const filter = randn([3, 3, 3, 4, 5], seed + 1) as tf.Tensor5D;
      const wg = randn([5, 5], seed + 2) as tf.Tensor2D;
      const bg = randn([5], seed + 3);
      expectClose(
        conv3dGated({x, filter, gateKernel: wg, gateBias: bg}),
        denseGated(x, filter, null, wg, bg, [1, 1, 1], 'same', 'linear', 0.2),
        `no bias seed ${seed}`,
      );
    });
  });
});

describe('conv3dGated gradient', () => {
  const loss = (weights: tf.Tensor, f: () => tf.Tensor) => tf.sum(tf.mul(f(), weights)) as tf.Scalar;

  for (const activation of ['linear', 'leakyRelu', 'sigmoid'] as Activation[]) {
    for (const pad of [
      'same',
      'valid',
      [
        [0, 0],
        [1, 1],
        [0, 2],
        [2, 1],
        [0, 0],
      ],
    ] as Pad3D[]) {
      it(`matches tf.grads of the dense composition (${activation}, pad ${JSON.stringify(pad)}, stride [1,2,2])`, () => {
        const seed = freshSeed();
        tf.tidy(() => {
          const x = randn([2, 3, 6, 5, 3], seed) as tf.Tensor5D;
          const filter = randn([3, 3, 3, 3, 4], seed + 1, 0.3) as tf.Tensor5D;
          const bias = randn([4], seed + 2);
          const wg = randn([4, 4], seed + 3) as tf.Tensor2D;
          const bg = randn([4], seed + 4);
          const strides: Triple = [1, 2, 2];
          const out = conv3dGated({x, filter, bias, gateKernel: wg, gateBias: bg, strides, pad, activation});
          const weights = randn(out.shape, seed + 5);
          const ours = tf.grads((a, b, c, e, f) =>
            loss(weights, () =>
              conv3dGated({
                x: a as tf.Tensor5D,
                filter: b as tf.Tensor5D,
                bias: c,
                gateKernel: e,
                gateBias: f,
                strides,
                pad,
                activation,
              }),
            ),
          )([x, filter, bias, wg, bg]);
          const theirs = tf.grads((a, b, c, e, f) =>
            loss(weights, () =>
              denseGated(a as tf.Tensor5D, b as tf.Tensor5D, c, e as tf.Tensor2D, f, strides, pad, activation, 0.2),
            ),
          )([x, filter, bias, wg, bg]);
          ['x', 'filter', 'bias', 'gateKernel', 'gateBias'].forEach((name, i) =>
            expectClose(ours[i], theirs[i], `d${name} seed ${seed}`, 1e-4, 1e-5),
          );
        });
      });
    }
  }

  it('matches central finite differences, transposed mode included', () => {
    const seed = freshSeed();
    for (const transpose of [false, true]) {
      tf.tidy(() => {
        const x = randn([2, 2, 3, 3, 2], seed) as tf.Tensor5D;
        const filter = randn(transpose ? [3, 4, 4, 3, 2] : [3, 3, 3, 2, 3], seed + 1, 0.5) as tf.Tensor5D;
        const params = [x, filter, randn([3], seed + 2), randn([3, 3], seed + 3), randn([3], seed + 4)];
        const f = (p: tf.Tensor[]) =>
          conv3dGated({
            x: p[0] as tf.Tensor5D,
            filter: p[1] as tf.Tensor5D,
            bias: p[2],
            gateKernel: p[3],
            gateBias: p[4],
            strides: [1, 2, 2],
            pad: 'same',
            transpose,
            activation: 'tanh',
          });
        const weights = randn(f(params).shape, seed + 5);
        const analytic = tf.grads((...p: tf.Tensor[]) => loss(weights, () => f(p)))(params);
        // Directional derivatives along random directions (a smooth activation: no kinks to step
        // over), in float32 with eps 1e-2: truncation error ~1e-4, rounding ~1e-5.
        // Each direction mixes the analytic gradient with noise, so the derivative along it is
        // large (no float32 cancellation) yet any error in the gradient's elements changes it.
        for (let i = 0; i < params.length; i++) {
          const g = analytic[i];
          const v = tf.add(tf.div(g, tf.max(tf.abs(g))), randn(params[i].shape, seed + 11 + i, 0.5));
          const shifted = (sign: number) => params.map((p, j) => (j === i ? tf.add(p, tf.mul(v, sign * 1e-2)) : p));
          const numeric =
            (loss(weights, () => f(shifted(1))).dataSync()[0] - loss(weights, () => f(shifted(-1))).dataSync()[0]) /
            2e-2;
          const exact = tf.sum(tf.mul(analytic[i], v)).dataSync()[0];
          const bound = 1e-2 * Math.abs(exact) + 1e-3;
          if (!(Math.abs(numeric - exact) <= bound)) {
            throw new Error(`transpose ${transpose} input ${i}: numeric ${numeric} vs analytic ${exact} seed ${seed}`);
          }
        }
      });
    }
  });
});
