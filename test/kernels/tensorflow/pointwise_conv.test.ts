/**
 * 1x1 convolutions on 'tensorflow' run as MatMul (src/kernels/tensorflow/PointwiseConv.ts): tf.conv2d and
 * tf.fused.conv2d with 1x1 filters against the 'cpu' backend on fresh random inputs (strides 1-3, 'same' and
 * 'valid' and explicit pads (tfjs-node's kernel then), odd sizes, batch > 1, every fused activation, prelu weights per channel and per pixel), including
 * ResNet-50's 256 -> 1024 and 512 -> 2048 expansions, which TensorFlow's oneDNN Conv2D ends with SIGFPE on CPUs with
 * AVX-512 BF16 (this test's process died there before the kernels were wrapped); 3x3 convolutions still reach
 * tfjs-node's kernel; the delta models' own TF convolutions take the same product (a delta ResNet-50 bottleneck).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {pointwiseConvsAsMatMul, toDelta} from '../../../src/index';
import {randomizeWeights, relativeError} from '../../../data/models';
import {againstCpu, describeIfBackend} from '../../support/backends';
import {freshSeed} from '../../support/util';

describeIfBackend('tensorflow', "1x1 convolutions on 'tensorflow' as MatMul", () => {
  before(async () => {
    await tf.setBackend('tensorflow');
    expect(pointwiseConvsAsMatMul(), "tfjs-node's Conv2D and FusedConv2D are found").to.equal(true);
    expect(pointwiseConvsAsMatMul(), 'a second call is harmless').to.equal(true);
  });
  after(async () => {
    await tf.setBackend('tensorflow');
  });

  const seed = freshSeed();
  const values = (shape: number[], s: number, scale = 1) => tf.mul(tf.randomUniform(shape, -1, 1, 'float32', s), scale);

  it('tf.conv2d with 1x1 filters equals the cpu backend: strides, paddings, odd sizes, batch > 1', async () => {
    let k = 0;
    for (const [b, h, w, c, co] of [
      [1, 7, 9, 5, 3],
      [3, 13, 11, 16, 24],
      [2, 12, 16, 256, 1024],
      [1, 6, 8, 512, 2048],
    ]) {
      for (const strides of [1, 2, 3] as const) {
        for (const pad of [
          'same',
          'valid',
          [
            [0, 0],
            [1, 0],
            [0, 2],
            [0, 0],
          ],
        ] as Array<'same' | 'valid' | tf.backend_util.ExplicitPadding>) {
          const s = seed + 10 * k++;
          const err = await againstCpu(() =>
            tf.tidy(() =>
              tf.conv2d(
                values([b, h, w, c], s) as tf.Tensor4D,
                values([1, 1, c, co], s + 1, 0.1) as tf.Tensor4D,
                strides,
                pad,
              ),
            ),
          );
          expect(
            err,
            `[${b},${h},${w},${c}] -> ${co}, stride ${strides}, ${JSON.stringify(pad)} (seed ${s})`,
          ).to.be.below(1e-5);
        }
      }
    }
  });

  it("tf.fused.conv2d with 1x1 filters: bias and every fused activation, prelu's weights per channel and per pixel", async () => {
    const [b, h, w, c, co] = [2, 9, 10, 12, 8];
    let k = 0;
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
      for (const strides of [1, 2] as const) {
        for (const preluShape of activation === 'prelu'
          ? [[co], [strides === 1 ? h : 5, strides === 1 ? w : 5, co]]
          : [[]]) {
          const s = seed + 100 + 10 * k++;
          const err = await againstCpu(() =>
            tf.tidy(() =>
              tf.fused.conv2d({
                x: values([b, h, w, c], s) as tf.Tensor4D,
                filter: values([1, 1, c, co], s + 1, 0.5) as tf.Tensor4D,
                strides,
                pad: 'same',
                bias: values([co], s + 2),
                activation,
                leakyreluAlpha: 0.3,
                preluActivationWeights: activation === 'prelu' ? values(preluShape, s + 3) : undefined,
              }),
            ),
          );
          expect(err, `${activation} stride ${strides} prelu [${preluShape}] (seed ${s})`).to.be.below(1e-5);
        }
      }
    }
  });

  it("3x3 convolutions still reach tfjs-node's kernel, with the same results", async () => {
    const err = await againstCpu(() =>
      tf.tidy(() =>
        tf.fused.conv2d({
          x: values([2, 11, 13, 6], seed + 500) as tf.Tensor4D,
          filter: values([3, 3, 6, 5], seed + 501, 0.3) as tf.Tensor4D,
          strides: 2,
          pad: 'same',
          bias: values([5], seed + 502),
          activation: 'relu',
        }),
      ),
    );
    expect(err).to.be.below(1e-5);
  });

  it('a delta ResNet-style bottleneck with 256 -> 1024 expansions equals its dense model over frames', () => {
    const input = tfl.input({shape: [12, 16, 256]});
    const reduce = tfl.layers
      .conv2d({filters: 64, kernelSize: 1, activation: 'relu'})
      .apply(input) as tfl.SymbolicTensor;
    const mid = tfl.layers
      .conv2d({filters: 64, kernelSize: 3, padding: 'same', activation: 'relu'})
      .apply(reduce) as tfl.SymbolicTensor;
    const expand = tfl.layers.conv2d({filters: 1024, kernelSize: 1}).apply(mid) as tfl.SymbolicTensor;
    const shortcut = tfl.layers.conv2d({filters: 1024, kernelSize: 1, strides: 1}).apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers.reLU().apply(tfl.layers.add().apply([expand, shortcut])) as tfl.SymbolicTensor;
    const dense = tfl.model({inputs: input, outputs: out});
    randomizeWeights(dense, seed + 600);
    const delta = toDelta(dense, {threshold: 0});
    try {
      for (let t = 0; t < 6; t++) {
        const err = tf.tidy(() => {
          // a small patch changes from frame to frame: the delta convs take their sparse and dense routes
          const base = values([1, 12, 16, 256], seed + 700);
          const patch = tf.pad(values([1, 3, 3, 256], seed + 701 + t), [
            [0, 0],
            [t, 9 - t],
            [2 * t, 13 - 2 * t],
            [0, 0],
          ]);
          const x = t === 0 ? base : tf.add(base, patch);
          return relativeError(delta.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor);
        });
        expect(err, `frame ${t}`).to.be.below(1e-5);
      }
    } finally {
      delta.dispose();
      dense.dispose();
    }
  });
});
