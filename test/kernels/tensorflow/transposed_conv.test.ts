/**
 * Transposed convolutions on 'tensorflow' run as forward convolutions by phase (src/kernels/tensorflow/
 * TransposedConv.ts): tf.conv2dTranspose, tf.conv3dTranspose and tf.conv2d's input gradient against the 'cpu'
 * backend on fresh random inputs: strides 1-3 (per axis in 3D), 'same', 'valid' and numeric pads, kernels smaller
 * and larger than the stride, odd sizes, batch > 1, and the channel counts TensorFlow's oneDNN kernel gets wrong on
 * CPUs with AVX-512 BF16 (more than 32 output channels: the channels from the 33rd on, for many shapes; one in and
 * one out: taps dropped after earlier calls). Before the kernels were wrapped, the > 32-channel cases failed here on
 * such a CPU.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {transposedConvsByPhases, wrapTfjsNodeKernels} from '../../../src/index';
import {transposedConvsNative} from '../../../src/kernels/tensorflow/TransposedConv';
import {againstCpu, describeIfBackend} from '../../support/backends';
import {freshSeed, pick, randInt} from '../../support/util';

describeIfBackend('tensorflow', "transposed convolutions on 'tensorflow' as forward convolutions by phase", () => {
  before(async () => {
    await tf.setBackend('tensorflow');
    expect(transposedConvsByPhases(), "tfjs-node's Conv2DBackpropInput and Conv3DBackpropInputV2 are found").to.equal(
      true,
    );
    expect(wrapTfjsNodeKernels(), 'a second call is harmless').to.equal(true);
  });

  const values = (shape: number[], s: number, scale = 1) => tf.mul(tf.randomUniform(shape, -1, 1, 'float32', s), scale);

  for (const [cin, cout] of [
    [1, 1],
    [5, 3],
    [19, 33],
    [40, 64],
  ]) {
    it(`tf.conv2dTranspose ${cin} -> ${cout} channels equals the cpu backend: k 1-5, strides 1-3, every pad`, async () => {
      const seed = freshSeed();
      let n = 0;
      for (const k of [1, 2, 3, 4, 5]) {
        for (const strides of [1, 2, 3]) {
          for (const pad of ['same', 'valid', Math.floor((k - 1) / 2)] as const) {
            const [b, h, w] = [pick([1, 3]), randInt(1, 9), randInt(2, 10)];
            const p = typeof pad === 'number' ? pad : 0;
            const size = (m: number) => (pad === 'same' ? m * strides : (m - 1) * strides + k - 2 * p);
            const outShape: [number, number, number, number] = [b, size(h), size(w), cout];
            const s = seed + 10 * n++;
            const err = await againstCpu(() =>
              tf.tidy(() =>
                tf.conv2dTranspose(
                  values([b, h, w, cin], s) as tf.Tensor4D,
                  values([k, k, cout, cin], s + 1, 0.3) as tf.Tensor4D,
                  outShape,
                  strides,
                  pad,
                ),
              ),
            );
            expect(
              err,
              `k${k} s${strides} pad ${pad} x[${b},${h},${w},${cin}] out [${outShape}] (seed ${s})`,
            ).to.be.below(1e-5);
          }
        }
      }
    });
  }

  it('tf.conv3dTranspose equals the cpu backend: FLAVR-like (1, 2, 2) strides, per-axis strides, 48 channels', async () => {
    const seed = freshSeed();
    let n = 0;
    type Triple = [number, number, number];
    const geometries: Array<[Triple, Triple]> = [
      [
        [3, 4, 4],
        [1, 2, 2],
      ],
      [
        [1, 1, 1],
        [2, 1, 2],
      ],
      [
        [2, 3, 1],
        [1, 3, 2],
      ],
      [
        [3, 3, 3],
        [1, 1, 1],
      ],
    ];
    for (const [k, strides] of geometries) {
      for (const pad of ['same', 'valid'] as const) {
        for (const [cin, cout] of [
          [1, 1],
          [24, 48],
        ]) {
          const [b, d, h, w] = [pick([1, 2]), randInt(1, 4), randInt(2, 7), randInt(3, 8)];
          const size = (m: number, i: number) => (pad === 'same' ? m * strides[i] : (m - 1) * strides[i] + k[i]);
          const outShape: [number, number, number, number, number] = [b, size(d, 0), size(h, 1), size(w, 2), cout];
          const s = seed + 10 * n++;
          const err = await againstCpu(() =>
            tf.tidy(() =>
              tf.conv3dTranspose(
                values([b, d, h, w, cin], s) as tf.Tensor5D,
                values([...k, cout, cin], s + 1, 0.3) as tf.Tensor5D,
                outShape,
                strides,
                pad,
              ),
            ),
          );
          expect(
            err,
            `k [${k}] s [${strides}] ${pad} x[${b},${d},${h},${w},${cin}] -> ${cout} (seed ${s})`,
          ).to.be.below(1e-5);
        }
      }
    }
  });

  it("tf.conv2d's input gradient (Conv2DBackpropInput) equals the cpu backend with 48 output channels", async () => {
    const seed = freshSeed();
    let n = 0;
    for (const k of [1, 3, 4]) {
      for (const strides of [1, 2]) {
        for (const pad of ['same', 'valid'] as const) {
          const s = seed + 10 * n++;
          const err = await againstCpu(() =>
            tf.tidy(() => {
              const filter = values([k, k, 48, 40], s + 1, 0.3) as tf.Tensor4D;
              const loss = (x: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, filter, strides, pad)));
              return tf.grad(loss)(values([3, 11, 9, 48], s));
            }),
          );
          expect(err, `k${k} s${strides} ${pad} (seed ${s})`).to.be.below(1e-5);
        }
      }
    }
  });

  it('one channel in and out stays right over repeated calls after the backend is set again', async () => {
    const seed = freshSeed();
    for (let round = 0; round < 3; round++) {
      const err = await againstCpu(() =>
        tf.tidy(() =>
          tf.conv2dTranspose(
            values([3, 5, 4, 1], seed) as tf.Tensor4D,
            values([3, 3, 1, 1], seed + 1, 0.3) as tf.Tensor4D,
            [3, 11, 9, 1],
            2,
            'valid',
          ),
        ),
      );
      expect(err, `round ${round} (seed ${seed})`).to.be.below(1e-5);
    }
  });

  it("TFJS_DELTA_TENSORFLOW_TRANSPOSED: 'phases' (the default) or 'native', anything else names the variable", () => {
    const saved = process.env.TFJS_DELTA_TENSORFLOW_TRANSPOSED;
    try {
      delete process.env.TFJS_DELTA_TENSORFLOW_TRANSPOSED;
      expect(transposedConvsNative(), 'unset').to.equal(false);
      process.env.TFJS_DELTA_TENSORFLOW_TRANSPOSED = 'native';
      expect(transposedConvsNative(), 'native').to.equal(true);
      process.env.TFJS_DELTA_TENSORFLOW_TRANSPOSED = 'fast';
      expect(() => transposedConvsNative()).to.throw(/TFJS_DELTA_TENSORFLOW_TRANSPOSED.*'fast'/);
    } finally {
      if (saved == null) delete process.env.TFJS_DELTA_TENSORFLOW_TRANSPOSED;
      else process.env.TFJS_DELTA_TENSORFLOW_TRANSPOSED = saved;
    }
  });

  it('frees every intermediate tensor', () => {
    tf.setBackend('tensorflow');
    const x = values([2, 5, 6, 40], 1) as tf.Tensor4D;
    const filter = values([4, 4, 36, 40], 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    tf.conv2dTranspose(x, filter, [2, 10, 12, 36], 2, 'same').dispose();
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([x, filter]);
  });
});
