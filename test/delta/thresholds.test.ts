/**
 * Thresholds: the global default, per-layer overrides, JSON keyed by layer name, and DeltaCNN's
 * front-to-back tuning against an output-error budget.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {getDefaultThreshold, getDeltaStats, getThresholds, loadThresholds, saveThresholds, setDefaultThreshold, setThresholds, toDelta, truncatingLayers, tuneThresholds} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {freshSeed} from '../support/util';
import {nextFrame, resnetStyle} from '../support/sequences';

describe('delta thresholds: default, per layer, JSON', () => {
  afterEach(() => setDefaultThreshold(0));

  it('lists the truncating layers front to back; layers without their own follow the global default', () => {
    const dense = resnetStyle(1, [8, 8, 3], 2);
    const delta = toDelta(dense, {thresholds: {stem_relu: 0.2}});
    expect(truncatingLayers(delta).map(l => l.name)).to.deep.equal(['frames_sparsify', 'stem_relu', 'block1_relu1',
      'block1_relu2', 'block2_relu1', 'block2_relu2', 'block3_relu1', 'block3_relu2']);
    expect(getDefaultThreshold()).to.equal(0);
    setDefaultThreshold(0.05);
    const thresholds = getThresholds(delta);
    expect(thresholds.stem_relu).to.equal(0.2);
    expect(thresholds.block1_relu1).to.equal(0.05);
    expect(() => setDefaultThreshold(-0.1)).to.throw(/threshold must be a finite number >= 0, got -0.1/);
    delta.dispose();
    dense.dispose();
  });

  it('toDelta options: threshold for all, inputThreshold for the inputs, thresholds by name', () => {
    const dense = resnetStyle(1, [8, 8, 3], 2);
    const delta = toDelta(dense, {threshold: 0.1, inputThreshold: 0.3, thresholds: {block3_relu2: 0.01}});
    const t = getThresholds(delta);
    expect([t.frames_sparsify, t.stem_relu, t.block3_relu2]).to.deep.equal([0.3, 0.1, 0.01]);
    delta.dispose();
    dense.dispose();
  });

  it('setThresholds, saveThresholds and loadThresholds round-trip by layer name', () => {
    const dense = resnetStyle(1, [8, 8, 3], 2);
    const a = toDelta(dense);
    const b = toDelta(dense);
    setThresholds(a, 0.04);
    setThresholds(a, {block2_relu1: 0.5, frames_sparsify: 0.02});
    const json = saveThresholds(a);
    expect(Object.keys(JSON.parse(json))[0], 'front to back').to.equal('frames_sparsify');
    loadThresholds(b, json);
    expect(getThresholds(b)).to.deep.equal(getThresholds(a));
    setThresholds(b, {block2_relu1: null});
    expect(getThresholds(b).block2_relu1, 'null: back to the default').to.equal(0);
    expect(() => setThresholds(a, {stem_conv: 0.1})).to.throw(/no truncating layer named 'stem_conv'.*frames_sparsify/);
    expect(() => loadThresholds(a, '{oops')).to.throw(/loadThresholds: not JSON/);
    expect(() => loadThresholds(a, '[1,2]')).to.throw(/keyed by layer name/);
    expect(() => setThresholds(a, {stem_relu: NaN})).to.throw(/'stem_relu': threshold must be a finite number/);
    [a, b, dense].forEach(m => m.dispose());
  });
});

describeEachBackend('tuneThresholds', () => {
  it('raises thresholds front to back while the error stays within budget, and skips more work', function() {
    this.timeout(300000);
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const delta = toDelta(dense, {stats: true});
    // Camera-like frames: small noise on every pixel, large changes on a few.
    const frames: tf.Tensor[] = [];
    for (let t = 0; t < 6; t++) {
      frames.push(tf.tidy(() => {
        const moved = nextFrame(frames[t - 1] ?? null, [1, 16, 16, 3], seed, t);
        return t === 0 ? moved : tf.add(moved, tf.randomNormal([1, 16, 16, 3], 0, 0.01, 'float32', seed + 100 + t));
      }));
    }
    const skipped = () => {
      delta.resetStates();
      let total = 0;
      for (const f of frames.slice(1)) {
        tf.dispose(delta.predictOnBatch(f));
        total += getDeltaStats(delta).skippedShare;
      }
      return total / (frames.length - 1);
    };
    const exactSkipped = skipped();
    const layersTried: Array<string|null> = [];
    const budget = 0.02;
    const result = tuneThresholds(delta, frames, {errorBudget: budget, initial: 0.005, maxSteps: 5,
      onEvaluation: ({layer}) => layersTried.push(layer)});
    expect(result.error, `seed ${seed}`).to.be.at.most(budget);
    expect(result.thresholds).to.deep.equal(getThresholds(delta));
    expect(Math.max(...Object.values(result.thresholds)), `some threshold raised (seed ${seed})`).to.be.greaterThan(0);
    const order = [...new Set(layersTried.filter(l => l != null))];
    expect(order, 'front to back').to.deep.equal(truncatingLayers(delta).map(l => l.name));
    expect(result.evaluations).to.equal(layersTried.length);
    expect(skipped(), `tuned thresholds skip more than exact ones (seed ${seed})`).to.be.greaterThan(exactSkipped);
    expect(() => tuneThresholds(delta, frames, {errorBudget: 0.01, step: 1})).to.throw(/step must be > 1/);
    tf.dispose(frames);
    delta.dispose();
    dense.dispose();
  });
});
