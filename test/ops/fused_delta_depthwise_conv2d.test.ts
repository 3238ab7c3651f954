/**
 * fusedDeltaDepthwiseConv2d against dense tf ops: tf.depthwiseConv2d of the delta, its output mask from the input
 * mask convolved with ones, then the truncating accumulator written as tf ops; over kernel sizes, strides,
 * dilations, pads, odd sizes, channel counts on both sides of a warp, batch > 1, every truncating activation,
 * thresholds that flush nothing, some or everything, dense and sparse inputs; plus its state in place or not,
 * a single active pixel, a stream of frames equal to the two ops in sequence, and its argument errors.
 */
import * as tf from '@tensorflow/tfjs-core';

import {deltaDepthwiseConv2d, fusedDeltaDepthwiseConv2d, withMask} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {accumulateReference, accumulatorState as state, expectAccumulated} from '../support/dense_reference';
import type {Pad2D} from '../support/dense_reference';
import {expectFusedParity, fusedConvSharedTests, TRUNCATING_ACTIVATIONS} from '../support/fused_conv';
import type {FusedConvOp} from '../support/fused_conv';
import {expectClose, expectMask, freshSeed, pick, randInt, randn, randomDelta} from '../support/util';

const OP: FusedConvOp = {
  name: 'fusedDeltaDepthwiseConv2d',
  fused: fusedDeltaDepthwiseConv2d,
  conv: (x, filter, strides, pad) => deltaDepthwiseConv2d(x, filter, strides, pad),
  filterShape: (k, c) => [k, k, c, 1],
  depthwise: true,
};

describeEachBackend('fusedDeltaDepthwiseConv2d parity with tf.depthwiseConv2d and the dense accumulator', () => {
  let n = 0;
  for (const k of [1, 3, 5]) {
    for (const strides of [1, 2]) {
      for (const dilation of strides === 1 ? [1, 2] : [1]) {
        for (const pad of ['same', 'valid', Math.floor(k / 2)] as Pad2D[]) {
          for (const fraction of [1, 0.2]) {
            const [activation, alpha] = TRUNCATING_ACTIVATIONS[n % TRUNCATING_ACTIVATIONS.length];
            const threshold = [0, 0.05, 0.5][Math.floor(n / TRUNCATING_ACTIVATIONS.length) % 3];
            n++;
            const name =
              `k${k} s${strides} d${dilation} pad ${JSON.stringify(pad)} ${fraction === 1 ? 'dense' : 'sparse'} ` +
              `input, ${activation} threshold ${threshold}`;
            it(name, () => {
              const seed = freshSeed();
              const eff = (k - 1) * dilation + 1;
              const [b, h, w, c] = [pick([1, 3]), randInt(eff, eff + 10) | 1, randInt(eff, eff + 10), randInt(1, 70)];
              const ctx = `${name} x[${b},${h},${w},${c}] seed ${seed}`;
              tf.tidy(() => {
                const x = (
                  fraction === 1 ? randn([b, h, w, c], seed) : randomDelta([b, h, w, c], fraction, seed)
                ) as tf.Tensor4D;
                const filter = randn([k, k, c, 1], seed + 3) as tf.Tensor4D;
                const g = {k, strides, pad, dilation};
                expectFusedParity(OP, x, filter, g, {threshold, activation, alpha}, seed + 5, ctx);
              });
            });
          }
        }
      }
    }
  }

  it('one active input pixel reaches exactly its window; the rest of the state is untouched', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const [b, h, w, c] = [2, 9, 11, 37];
      const flags = tf.buffer([b, h, w], 'bool');
      flags.set(true, 1, 4, 10); // on the right border, second frame of the batch
      const x = withMask(randn([b, h, w, c], seed), flags.toTensor()) as tf.Tensor4D;
      const filter = randn([3, 3, c, 1], seed + 1) as tf.Tensor4D;
      const [a, r] = state([b, h, w, c], seed + 2);
      const got = fusedDeltaDepthwiseConv2d({x, filter, strides: 1, pad: 'same', accumulated: a, residual: r});
      const window = tf.buffer([b, h, w], 'bool');
      for (let i = 3; i <= 5; i++) for (let j = 9; j <= 10; j++) window.set(true, 1, i, j);
      expectMask(got.delta, window.toTensor(), `single pixel seed ${seed}`);
      const outside = tf.expandDims(tf.logicalNot(window.toTensor()), -1);
      expectClose(tf.where(outside, got.accumulated, a), a, `accumulated outside the window seed ${seed}`, 0, 0);
      expectClose(tf.where(outside, got.residual, r), r, `residual outside the window seed ${seed}`, 0, 0);
    });
  });

  // Many channels spread an output pixel over several warps (a group of up to 512 lanes, the flush test a block-wide
  // max), and past 512 vectors a lane holds two (float4 rows) or eight (scalar rows). A filter that passes the
  // centre tap through makes the flush decision known: each flagged pixel has one channel a full unit above the
  // threshold, anywhere in its row, the rest 1e-3; so the output mask is the flagged pixels only if every pixel's
  // max sees all of its channels and no other's, and the unflushed pixels' state shows what was carried over (the
  // residual, A untouched). Then parity with the dense composition on random filters.
  for (const c of [132, 512, 516, 2052, 3071, 3072]) {
    it(`${c} channels: a pixel flushes iff one of its channels crosses the threshold; parity, strides 1 and 2`, () => {
      const seed = freshSeed();
      const [b, h, w] = [2, randInt(3, 5), randInt(3, 6)];
      const ctx = `x[${b},${h},${w},${c}] seed ${seed}`;
      tf.tidy(() => {
        const flags = tf.greater(tf.randomUniform([b, h, w], 0, 1, 'float32', seed), 0.5);
        const where = tf.randomUniform([b * h * w], 0, c, 'int32', seed + 1);
        const spike = tf.reshape(tf.cast(tf.oneHot(where, c), 'float32'), [b, h, w, c]);
        const x = tf.add(
          randn([b, h, w, c], seed + 2, 1e-3),
          tf.mul(spike, tf.expandDims(tf.cast(flags, 'float32'), -1)),
        ) as tf.Tensor4D;
        const centre = tf.reshape(tf.cast(tf.oneHot(tf.fill([c], 4, 'int32'), 9), 'float32'), [c, 3, 3, 1]);
        const filter = tf.transpose(centre, [1, 2, 0, 3]) as tf.Tensor4D;
        const [a, r] = [tf.fill([b, h, w, c], 1) as tf.Tensor4D, tf.zeros([b, h, w, c]) as tf.Tensor4D];
        const acc = {threshold: 0.5, activation: 'relu6' as const};
        const got = fusedDeltaDepthwiseConv2d({
          x,
          filter,
          strides: 1,
          pad: 'same',
          accumulated: a,
          residual: r,
          ...acc,
        });
        expectMask(got.delta, flags, `centre tap ${ctx}`);
        const want = accumulateReference(a, r, x, acc.threshold, acc.activation, 0);
        expectAccumulated(got, want, `centre tap ${ctx}`, {delta: [1e-5, 1e-6], state: [1e-6, 1e-6]});
        for (const strides of [1, 2]) {
          const sparse = randomDelta([b, h, w, c], 0.3, seed + 3 + strides) as tf.Tensor4D;
          const g = {k: 3, strides, pad: 'same' as Pad2D, dilation: 1};
          const random = randn([3, 3, c, 1], seed + 6) as tf.Tensor4D;
          expectFusedParity(OP, sparse, random, g, {threshold: 0.05, activation: 'relu6', alpha: 0}, seed + 7, ctx);
        }
      });
    });
  }

  fusedConvSharedTests(OP);
});
