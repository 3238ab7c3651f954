/**
 * fusedDeltaDepthwiseConv2d against dense tf ops: tf.depthwiseConv2d of the delta, its output mask from the input
 * mask convolved with ones, then the truncating accumulator written as tf ops; over kernel sizes, strides,
 * dilations, pads, odd sizes, channel counts on both sides of a warp, batch > 1, every truncating activation,
 * thresholds that flush nothing, some or everything, dense and sparse inputs; plus its state in place or not,
 * a single active pixel, a stream of frames equal to the two ops in sequence, and its argument errors.
 */
import * as tf from '@tensorflow/tfjs-core';

import {deltaDepthwiseConv2d, fusedDeltaDepthwiseConv2d, getMask, sparseAccumulate, withMask} from '../../src/index';
import type {Activation} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {
  accumulateReference,
  accumulatorState as state,
  denseConv2d,
  expectAccumulated,
  expectedConvMask,
  Pad2D,
} from '../support/dense_reference';
import {
  expectClose,
  expectMask,
  expectThrowsNaming,
  freshSeed,
  pick,
  randInt,
  randn,
  randomDelta,
} from '../support/util';

const ACTIVATIONS: Array<[Activation, number]> = [
  ['relu', 0.2],
  ['relu6', 0.2],
  ['leakyRelu', 0.1],
  ['sigmoid', 0.2],
  ['tanh', 0.2],
];

describeEachBackend('fusedDeltaDepthwiseConv2d parity with tf.depthwiseConv2d and the dense accumulator', () => {
  let n = 0;
  for (const k of [1, 3, 5]) {
    for (const strides of [1, 2]) {
      for (const dilation of strides === 1 ? [1, 2] : [1]) {
        for (const pad of ['same', 'valid', Math.floor(k / 2)] as Pad2D[]) {
          for (const fraction of [1, 0.2]) {
            const [activation, alpha] = ACTIVATIONS[n % ACTIVATIONS.length];
            const threshold = [0, 0.05, 0.5][Math.floor(n / ACTIVATIONS.length) % 3];
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
                const y = denseConv2d(x, filter, strides, pad, dilation, undefined, true);
                const [a, r] = state(y.shape, seed + 5);
                const got = fusedDeltaDepthwiseConv2d({
                  x,
                  filter,
                  strides,
                  pad: pad as 'same',
                  dilations: dilation,
                  accumulated: a,
                  residual: r,
                  threshold,
                  activation,
                  alpha,
                });
                const convMask = expectedConvMask(x, k, strides, pad, dilation);
                const want = accumulateReference(a, r, withMask(y, convMask), threshold, activation, alpha);
                expectAccumulated(got, want, ctx, {delta: [1e-5, 1e-5], state: [1e-5, 1e-5]});
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

  it('inPlace false leaves the state inputs as they were; inPlace true gives the same results', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = randomDelta([3, 8, 7, 40], 0.3, seed) as tf.Tensor4D;
      const filter = randn([3, 3, 40, 1], seed + 1) as tf.Tensor4D;
      const [a, r] = state([3, 8, 7, 40], seed + 2);
      const [a0, r0] = [tf.clone(a), tf.clone(r)];
      const args = {x, filter, strides: 1, pad: 'same' as const, threshold: 0.1, activation: 'relu' as const};
      const copied = fusedDeltaDepthwiseConv2d({...args, accumulated: a, residual: r});
      expectClose(a, a0, 'accumulated input after inPlace false', 0, 0);
      expectClose(r, r0, 'residual input after inPlace false', 0, 0);
      const inPlace = fusedDeltaDepthwiseConv2d({...args, accumulated: a0, residual: r0, inPlace: true});
      expectClose(inPlace.delta, copied.delta, `delta in place seed ${seed}`, 0, 0);
      expectClose(inPlace.accumulated, copied.accumulated, `accumulated in place seed ${seed}`, 0, 0);
      expectClose(inPlace.residual, copied.residual, `residual in place seed ${seed}`, 0, 0);
    });
  });

  it('over 30 frames of a stream equals deltaDepthwiseConv2d then sparseAccumulate', () => {
    const seed = freshSeed();
    const shape: [number, number, number, number] = [2, 13, 17, 48];
    const filter = randn([3, 3, 48, 1], seed) as tf.Tensor4D;
    let fused = {a: tf.zeros(shape) as tf.Tensor4D, r: tf.zeros(shape) as tf.Tensor4D};
    let split = {a: tf.zeros(shape) as tf.Tensor4D, r: tf.zeros(shape) as tf.Tensor4D};
    for (let t = 0; t < 30; t++) {
      const [nextFused, nextSplit] = tf.tidy(() => {
        const x = randomDelta(shape, 0.15, seed + 7 * t) as tf.Tensor4D;
        const config = {threshold: 0.2, activation: 'relu6' as const};
        const f = fusedDeltaDepthwiseConv2d({
          x,
          filter,
          strides: 1,
          pad: 'same',
          accumulated: fused.a,
          residual: fused.r,
          ...config,
        });
        const y = deltaDepthwiseConv2d(x, filter, 1, 'same');
        const s = sparseAccumulate<tf.Tensor4D>(split.a, split.r, y, config);
        expectClose(f.delta, s.delta, `frame ${t} delta seed ${seed}`, 1e-5, 1e-5);
        expectMask(f.delta, getMask(s.delta) ?? tf.ones(shape.slice(0, 3), 'bool'), `frame ${t} mask seed ${seed}`);
        return [
          {a: f.accumulated, r: f.residual},
          {a: s.accumulated, r: s.residual},
        ];
      });
      tf.dispose([fused.a, fused.r, split.a, split.r]);
      [fused, split] = [nextFused, nextSplit];
    }
    expectClose(fused.a, split.a, `accumulated after 30 frames seed ${seed}`, 1e-5, 1e-5);
    expectClose(fused.r, split.r, `residual after 30 frames seed ${seed}`, 1e-5, 1e-5);
    tf.dispose([fused.a, fused.r, split.a, split.r, filter]);
  });

  it('names the op, the argument and the shapes on bad input', () => {
    tf.tidy(() => {
      const x = tf.zeros([1, 5, 5, 4]) as tf.Tensor4D;
      const filter = tf.zeros([3, 3, 4, 1]) as tf.Tensor4D;
      const s = tf.zeros([1, 5, 5, 4]) as tf.Tensor4D;
      const base = {x, filter, strides: 1, pad: 'same' as const, accumulated: s, residual: s};
      expectThrowsNaming(
        () => fusedDeltaDepthwiseConv2d({...base, accumulated: tf.zeros([1, 3, 3, 4]) as tf.Tensor4D}),
        'fusedDeltaDepthwiseConv2d',
        'accumulated',
        '[1,5,5,4]',
      );
      expectThrowsNaming(
        () => fusedDeltaDepthwiseConv2d({...base, residual: tf.zeros([1, 5, 5, 3]) as tf.Tensor4D}),
        'fusedDeltaDepthwiseConv2d',
        'residual',
      );
      expectThrowsNaming(
        () => fusedDeltaDepthwiseConv2d({...base, filter: tf.zeros([3, 3, 5, 1]) as tf.Tensor4D}),
        'fusedDeltaDepthwiseConv2d',
        'filter',
      );
      expectThrowsNaming(
        () => fusedDeltaDepthwiseConv2d({...base, threshold: -1}),
        'fusedDeltaDepthwiseConv2d',
        'threshold',
      );
      expectThrowsNaming(
        () => fusedDeltaDepthwiseConv2d({...base, activation: 'gelu' as Activation}),
        'fusedDeltaDepthwiseConv2d',
        'activation',
      );
    });
  });
});
