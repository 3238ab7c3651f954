/**
 * deltaConv2d, deltaDepthwiseConv2d and deltaConv2dTranspose against tf.conv2d,
 * tf.depthwiseConv2d and tf.conv2dTranspose on fresh random inputs over a grid of kernel sizes,
 * strides, pads, dilations, odd sizes, channel counts and batch sizes; dense and sparse inputs.
 * The expected output mask is computed independently: the input mask convolved with a ones
 * filter of the same geometry, > 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {deltaConv2d, deltaConv2dTranspose, deltaDepthwiseConv2d, isDense} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {denseConv2d, denseConv2dTranspose, expectedConvMask, inputMaskFloat, Pad2D} from '../support/dense_reference';
import {
  expectClose,
  expectMask,
  expectZerosWhereInactive,
  freshSeed,
  pick,
  randInt,
  randn,
  randomDelta,
} from '../support/util';

type Pad = Pad2D;

function padsFor(k: number): Pad[] {
  const p = Math.floor(k / 2);
  return [
    'same',
    'valid',
    p,
    [
      [0, 0],
      [randInt(0, p + 1), randInt(0, p)],
      [randInt(0, p), randInt(0, p + 1)],
      [0, 0],
    ],
  ];
}

/**
 * The output pixels of a transposed conv that an active input pixel reaches (out = in * stride + k - pad), by
 * enumeration: no convolution of the backend under test decides what its own mask should be.
 */
function expectedTransposeMask(
  x: tf.Tensor,
  k: number,
  strides: number,
  outShape: [number, number, number, number],
  pad: Pad,
): tf.Tensor {
  const [b, h, w, cin] = x.shape;
  const {padInfo} = tf.backend_util.computeConv2DInfo(outShape, [k, k, outShape[3], cin], strides, 1, pad as 'same');
  const flags = inputMaskFloat(x).dataSync();
  const out = tf.buffer([b, outShape[1], outShape[2]], 'bool');
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        if (flags[(n * h + i) * w + j] === 0) continue;
        for (let kh = 0; kh < k; kh++) {
          for (let kw = 0; kw < k; kw++) {
            const [oh, ow] = [i * strides + kh - padInfo.top, j * strides + kw - padInfo.left];
            if (oh >= 0 && oh < outShape[1] && ow >= 0 && ow < outShape[2]) out.set(true, n, oh, ow);
          }
        }
      }
    }
  }
  return out.toTensor();
}

describeEachBackend('deltaConv2d parity with tf.conv2d', () => {
  for (const k of [1, 3, 5, 7]) {
    for (const strides of [1, 2]) {
      for (const dilation of strides === 1 ? [1, 2] : [1]) {
        for (const pad of padsFor(k)) {
          for (const fraction of [1, 0.2]) {
            const name = `k${k} s${strides} d${dilation} pad ${JSON.stringify(pad)} ${fraction === 1 ? 'dense' : 'sparse'} input`;
            it(name, () => {
              const seed = freshSeed();
              const eff = (k - 1) * dilation + 1;
              const b = pick([1, 3]);
              const h = randInt(eff, eff + 12) | 1;
              const w = randInt(eff, eff + 12) | 1;
              const cin = randInt(1, 67);
              const cout = randInt(1, 67);
              const ctx = `${name} x[${b},${h},${w},${cin}] cout ${cout} seed ${seed}`;
              tf.tidy(() => {
                const x = fraction === 1 ? randn([b, h, w, cin], seed) : randomDelta([b, h, w, cin], fraction, seed);
                const filter = randn([k, k, cin, cout], seed + 7, 0.3) as tf.Tensor4D;
                const got = deltaConv2d(x as tf.Tensor4D, filter, strides, pad, 'NHWC', dilation);
                const want = denseConv2d(x as tf.Tensor4D, filter, strides, pad, dilation);
                expectClose(got, want, ctx, 1e-5, 1e-5);
                expectMask(got, expectedConvMask(x, k, strides, pad, dilation), ctx);
                expectZerosWhereInactive(got, ctx);
              });
            });
          }
        }
      }
    }
  }

  it('adds the bias everywhere and returns a dense tensor (first frame of a stream)', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = randomDelta([3, 9, 7, 5], 0.3, seed);
      const filter = randn([3, 3, 5, 4], seed + 1) as tf.Tensor4D;
      const bias = randn([4], seed + 2) as tf.Tensor1D;
      const got = deltaConv2d(x as tf.Tensor4D, filter, 1, 'same', 'NHWC', 1, undefined, bias);
      expect(isDense(got)).to.equal(true);
      expectClose(got, tf.add(tf.conv2d(x as tf.Tensor4D, filter, 1, 'same'), bias), `bias seed ${seed}`);
    });
  });

  it('accepts rank-3 input like tf.conv2d', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = randn([11, 9, 6], seed) as tf.Tensor3D;
      const filter = randn([3, 3, 6, 2], seed + 1) as tf.Tensor4D;
      expectClose(deltaConv2d(x, filter, 2, 'same'), tf.conv2d(x, filter, 2, 'same'), `rank 3 seed ${seed}`);
    });
  });

  it('follows dimRoundingMode with a numeric pad', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = randn([1, 10, 10, 3], seed) as tf.Tensor4D;
      const filter = randn([3, 3, 3, 2], seed + 1) as tf.Tensor4D;
      for (const mode of ['floor', 'ceil', 'round'] as const) {
        expectClose(
          deltaConv2d(x, filter, 2, 1, 'NHWC', 1, mode),
          denseConv2d(x, filter, 2, 1, 1, mode),
          `dimRoundingMode ${mode} seed ${seed}`,
        );
      }
    });
  });
});

// tfjs sizes the output of a numeric pad from the filter's height, stride and dilation in both dimensions, so with a
// window that is not square a backend's own conv (TF's explicit pads, cuDNN) can give more columns than tfjs counts.
describeEachBackend('delta convs with a numeric pad and a window that is not square', () => {
  for (const depthwise of [false, true]) {
    it(`${depthwise ? 'deltaDepthwiseConv2d' : 'deltaConv2d'}: tfjs's output size, dense, sparse and biased inputs`, () => {
      const seed = freshSeed();
      tf.tidy(() => {
        for (const [kh, kw] of [
          [5, 3],
          [1, 5],
          [3, 1],
        ]) {
          for (const mode of ['floor', 'ceil', 'round'] as const) {
            const cin = randInt(1, 9);
            const cout = depthwise ? cin : randInt(1, 9);
            const filter = randn(depthwise ? [kh, kw, cin, 1] : [kh, kw, cin, cout], seed + kh * 7 + kw, 0.3);
            const bias = randn([cout], seed + 3);
            for (const kind of ['dense', 'sparse', 'biased'] as const) {
              const shape = [2, randInt(9, 15), randInt(9, 19), cin];
              const x = (
                kind === 'sparse' ? randomDelta(shape, 0.2, seed + kh) : randn(shape, seed + kw)
              ) as tf.Tensor4D;
              const ctx = `${kh}x${kw} pad 1 stride 2 ${mode}, ${kind} x [${shape}] seed ${seed}`;
              const b = kind === 'biased' ? (bias as tf.Tensor1D) : undefined;
              const got = depthwise
                ? deltaDepthwiseConv2d(x, filter as tf.Tensor4D, 2, 1, 'NHWC', 1, mode, b)
                : deltaConv2d(x, filter as tf.Tensor4D, 2, 1, 'NHWC', 1, mode, b);
              const conv = denseConv2d(x, filter as tf.Tensor4D, 2, 1, 1, mode, depthwise);
              expectClose(got, b == null ? conv : tf.add(conv, b), ctx, 1e-5, 1e-5);
              if (b != null) continue;
              const ones = tf.ones([kh, kw, 1, 1]) as tf.Tensor4D;
              const reach = tf.squeeze(tf.greater(denseConv2d(inputMaskFloat(x), ones, 2, 1, 1, mode), 0.5), [3]);
              expectMask(got, reach, ctx);
              expectZerosWhereInactive(got, ctx);
            }
          }
        }
      });
    });
  }
});

describeEachBackend('deltaDepthwiseConv2d parity with tf.depthwiseConv2d', () => {
  for (const k of [1, 3, 5]) {
    for (const strides of [1, 2]) {
      for (const dilation of strides === 1 ? [1, 2] : [1]) {
        for (const pad of padsFor(k)) {
          for (const multiplier of [1, 2]) {
            const name = `k${k} s${strides} d${dilation} pad ${JSON.stringify(pad)} multiplier ${multiplier}`;
            it(name, () => {
              const seed = freshSeed();
              const eff = (k - 1) * dilation + 1;
              const [b, h, w, c] = [pick([1, 3]), randInt(eff, eff + 10) | 1, randInt(eff, eff + 10), randInt(1, 40)];
              const ctx = `${name} x[${b},${h},${w},${c}] seed ${seed}`;
              tf.tidy(() => {
                const x = randomDelta([b, h, w, c], 0.3, seed);
                const filter = randn([k, k, c, multiplier], seed + 3) as tf.Tensor4D;
                const got = deltaDepthwiseConv2d(x as tf.Tensor4D, filter, strides, pad, 'NHWC', dilation);
                const want = denseConv2d(x as tf.Tensor4D, filter, strides, pad, dilation, undefined, true);
                expectClose(got, want, ctx, 1e-5, 1e-5);
                expectMask(got, expectedConvMask(x, k, strides, pad, dilation), ctx);
                expectZerosWhereInactive(got, ctx);
              });
            });
          }
        }
      }
    }
  }
});

describeEachBackend('deltaConv2dTranspose parity with tf.conv2dTranspose', () => {
  for (const k of [1, 2, 3, 4, 5]) {
    for (const strides of [1, 2]) {
      for (const pad of ['same', 'valid', Math.floor((k - 1) / 2)] as Pad[]) {
        for (const fraction of [1, 0.25]) {
          const name = `k${k} s${strides} pad ${JSON.stringify(pad)} ${fraction === 1 ? 'dense' : 'sparse'} input`;
          it(name, () => {
            const seed = freshSeed();
            const [b, h, w, cin, cout] = [
              pick([1, 3]),
              randInt(2, 9) | 1,
              randInt(2, 10),
              randInt(1, 40),
              randInt(1, 40),
            ];
            const p = typeof pad === 'number' ? pad : 0;
            const size = (n: number) => (pad === 'same' ? n * strides : (n - 1) * strides + k - 2 * p);
            const outShape: [number, number, number, number] = [b, size(h), size(w), cout];
            const ctx = `${name} x[${b},${h},${w},${cin}] out [${outShape}] seed ${seed}`;
            tf.tidy(() => {
              const x = fraction === 1 ? randn([b, h, w, cin], seed) : randomDelta([b, h, w, cin], fraction, seed);
              const filter = randn([k, k, cout, cin], seed + 5, 0.3) as tf.Tensor4D;
              const got = deltaConv2dTranspose(x as tf.Tensor4D, filter, outShape, strides, pad as 'same');
              const want = denseConv2dTranspose(x as tf.Tensor4D, filter, outShape, strides, pad);
              expectClose(got, want, ctx, 1e-5, 1e-5);
              expectMask(got, expectedTransposeMask(x, k, strides, outShape, pad), ctx);
              expectZerosWhereInactive(got, ctx);
            });
          });
        }
      }
    }
  }
});
