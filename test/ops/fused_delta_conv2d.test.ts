/**
 * fusedDeltaConv2d against dense tf ops: tf.conv2d of the delta, its output mask from the input mask convolved with
 * ones, then the truncating accumulator written as tf ops; over pointwise and 3x3 kernels, strides, dilations, pads,
 * odd sizes, channel counts around the fused kernel's slices (32, 64) and chunks (32), pixel counts around its
 * groups of 32, batch > 1, every truncating activation, thresholds that flush nothing, some or everything, dense and
 * sparse inputs; plus a stream of frames equal to the two ops in sequence, the state in place or not, and argument
 * errors. (The 'cuda' pointwise kernel itself, with TF32 on, is held to the 'cpu' reference bit for bit in
 * test/backends/cuda/pointwise.test.ts.)
 */
import * as tf from '@tensorflow/tfjs-core';

import {deltaConv2d, fusedDeltaConv2d, getMask, sparseAccumulate} from '../../src/index';
import type {Activation} from '../../src/index';
import {withMask} from '../../src/ops/mask';
import {describeEachBackend} from '../support/backends';
import {
  accumulateReference,
  accumulatorState,
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

describeEachBackend('fusedDeltaConv2d parity with tf.conv2d and the dense accumulator', () => {
  const cases: Array<{k: number; strides: number; dilation: number; pad: Pad2D}> = [
    {k: 1, strides: 1, dilation: 1, pad: 'valid'},
    {k: 1, strides: 1, dilation: 1, pad: 'same'},
    {k: 1, strides: 2, dilation: 1, pad: 'same'},
    {k: 3, strides: 1, dilation: 1, pad: 'same'},
    {k: 3, strides: 2, dilation: 1, pad: 'valid'},
    {k: 3, strides: 1, dilation: 2, pad: 1},
  ];
  let n = 0;
  for (const {k, strides, dilation, pad} of cases) {
    for (const fraction of [1, 0.3, 0.02]) {
      const [activation, alpha] = ACTIVATIONS[n % ACTIVATIONS.length];
      const threshold = [0, 0.05, 0.5][Math.floor(n / 2) % 3];
      n++;
      const name =
        `k${k} s${strides} d${dilation} pad ${JSON.stringify(pad)} ${fraction} active, ` +
        `${activation} threshold ${threshold}`;
      it(name, () => {
        const seed = freshSeed();
        const eff = (k - 1) * dilation + 1;
        const [b, h, w] = [pick([1, 2, 3]), randInt(eff, eff + 12) | 1, randInt(eff, eff + 14)];
        const [c, co] = [pick([4, 12, 24, 36, 68, 7]), pick([32, 64, 96, 160, 24])];
        const ctx = `${name} x[${b},${h},${w},${c}] -> ${co} seed ${seed}`;
        tf.tidy(() => {
          const x = (
            fraction === 1 ? randn([b, h, w, c], seed) : randomDelta([b, h, w, c], fraction, seed)
          ) as tf.Tensor4D;
          const filter = randn([k, k, c, co], seed + 3, 0.3) as tf.Tensor4D;
          const y = denseConv2d(x, filter, strides, pad, dilation);
          const [a, r] = accumulatorState(y.shape, seed + 5);
          const got = fusedDeltaConv2d({
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

  it('inPlace false leaves the state inputs as they were; inPlace true gives the same results', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = randomDelta([2, 9, 11, 40], 0.3, seed) as tf.Tensor4D;
      const filter = randn([1, 1, 40, 64], seed + 1, 0.3) as tf.Tensor4D;
      const [a, r] = accumulatorState([2, 9, 11, 64], seed + 2);
      const [a0, r0] = [tf.clone(a), tf.clone(r)];
      const args = {x, filter, strides: 1, pad: 'valid' as const, threshold: 0.1, activation: 'relu' as const};
      const copied = fusedDeltaConv2d({...args, accumulated: a, residual: r});
      expectClose(a, a0, 'accumulated input after inPlace false', 0, 0);
      expectClose(r, r0, 'residual input after inPlace false', 0, 0);
      const inPlace = fusedDeltaConv2d({...args, accumulated: a0, residual: r0, inPlace: true});
      expectClose(inPlace.delta, copied.delta, `delta in place seed ${seed}`, 0, 0);
      expectClose(inPlace.accumulated, copied.accumulated, `accumulated in place seed ${seed}`, 0, 0);
      expectClose(inPlace.residual, copied.residual, `residual in place seed ${seed}`, 0, 0);
    });
  });

  it('over 30 frames of a stream equals deltaConv2d then sparseAccumulate', () => {
    const seed = freshSeed();
    const [b, h, w, c, co] = [2, 13, 17, 48, 96];
    const shape: [number, number, number, number] = [b, h, w, co];
    const filter = randn([1, 1, c, co], seed, 0.2) as tf.Tensor4D;
    let fused = {a: tf.zeros(shape) as tf.Tensor4D, r: tf.zeros(shape) as tf.Tensor4D};
    let split = {a: tf.zeros(shape) as tf.Tensor4D, r: tf.zeros(shape) as tf.Tensor4D};
    for (let t = 0; t < 30; t++) {
      const [nextFused, nextSplit] = tf.tidy(() => {
        const x = randomDelta([b, h, w, c], 0.15, seed + 7 * t) as tf.Tensor4D;
        const config = {threshold: 0.2, activation: 'relu6' as const};
        const f = fusedDeltaConv2d({
          x,
          filter,
          strides: 1,
          pad: 'same',
          accumulated: fused.a,
          residual: fused.r,
          ...config,
        });
        const y = deltaConv2d(x, filter, 1, 'same');
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
      const filter = tf.zeros([1, 1, 4, 32]) as tf.Tensor4D;
      const s = tf.zeros([1, 5, 5, 32]) as tf.Tensor4D;
      const base = {x, filter, strides: 1, pad: 'same' as const, accumulated: s, residual: s};
      expectThrowsNaming(
        () => fusedDeltaConv2d({...base, accumulated: tf.zeros([1, 5, 5, 4]) as tf.Tensor4D}),
        'fusedDeltaConv2d',
        'accumulated',
        '[1,5,5,32]',
      );
      expectThrowsNaming(
        () => fusedDeltaConv2d({...base, residual: tf.zeros([1, 5, 5, 3]) as tf.Tensor4D}),
        'fusedDeltaConv2d',
        'residual',
      );
      expectThrowsNaming(
        () => fusedDeltaConv2d({...base, filter: tf.zeros([1, 1, 5, 32]) as tf.Tensor4D}),
        'fusedDeltaConv2d',
        'filter',
      );
      expectThrowsNaming(() => fusedDeltaConv2d({...base, threshold: -1}), 'fusedDeltaConv2d', 'threshold');
      expectThrowsNaming(
        () => fusedDeltaConv2d({...base, activation: 'gelu' as Activation}),
        'fusedDeltaConv2d',
        'activation',
      );
    });
  });
});
