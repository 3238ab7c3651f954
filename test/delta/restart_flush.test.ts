/**
 * The dense escapes of a delta stream, per backend: toDelta's restartAbove (a mostly changed frame
 * restarts the stream and is sent whole) and flushAbove (an activation whose delta is nearly dense
 * flushes every pixel). Both are exact where they act, so a model with high thresholds reproduces the
 * dense model on those frames; without them the same thresholds leave a visible error, so the tests
 * can fail. Fresh random weights and frames, odd sizes, batch > 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {toDelta} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {expectThrowsNaming, freshSeed, randn} from '../support/util';
import {randomizeWeights} from '../../data/models';

const L = tfl.layers;

function model(h: number, w: number, seed: number): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      L.conv2d({inputShape: [h, w, 3], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'}),
      L.depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu'}),
      L.conv2d({filters: 12, kernelSize: 1, activation: 'relu'}),
      L.conv2d({filters: 5, kernelSize: 3, padding: 'valid'}),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

function relErr(got: tf.Tensor, want: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] / tf.max(tf.abs(want)).dataSync()[0]);
}

describeEachBackend('delta stream restarts and flushes', () => {
  it('restartAbove: a scene cut is sent whole (dense output), small changes stay deltas', () => {
    const seed = freshSeed();
    const [b, h, w] = [2, 17, 23];
    const dense = model(h, w, seed);
    const delta = toDelta(dense, {threshold: 0.3, restartAbove: 0.5});
    const scene = randn([b, h, w, 3], seed + 1);
    const cut = randn([b, h, w, 3], seed + 2);
    // A small local change: one 3x3 patch per row.
    const nudge = tf.tidy(() =>
      tf.add(
        scene,
        tf.pad(tf.fill([b, 3, 3, 3], 0.05), [
          [0, 0],
          [4, h - 7],
          [5, w - 8],
          [0, 0],
        ]),
      ),
    );
    const sequence = [scene, nudge, cut, scene];
    const restarted = [true, false, true, true];
    sequence.forEach((x, t) => {
      const [got, want] = [delta.predictOnBatch(x) as tf.Tensor, dense.predict(x) as tf.Tensor];
      const err = relErr(got, want);
      const ctx = `frame ${t} (seed ${seed})`;
      if (restarted[t]) expect(err, `${ctx}: a restart is exact`).to.be.below(1e-5);
      else expect(err, `${ctx}: a truncated frame is not exact at threshold 0.3`).to.be.above(0);
      tf.dispose([got, want]);
    });
    // Without restarts the cut goes through the truncating path and is visibly off.
    const plain = toDelta(dense, {threshold: 0.3});
    const errs = [scene, nudge, cut].map((x) => {
      const [got, want] = [plain.predictOnBatch(x) as tf.Tensor, dense.predict(x) as tf.Tensor];
      const err = relErr(got, want);
      tf.dispose([got, want]);
      return err;
    });
    expect(errs[2], `the cut without restartAbove (seed ${seed})`).to.be.above(1e-3);
    tf.dispose([nudge, cut, scene]);
    delta.dispose();
    plain.dispose();
  });

  it('flushAbove: a nearly dense delta is flushed whole, so high thresholds still give the dense output', () => {
    const seed = freshSeed();
    const [b, h, w] = [3, 15, 19];
    const dense = model(h, w, seed);
    const flushed = toDelta(dense, {threshold: 0.5, inputThreshold: 0, flushAbove: 0.01});
    const truncated = toDelta(dense, {threshold: 0.5, inputThreshold: 0});
    let x = randn([b, h, w, 3], seed);
    let worstTruncated = 0;
    for (let t = 0; t < 6; t++) {
      const want = dense.predict(x) as tf.Tensor;
      const [got, plain] = [flushed.predictOnBatch(x) as tf.Tensor, truncated.predictOnBatch(x) as tf.Tensor];
      expect(relErr(got, want), `frame ${t} (seed ${seed})`).to.be.below(1e-5);
      worstTruncated = Math.max(worstTruncated, relErr(plain, want));
      tf.dispose([want, got, plain]);
      const next = tf.tidy(() => tf.add(x, tf.mul(randn([b, h, w, 3], seed + t + 1), 0.2)));
      x.dispose();
      x = next;
    }
    x.dispose();
    expect(worstTruncated, `the same thresholds without flushAbove (seed ${seed})`).to.be.above(1e-3);
    flushed.dispose();
    truncated.dispose();
  });

  it('refuses bad values and multi-input models, naming the option', () => {
    const dense = model(9, 9, 1);
    expectThrowsNaming(() => toDelta(dense, {restartAbove: 0}), 'restartAbove', '0');
    expectThrowsNaming(() => toDelta(dense, {flushAbove: 1.5}), 'flushAbove', '1.5');
    const a = tfl.input({shape: [5, 5, 2]});
    const c = tfl.input({shape: [5, 5, 2]});
    const two = tfl.model({inputs: [a, c], outputs: L.add().apply([a, c]) as tfl.SymbolicTensor});
    expectThrowsNaming(() => toDelta(two, {restartAbove: 0.5}), 'restartAbove', 'one input');
  });
});
