/**
 * sparseAccumulate against a dense composition of tf ops, for every activation, thresholds 0 and
 * > 0, NHWC and rank-2 inputs, dense and sparse deltas; plus the state invariants over a stream; the same for
 * half-precision state (statePrecision 'fp16'), whose reference rounds the state on the host.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {isDense, sparseAccumulate, storeHalf, withMask} from '../../src/index';
import type {Activation} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {accumulateReference as reference, expectAccumulated} from '../support/dense_reference';
import {halfRound} from '../../src/kernels/half';
import {expectClose, expectMask, freshSeed, pick, randInt, randn, randomDelta} from '../support/util';

describeEachBackend('sparseAccumulate parity with the dense composition', () => {
  const activations: Array<[Activation, number]> = [
    ['linear', 0.2],
    ['relu', 0.2],
    ['relu6', 0.2],
    ['leakyRelu', 0.1],
    ['sigmoid', 0.2],
    ['tanh', 0.2],
  ];
  for (const [activation, alpha] of activations) {
    for (const threshold of [0, 0.05, 0.5]) {
      for (const fraction of [1, 0.3]) {
        for (const rank of [4, 2]) {
          const name = `${activation} threshold ${threshold} rank ${rank} ${fraction === 1 ? 'dense' : 'sparse'} delta`;
          it(name, () => {
            const seed = freshSeed();
            const shape =
              rank === 4
                ? [pick([1, 3]), randInt(1, 13), randInt(1, 13), randInt(1, 67)]
                : [randInt(1, 9), randInt(1, 67)];
            const ctx = `${name} shape [${shape}] seed ${seed}`;
            tf.tidy(() => {
              // Accumulated values spread over the activations' interesting ranges (relu6 saturates at 6).
              const a = randn(shape, seed, 3);
              const r = tf.mul(
                randn(shape, seed + 1, 0.05),
                tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', seed + 2), 0.5), 'float32'),
              );
              const d = fraction === 1 ? randn(shape, seed + 3) : randomDelta(shape, fraction, seed + 3);
              const got = sparseAccumulate(a, r, d, {threshold, activation, alpha});
              const want = reference(a, r, d, threshold, activation, alpha);
              expectAccumulated(got, want, ctx, {delta: [1e-5, 2e-6], state: [1e-6, 1e-6]});
              expect(isDense(got.accumulated) && isDense(got.residual), 'state outputs are dense').to.equal(true);
            });
          });
        }
      }
    }
  }

  // Few channels share a warp between pixels (a lane group per pixel): every group width, pixel counts that leave
  // a warp's last groups past the end, and a flush test that must stay within each pixel's group.
  for (const channels of [1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33]) {
    it(`${channels} channel(s): each pixel's flush test sees its own channels only`, () => {
      const seed = freshSeed();
      const shape = [2, randInt(1, 9), 2 * randInt(1, 9) + 1, channels];
      const ctx = `channels ${channels} shape [${shape}] seed ${seed}`;
      tf.tidy(() => {
        const a = randn(shape, seed, 3);
        const r = randn(shape, seed + 1, 0.05);
        const d = randomDelta(shape, 0.6, seed + 3);
        const got = sparseAccumulate(a, r, d, {threshold: 0.3, activation: 'relu'});
        expectAccumulated(got, reference(a, r, d, 0.3, 'relu', 0), ctx, {delta: [1e-5, 2e-6], state: [1e-6, 1e-6]});
      });
    });
  }

  // Many channels spread a pixel over several warps (a group of up to 512 lanes, the flush test a block-wide max):
  // each flagged pixel gets one channel above the threshold, anywhere in its row, the rest stays far below it, so
  // the output mask is exactly the flagged active pixels only if every pixel's max sees all of its channels and no
  // other's; a fifth of the pixels are inactive (their groups still take part in the block's max). 4-aligned and odd
  // channel counts (float4 rows or scalar ones), groups of 64 to 512 lanes, rows a lane loops over.
  for (const channels of [132, 512, 516, 2052, 2049, 5000]) {
    it(`${channels} channels: a pixel flushes iff one of its channels, in any warp, crosses the threshold`, () => {
      const seed = freshSeed();
      const shape = [2, randInt(1, 4), 2 * randInt(1, 3) + 1, channels];
      const pixels = shape[0] * shape[1] * shape[2];
      const ctx = `channels ${channels} shape [${shape}] seed ${seed}`;
      tf.tidy(() => {
        const flags = tf.greater(tf.randomUniform(shape.slice(0, 3), 0, 1, 'float32', seed), 0.5);
        const where = tf.randomUniform([pixels], 0, channels, 'int32', seed + 1);
        const spike = tf.reshape(tf.cast(tf.oneHot(where, channels), 'float32'), shape);
        const active = tf.greater(tf.randomUniform(shape.slice(0, 3), 0, 1, 'float32', seed + 3), 0.2);
        const values = tf.add(
          randn(shape, seed + 2, 1e-3),
          tf.mul(spike, tf.expandDims(tf.cast(flags, 'float32'), -1)),
        );
        const d = withMask(values, active);
        const a = tf.fill(shape, 1);
        const r = tf.zeros(shape);
        const got = sparseAccumulate(a, r, d, {threshold: 0.5, activation: 'relu6'});
        expectMask(got.delta, tf.logicalAnd(flags, active), ctx);
        expectAccumulated(got, reference(a, r, d, 0.5, 'relu6', 0), ctx, {delta: [1e-5, 2e-6], state: [1e-6, 1e-6]});
      });
    });
  }

  it('threshold 0 and linear is a lossless densify: accumulated = A + delta, residual unchanged at 0', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const a = randn([2, 5, 7, 3], seed);
      const d = randomDelta([2, 5, 7, 3], 0.5, seed + 1);
      const got = sparseAccumulate(a, tf.zerosLike(a), d);
      expectClose(got.accumulated, tf.add(a, d), `densify seed ${seed}`, 1e-6, 0);
      expectClose(got.residual, tf.zerosLike(a), `densify residual seed ${seed}`, 0, 0);
    });
  });

  it('keeps A + R equal to the sum of all deltas and the emitted deltas summing to f(A) - f(0) over 40 frames', () => {
    const seed = freshSeed();
    const shape = [3, 6, 5, 4];
    let a = tf.zeros(shape);
    let r = tf.zeros(shape);
    let sumIn = tf.zeros(shape);
    let sumOut = tf.zeros(shape);
    for (let t = 0; t < 40; t++) {
      const next = tf.tidy(() => {
        const d = randomDelta(shape, 0.4, seed + 10 * t);
        const out = sparseAccumulate(a, r, d, {threshold: 0.3, activation: 'tanh'});
        return {a: out.accumulated, r: out.residual, sumIn: tf.add(sumIn, d), sumOut: tf.add(sumOut, out.delta)};
      });
      tf.dispose([a, r, sumIn, sumOut]);
      ({a, r, sumIn, sumOut} = next);
    }
    tf.tidy(() => {
      expectClose(tf.add(a, r), sumIn, `A + R seed ${seed}`, 1e-5, 1e-5);
      expectClose(sumOut, tf.tanh(a), `sum of emitted seed ${seed}`, 1e-5, 1e-5);
      // Truncation really happened, else this test proves nothing about residuals.
      expect(tf.max(tf.abs(r)).dataSync()[0]).to.be.greaterThan(0);
    });
    tf.dispose([a, r, sumIn, sumOut]);
  });

  // Half state: the reference is the same composition with the state rounded to half where it is read and written.
  // Inputs in float32 (a stream's first accumulate, rounded on entry) and already half (storeHalf, updated in place
  // on 'cuda'); few and many channels, odd sizes, batch > 1.
  for (const [activation, alpha] of activations) {
    for (const threshold of [0, 0.3]) {
      for (const stored of [false, true]) {
        const name = `fp16 state ${activation} threshold ${threshold} ${stored ? 'half inputs, in place' : 'float32 inputs'}`;
        it(name, () => {
          const seed = freshSeed();
          const shape = [pick([1, 2, 3]), randInt(1, 11), randInt(1, 11), pick([1, 3, 4, 8, 13, 32, 40, 67])];
          const ctx = `${name} shape [${shape}] seed ${seed}`;
          tf.tidy(() => {
            let a = randn(shape, seed, 3);
            let r = tf.mul(randn(shape, seed + 1, 0.05), tf.cast(tf.greater(randn(shape, seed + 2), 0), 'float32'));
            if (stored) [a, r] = [storeHalf(a), storeHalf(r)];
            const d = randomDelta(shape, 0.6, seed + 3);
            const want = reference(a, r, d, threshold, activation, alpha, 'fp16');
            const got = sparseAccumulate(a, r, d, {
              threshold,
              activation,
              alpha,
              statePrecision: 'fp16',
              inPlace: stored,
            });
            // The state is rounded the same way on every backend: exact, up to a flush decision within float32 of
            // the threshold (left out by expectAccumulated).
            expectAccumulated(got, want, ctx, {delta: [1e-5, 2e-6], state: [0, 0]});
          });
        });
      }
    }
  }

  it('fp16 state over 200 frames: emitted deltas telescope to f(A); A + R stays within half rounding of the sum', () => {
    const seed = freshSeed();
    const shape = [2, 7, 5, 12];
    let a = storeHalf(tf.mul(randn(shape, seed), 2));
    const f0 = tf.relu6(a);
    let r = tf.zeros(shape);
    let sumIn = tf.add(a, 0);
    let sumOut = tf.zeros(shape);
    let flushes = 0;
    for (let t = 0; t < 200; t++) {
      const next = tf.tidy(() => {
        const d = randomDelta(shape, 0.5, seed + 10 * t + 1);
        const out = sparseAccumulate(a, r, tf.mul(d, 0.3), {
          threshold: 0.05,
          activation: 'relu6',
          statePrecision: 'fp16',
        });
        return {
          a: out.accumulated,
          r: out.residual,
          sumIn: tf.add(sumIn, tf.mul(d, 0.3)),
          sumOut: tf.add(sumOut, out.delta),
        };
      });
      flushes += tf.tidy(() => tf.sum(tf.cast(tf.notEqual(next.a, a), 'float32')).dataSync()[0]);
      tf.dispose([a, r, sumIn, sumOut]);
      ({a, r, sumIn, sumOut} = next);
    }
    tf.tidy(() => {
      const ctx = `seed ${seed}`;
      // Each state value is a half.
      const values = a.dataSync() as Float32Array;
      expect(
        values.every((v) => v === halfRound(v)),
        'A holds halves',
      ).to.equal(true);
      // Telescoping: only float32 rounding of the 200 sums (|terms| <= 6).
      expectClose(tf.add(f0, sumOut), tf.relu6(a), `sum of emitted, ${ctx}`, 0, 2e-4);
      // A + R drifts from the sum of the deltas only by R's rounding while held (half's step, 2^-11 relative).
      expectClose(tf.add(a, r), sumIn, `A + R, ${ctx}`, 0, 0.05);
      expect(flushes, 'some pixels flushed').to.be.greaterThan(0);
      expect(tf.max(tf.abs(r)).dataSync()[0], 'some residual held').to.be.greaterThan(0);
    });
    tf.dispose([a, r, sumIn, sumOut, f0]);
  });

  it('fp16 state: a bad statePrecision names the op and the argument', () => {
    expect(() =>
      sparseAccumulate(tf.zeros([1, 2]), tf.zeros([1, 2]), tf.zeros([1, 2]), {
        statePrecision: 'float16' as 'fp16',
      }),
    ).to.throw(/sparseAccumulate.*statePrecision.*'fp32', 'fp16'.*"float16"/);
  });

  it('leaves pixels inactive in the delta mask untouched, even with a pending residual', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const shape = [1, 4, 4, 2];
      const a = randn(shape, seed);
      const r = randn(shape, seed + 1);
      const d = withMask(randn(shape, seed + 2), tf.zeros([1, 4, 4]));
      const got = sparseAccumulate(a, r, d, {threshold: 0});
      expectClose(got.accumulated, a, 'accumulated', 0, 0);
      expectClose(got.residual, r, 'residual', 0, 0);
      expectClose(got.delta, tf.zerosLike(a), 'delta', 0, 0);
    });
  });
});
