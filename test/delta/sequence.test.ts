/**
 * The delta invariant on long sequences: sparsify -> deltaConv2d (+bias once) -> relu accumulate
 * -> deltaMaxPool -> densify. With every threshold 0 the streamed output equals the dense
 * maxPool(relu(conv2d(x) + b)) on every frame; with thresholds > 0 the error stays bounded and
 * does not grow with the sequence length.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {activeFraction, deltaConv2d, deltaMaxPool, sparseAccumulate} from '../../src/index';
import {envFlag} from '../../src/io/env';
import {describeEachBackend} from '../support/backends';
import {freshSeed, randn} from '../support/util';

interface Stream {
  inA: tf.Tensor;
  inR: tf.Tensor; // sparsify state
  actA: tf.Tensor | null;
  actR: tf.Tensor | null; // relu state
  poolA: tf.Tensor | null; // max pool state
  outA: tf.Tensor | null;
  outR: tf.Tensor | null; // densify state
  frame: number;
}

function step(
  s: Stream,
  x: tf.Tensor,
  w: tf.Tensor4D,
  b: tf.Tensor1D,
  tIn: number,
  tAct: number,
): {out: tf.Tensor; next: Stream; active: number[]} {
  let active: number[] = [];
  const tensors = tf.tidy(() => {
    const inp = sparseAccumulate(s.inA, s.inR, tf.sub(x, tf.add(s.inA, s.inR)), {threshold: tIn});
    const conv = deltaConv2d(
      inp.delta as tf.Tensor4D,
      w,
      1,
      'same',
      'NHWC',
      1,
      undefined,
      s.frame === 0 ? b : undefined,
    );
    const zeros = () => tf.zerosLike(conv);
    const act = sparseAccumulate(s.actA ?? zeros(), s.actR ?? zeros(), conv, {threshold: tAct, activation: 'relu'});
    const pool = deltaMaxPool((s.poolA ?? zeros()) as tf.Tensor4D, act.delta as tf.Tensor4D);
    const pz = () => tf.zerosLike(pool.delta);
    const out = sparseAccumulate(s.outA ?? pz(), s.outR ?? pz(), pool.delta);
    const next: Stream = {
      inA: inp.accumulated,
      inR: inp.residual,
      actA: act.accumulated,
      actR: act.residual,
      poolA: pool.accumulated,
      outA: out.accumulated,
      outR: out.residual,
      frame: s.frame + 1,
    };
    active = [inp.delta, conv, act.delta, pool.delta].map((t) => activeFraction(t));
    return {out: out.accumulated.clone(), next: next as unknown as tf.TensorContainer};
  });
  return {out: tensors.out, next: tensors.next as unknown as Stream, active};
}

function disposeStream(s: Stream): void {
  tf.dispose([s.inA, s.inR, s.actA, s.actR, s.poolA, s.outA, s.outR].filter((t) => t != null) as tf.Tensor[]);
}

/** Runs `frames` frames of a random walk where ~15% of pixels move per frame; returns per-frame relative errors. */
function runSequence(shape: number[], frames: number, tIn: number, tAct: number, seed: number) {
  const w = randn([3, 3, shape[3], 8], seed, 0.3) as tf.Tensor4D;
  const b = randn([8], seed + 1, 0.1) as tf.Tensor1D;
  let x = randn(shape, seed + 2);
  let s: Stream = {
    inA: tf.zeros(shape),
    inR: tf.zeros(shape),
    actA: null,
    actR: null,
    poolA: null,
    outA: null,
    outR: null,
    frame: 0,
  };
  const errors: number[] = [];
  const activity: number[][] = [];
  for (let t = 0; t < frames; t++) {
    if (t > 0) {
      const moved = tf.tidy(() => {
        const where = tf.expandDims(
          tf.less(tf.randomUniform(shape.slice(0, 3), 0, 1, 'float32', seed + 3 * t), 0.15),
          -1,
        );
        return tf.add(x, tf.where(where, randn(shape, seed + 3 * t + 1, 0.3), tf.zerosLike(x)));
      });
      x.dispose();
      x = moved;
    }
    const {out, next, active} = step(s, x, w, b, tIn, tAct);
    disposeStream(s);
    s = next;
    activity.push(active);
    errors.push(
      tf.tidy(() => {
        const dense = tf.maxPool(
          tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w, 1, 'same'), b)) as tf.Tensor4D,
          2,
          2,
          'valid',
        );
        return tf.div(tf.max(tf.abs(tf.sub(out, dense))), tf.max(tf.abs(dense))).dataSync()[0];
      }),
    );
    out.dispose();
  }
  disposeStream(s);
  tf.dispose([x, w, b]);
  return {errors, activity};
}

describeEachBackend('delta stream sequence invariant', () => {
  for (const shape of [
    [1, 17, 23, 3],
    [3, 12, 10, 5],
  ]) {
    it(`thresholds 0: equals the dense model on all 50 frames of a random walk, x[${shape}]`, () => {
      const seed = freshSeed();
      const before = tf.memory().numTensors;
      const {errors, activity} = runSequence(shape, 50, 0, 0, seed);
      errors.forEach((e, t) => expect(e, `frame ${t} relative error (seed ${seed})`).to.be.at.most(1e-5));
      // Later frames really are sparse at the input, or the test would only exercise dense paths.
      expect(activity[10][0], 'input active fraction').to.be.lessThan(0.5);
      expect(tf.memory().numTensors, 'tensors leaked by the stream').to.equal(before);
    });
  }

  it('thresholds > 0: error bounded and not growing from frame 10 to frame 200', function () {
    this.timeout(300000);
    const seed = freshSeed();
    const {errors, activity} = runSequence([1, 16, 16, 3], 200, 0.05, 0.05, seed);
    const early = Math.max(...errors.slice(5, 16));
    const late = Math.max(...errors.slice(190, 200));
    expect(late, `late error ${late} vs early ${early} (seed ${seed})`).to.be.at.most(3 * early + 1e-3);
    expect(Math.max(...errors), `max error (seed ${seed})`).to.be.lessThan(0.2);
    expect(early, 'thresholds must cause some error, else this checks nothing').to.be.greaterThan(1e-4);
    if (envFlag('TFJS_DELTA_VERBOSE'))
      console.log(`      errors: frame 10 ${errors[10]}, frame 199 ${errors[199]}, max ${Math.max(...errors)}`);
    const meanActive = activity.slice(1).reduce((sum, a) => sum + a[2], 0) / (activity.length - 1);
    expect(meanActive, 'relu output active fraction').to.be.lessThan(0.9);
  });
});
