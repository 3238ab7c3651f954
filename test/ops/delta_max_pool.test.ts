/**
 * deltaMaxPool against tf.maxPool(A + delta) - tf.maxPool(A), with the window-OR mask computed
 * independently by max-pooling the input mask; defaults checked against tf.layers.maxPooling2d.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {deltaMaxPool, getMask, isDense} from '../../src/index';
import {describeEachBackend} from '../support/backends';
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

describeEachBackend('deltaMaxPool parity with tf.maxPool', () => {
  for (const pool of [1, 2, 3]) {
    for (const strides of [null, 1, 2]) {
      for (const pad of ['valid', 'same'] as const) {
        for (const fraction of [1, 0.15]) {
          const name = `pool ${pool} strides ${strides ?? 'default'} ${pad} ${fraction === 1 ? 'dense' : 'sparse'} delta`;
          it(name, () => {
            const seed = freshSeed();
            const shape = [pick([1, 3]), randInt(pool, pool + 12) | 1, randInt(pool, pool + 12), randInt(1, 67)];
            const ctx = `${name} shape [${shape}] seed ${seed}`;
            tf.tidy(() => {
              const a = randn(shape, seed) as tf.Tensor4D;
              const d = (
                fraction === 1 ? randn(shape, seed + 1) : randomDelta(shape, fraction, seed + 1)
              ) as tf.Tensor4D;
              const got = deltaMaxPool(a, d, pool, strides, pad);
              const s = strides ?? pool;
              const next = tf.add(a, d) as tf.Tensor4D;
              expectClose(
                got.delta,
                tf.sub(tf.maxPool(next, pool, s, pad), tf.maxPool(a, pool, s, pad)),
                ctx,
                1e-6,
                1e-6,
              );
              expectClose(got.accumulated, next, `${ctx} accumulated`, 0, 0);
              const m = getMask(d);
              const flags = tf.expandDims(
                m == null ? tf.ones(shape.slice(0, 3)) : tf.cast(m, 'float32'),
                -1,
              ) as tf.Tensor4D;
              expectMask(got.delta, tf.squeeze(tf.greater(tf.maxPool(flags, pool, s, pad), 0.5), [3]), ctx);
              expectZerosWhereInactive(got.delta, ctx);
              expect(isDense(got.accumulated)).to.equal(true);
            });
          });
        }
      }
    }
  }

  it('defaults match tf.layers.maxPooling2d (poolSize 2, strides = poolSize, valid)', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const shape = [3, 9, 11, 4];
      const a = randn(shape, seed) as tf.Tensor4D;
      const d = randn(shape, seed + 1) as tf.Tensor4D;
      const layer = tfl.layers.maxPooling2d({});
      const want = tf.sub(layer.apply(tf.add(a, d)) as tf.Tensor, layer.apply(a) as tf.Tensor);
      expectClose(deltaMaxPool(a, d).delta, want, `defaults seed ${seed}`, 0, 0);
      const layer3 = tfl.layers.maxPooling2d({poolSize: 3});
      const want3 = tf.sub(layer3.apply(tf.add(a, d)) as tf.Tensor, layer3.apply(a) as tf.Tensor);
      expectClose(deltaMaxPool(a, d, 3).delta, want3, `poolSize 3 seed ${seed}`, 0, 0);
    });
  });
});
