/**
 * Thresholds: the global default, per-layer overrides, JSON keyed by layer name, thresholds
 * relative to each layer's activation scale, and DeltaCNN's front-to-back tuning against an
 * output-error budget.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {
  getDefaultThreshold,
  getDeltaStats,
  getThresholds,
  getThresholdScales,
  loadThresholds,
  saveThresholds,
  setDefaultThreshold,
  setThresholds,
  toDelta,
  truncatingLayers,
  tuneThresholds,
} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {freshSeed} from '../support/util';
import {loadPoseNet, posenetUnavailable, relativeError} from '../../data/models';
import {videoUnavailable, vtestFrame} from '../../data/vtest';
import {nextFrame, resnetStyle} from '../support/sequences';
import {streamFrames} from '../support/video_frames';

describe('delta thresholds: default, per layer, JSON', () => {
  afterEach(() => setDefaultThreshold(0));

  it('lists the truncating layers front to back; layers without their own follow the global default', () => {
    const dense = resnetStyle(1, [8, 8, 3], 2);
    // A threshold given for a ReLU that folds into its conv applies to the conv, which truncates in its place.
    const delta = toDelta(dense, {thresholds: {stem_relu: 0.2}});
    expect(truncatingLayers(delta).map((l) => l.name)).to.deep.equal([
      'frames_sparsify',
      'stem_conv',
      'block1_conv1',
      'block1_relu2',
      'block2_conv1',
      'block2_relu2',
      'block3_conv1',
      'block3_relu2',
    ]);
    expect(getDefaultThreshold()).to.equal(0);
    setDefaultThreshold(0.05);
    const thresholds = getThresholds(delta);
    expect(thresholds.stem_conv).to.equal(0.2);
    expect(thresholds.block1_conv1).to.equal(0.05);
    expect(() => setDefaultThreshold(-0.1)).to.throw(/threshold must be a finite number >= 0, got -0.1/);
    delta.dispose();
    dense.dispose();
  });

  it('toDelta options: threshold for all, inputThreshold for the inputs, thresholds by name', () => {
    const dense = resnetStyle(1, [8, 8, 3], 2);
    const delta = toDelta(dense, {threshold: 0.1, inputThreshold: 0.3, thresholds: {block3_relu2: 0.01}});
    const t = getThresholds(delta);
    expect([t.frames_sparsify, t.stem_conv, t.block3_relu2]).to.deep.equal([0.3, 0.1, 0.01]);
    delta.dispose();
    dense.dispose();
  });

  it('setThresholds, saveThresholds and loadThresholds round-trip by layer name', () => {
    const dense = resnetStyle(1, [8, 8, 3], 2);
    const a = toDelta(dense);
    const b = toDelta(dense);
    setThresholds(a, 0.04);
    // block2_relu1 folded into block2_conv1: its name still reaches the layer that truncates for it.
    setThresholds(a, {block2_relu1: 0.5, frames_sparsify: 0.02});
    expect(getThresholds(a).block2_conv1).to.equal(0.5);
    const json = saveThresholds(a);
    expect(Object.keys(JSON.parse(json))[0], 'front to back').to.equal('frames_sparsify');
    loadThresholds(b, json);
    expect(getThresholds(b)).to.deep.equal(getThresholds(a));
    setThresholds(b, {block2_conv1: null});
    expect(getThresholds(b).block2_conv1, 'null: back to the default').to.equal(0);
    expect(() => setThresholds(a, {block1_conv2: 0.1})).to.throw(
      /no truncating layer named 'block1_conv2'.*frames_sparsify/,
    );
    expect(() => loadThresholds(a, '{oops')).to.throw(/loadThresholds: not JSON/);
    expect(() => loadThresholds(a, '[1,2]')).to.throw(/keyed by layer name/);
    expect(() => setThresholds(a, {stem_relu: NaN})).to.throw(/'stem_relu': threshold must be a finite number/);
    [a, b, dense].forEach((m) => m.dispose());
  });
});

describeEachBackend('tuneThresholds', () => {
  it('raises thresholds front to back while the error stays within budget, and skips more work', function () {
    this.timeout(300000);
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const delta = toDelta(dense, {stats: true});
    // Camera-like frames: small noise on every pixel, large changes on a few. The noise (sigma 0.003) stays below an
    // input threshold the budget allows, so tuning has work to skip: at sigma 0.01 some seeds kept the input
    // threshold at 0.01, which most pixels exceed, and 16x16 frames were then fully active at any threshold.
    const frames: tf.Tensor[] = [];
    for (let t = 0; t < 6; t++) {
      frames.push(
        tf.tidy(() => {
          const moved = nextFrame(frames[t - 1] ?? null, [1, 16, 16, 3], seed, t);
          return t === 0 ? moved : tf.add(moved, tf.randomNormal([1, 16, 16, 3], 0, 0.003, 'float32', seed + 100 + t));
        }),
      );
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
    const layersTried: Array<string | null> = [];
    const budget = 0.02;
    const result = tuneThresholds(delta, frames, {
      errorBudget: budget,
      initial: 0.005,
      maxSteps: 5,
      onEvaluation: ({layer}) => layersTried.push(layer),
    });
    expect(result.error, `seed ${seed}`).to.be.at.most(budget);
    expect(result.thresholds).to.deep.equal(getThresholds(delta));
    expect(Math.max(...Object.values(result.thresholds)), `some threshold raised (seed ${seed})`).to.be.greaterThan(0);
    const order = [...new Set(layersTried.filter((l) => l != null))];
    expect(order, 'front to back').to.deep.equal(truncatingLayers(delta).map((l) => l.name));
    expect(result.evaluations).to.equal(layersTried.length);
    expect(skipped(), `tuned thresholds skip more than exact ones (seed ${seed})`).to.be.greaterThan(exactSkipped);
    expect(() => tuneThresholds(delta, frames, {errorBudget: 0.01, step: 1})).to.throw(/step must be > 1/);
    tf.dispose(frames);
    delta.dispose();
    dense.dispose();
  });

  it("aggregate 'mean' holds the mean frame error to the budget, 'max' the worst frame's", () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [8, 8, 3], 4);
    const delta = toDelta(dense);
    const frames = Array.from({length: 6}, (_, t) => tf.randomNormal([1, 8, 8, 3], 0, 1, 'float32', seed + t));
    // A frame error known in advance: the largest threshold, ten times over on the first frame (mean factor 15/6).
    const tuned = (aggregate?: 'max' | 'mean') => {
      let call = 0;
      const result = tuneThresholds(delta, frames, {
        errorBudget: 0.11,
        initial: 0.005,
        aggregate,
        error: () => Math.max(...Object.values(getThresholds(delta))) * (call++ % frames.length === 0 ? 10 : 1),
      });
      setThresholds(delta, 0);
      return {result};
    };
    const worst = tuned();
    const mean = tuned('mean');
    // 'max': 0.005 and 0.01 pass (10 x 0.01 <= 0.11), 0.02 does not; 'mean': up to 0.04 (2.5 x 0.04 <= 0.11).
    expect(
      Object.values(worst.result.thresholds).every((t) => Math.abs(t - 0.01) < 1e-12),
      `seed ${seed}`,
    ).to.equal(true);
    expect(
      Object.values(mean.result.thresholds).every((t) => Math.abs(t - 0.04) < 1e-12),
      `seed ${seed}`,
    ).to.equal(true);
    expect(worst.result.error).to.be.closeTo(0.1, 1e-12);
    expect(mean.result.error).to.be.closeTo(0.04 * 2.5, 1e-12);
    expect(() => tuneThresholds(delta, frames, {errorBudget: 0.1, aggregate: 'median' as 'mean'})).to.throw(
      /aggregate must be 'max' or 'mean', got "median"/,
    );
    tf.dispose(frames);
    delta.dispose();
    dense.dispose();
  });
});

/** Runs `frames` through a reset delta model: mean relative error against `dense` and mean skipped share (frames after the first). */
function streamRun(
  dense: tfl.LayersModel,
  delta: tfl.LayersModel,
  frames: tf.Tensor[],
): {error: number; skipped: number; inputActive: number} {
  delta.resetStates();
  let error = 0;
  let skipped = 0;
  let inputActive = 0;
  frames.forEach((frame, t) => {
    tf.tidy(() => {
      error +=
        relativeError(delta.predictOnBatch(frame) as tf.Tensor, dense.predict(frame) as tf.Tensor) / frames.length;
    });
    if (t > 0) {
      const stats = getDeltaStats(delta);
      skipped += stats.skippedShare / (frames.length - 1);
      inputActive += stats.layers[0].activeFraction / (frames.length - 1);
    }
  });
  return {error, skipped, inputActive};
}

describeEachBackend('thresholds relative to the activation scale', () => {
  it('one relative threshold: the same sparsity and error on [0, 1] frames and on x255 frames (scaling folded into the first conv)', async function () {
    this.timeout(600000);
    const seed = freshSeed();
    const unit = resnetStyle(seed, [null, null, 3], 8);
    const bytes = resnetStyle(seed, [null, null, 3], 8);
    const stem = bytes.getLayer('stem_conv');
    stem.setWeights([tf.tidy(() => tf.div(stem.getWeights()[0], 255))]);
    const source = streamFrames(48, 64);
    const frames = Array.from({length: 30}, (_, t) => tf.tidy(() => tf.expandDims(source.frame(t))));
    const frames255 = frames.map((f) => tf.mul(f, 255));
    tf.tidy(() => {
      const e = relativeError(bytes.predict(frames255[0]) as tf.Tensor, unit.predict(frames[0]) as tf.Tensor);
      expect(e, 'the x255 model computes the same function').to.be.below(1e-5);
    });
    // Calibrated on the first 8 frames, measured on the 22 after them.
    const options = {threshold: 0.05, thresholdScale: 'activation' as const, stats: true};
    const a = toDelta(unit, {...options, calibrationFrames: frames.slice(0, 8)});
    const b = toDelta(bytes, {...options, calibrationFrames: frames255.slice(0, 8)});
    const [sa, sb] = [getThresholdScales(a), getThresholdScales(b)];
    expect(sb.frames_sparsify! / sa.frames_sparsify!, `input scale (seed ${seed})`).to.be.closeTo(255, 255 * 1e-5);
    for (const name of Object.keys(sa).filter((n) => n !== 'frames_sparsify')) {
      expect(sb[name]! / sa[name]!, `${name} scale (seed ${seed})`).to.be.closeTo(1, 1e-4);
    }
    const ra = streamRun(unit, a, frames.slice(8));
    const rb = streamRun(bytes, b, frames255.slice(8));
    const ctx = `${source.name} (seed ${seed}): [0, 1] ${JSON.stringify(ra)}, x255 ${JSON.stringify(rb)}`;
    if (process.env.TFJS_DELTA_VERBOSE != null) console.log(`      ${ctx}`);
    expect(ra.error, `${ctx}: the threshold costs some error`).to.be.above(1e-4);
    expect(ra.skipped, `${ctx}: and skips work`).to.be.above(0.1);
    expect(Math.abs(rb.skipped - ra.skipped), `${ctx}: skipped share`).to.be.at.most(0.002);
    expect(Math.abs(rb.inputActive - ra.inputActive), `${ctx}: input active fraction`).to.be.at.most(0.002);
    // Float rounding differs between the two models (the x255 scale is folded into the first conv), so an element
    // near its threshold may truncate in one and not the other: seed 1661585766 flipped 1e-4 of the skipped share
    // and moved the error by 0.28%. A wrong scale moves both by orders of magnitude (the absolute case below).
    expect(Math.abs(rb.error - ra.error), `${ctx}: relative error`).to.be.at.most(1e-2 * ra.error);
    // Absolute thresholds do not carry over: 0.05 on 0-255 pixels sends nearly every changed pixel.
    const absA = toDelta(unit, {threshold: 0.05, stats: true});
    const absB = toDelta(bytes, {threshold: 0.05, stats: true});
    const [aa, ab] = [streamRun(unit, absA, frames.slice(8)), streamRun(bytes, absB, frames255.slice(8))];
    expect(
      ab.inputActive - aa.inputActive,
      `absolute thresholds: input active ${aa.inputActive} vs ${ab.inputActive}`,
    ).to.be.above(0.05);
    // The scales travel with saveThresholds / loadThresholds and with the saved model.
    const c = toDelta(bytes, {stats: true});
    loadThresholds(c, saveThresholds(b));
    expect(getThresholdScales(c)).to.deep.equal(sb);
    expect(getThresholds(c)).to.deep.equal(getThresholds(b));
    expect(streamRun(bytes, c, frames255.slice(8, 14))).to.deep.equal(streamRun(bytes, b, frames255.slice(8, 14)));
    let artifacts: tf.io.ModelArtifacts | null = null;
    await b.save(
      tf.io.withSaveHandler(async (x) => {
        artifacts = x;
        return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
      }),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(getThresholdScales(loaded)).to.deep.equal(sb);
    expect(() => toDelta(unit, {threshold: 0.05, thresholdScale: 'activation'})).to.throw(/needs calibrationFrames/);
    tf.dispose([...frames, ...frames255]);
    [a, b, c, absA, absB, loaded, unit, bytes].forEach((m) => m.dispose());
  });
});

/** How far above the budget PoseNet's error on held-out frames may be: they are frames tuning never saw. */
const HOLDOUT_FACTOR = 2;
const verbose = process.env.TFJS_DELTA_VERBOSE != null;

describeEachBackend('tuneThresholds: several outputs, held-out frames', () => {
  it('ResNet-style: the last third of the frames held back; their error is reported and near the budget', function () {
    this.timeout(600000);
    const seed = freshSeed();
    const dense = resnetStyle(seed, [null, null, 3], 8);
    const source = streamFrames(48, 64);
    const frames = Array.from({length: 24}, (_, t) => tf.tidy(() => tf.expandDims(source.frame(t))));
    const delta = toDelta(dense, {thresholdScale: 'activation', calibrationFrames: frames.slice(0, 6)});
    const budget = 0.02;
    let evaluated = 0;
    const result = tuneThresholds(delta, frames, {
      errorBudget: budget,
      holdout: 1 / 3,
      maxSteps: 6,
      onEvaluation: () => evaluated++,
    });
    const ctx = `${source.name} (seed ${seed}): ${JSON.stringify({...result, thresholds: undefined})}`;
    if (verbose) console.log(`      ${ctx}`);
    expect(result.error, ctx).to.be.at.most(budget);
    expect(result.holdoutError, ctx).to.be.a('number');
    // A fresh random network each run: over 61 seeds the worst held-out frame was 0.5-3.1x the budget and the
    // held-out mean 0.25-1.6x (seed 173256280 both maxima; the next 1.9x and 1.1x), so the mean is held within 2x of
    // the budget and the worst frame within 4x.
    expect(result.holdoutMeanError!, ctx).to.be.at.most(2 * budget);
    expect(result.holdoutError!, ctx).to.be.at.most(4 * budget);
    expect(result.holdoutMeanError!, ctx).to.be.at.most(result.holdoutError!);
    expect(result.holdoutSkippedShare!, ctx).to.be.above(0.1);
    expect(result.skippedShare, ctx).to.be.above(0.1);
    expect(result.evaluations).to.equal(evaluated);
    // The held-out frames are run from a reset stream with the tuned thresholds: the same numbers again.
    const again = tuneThresholds(
      delta,
      {tuneFrames: frames.slice(0, 16), holdoutFrames: frames.slice(16)},
      {errorBudget: budget, maxSteps: 0, global: false, perLayer: false},
    );
    expect(again.thresholds).to.deep.equal(result.thresholds);
    expect(again.holdoutError).to.equal(result.holdoutError);
    expect(() => tuneThresholds(delta, frames, {errorBudget: budget, holdout: 1})).to.throw(
      /holdout must be a share in \(0, 1\)/,
    );
    tf.dispose(frames);
    delta.dispose();
    dense.dispose();
  });

  const missing = posenetUnavailable() ?? videoUnavailable();
  it(`PoseNet (4 outputs, trained weights) on vtest.avi at 64x96: tuned on 20 frames, within ${HOLDOUT_FACTOR}x the budget on 20 later ones`, async function () {
    if (missing != null) {
      // Skips, saying why: the weights come from the npm registry, the video from apt.
      this.test!.title += ` (skipped: ${missing})`;
      this.skip();
    }
    this.timeout(900000);
    const dense = await loadPoseNet();
    expect(dense.outputs).to.have.length(4);
    // PoseNet's input scale: [-1, 1].
    const frame = (t: number) => tf.tidy(() => tf.sub(tf.mul(vtestFrame(t, 64, 96), 2), 1));
    const tuneFrames = Array.from({length: 20}, (_, t) => frame(t));
    const holdoutFrames = Array.from({length: 20}, (_, t) => frame(60 + t));
    const delta = toDelta(dense, {thresholdScale: 'activation', calibrationFrames: tuneFrames.slice(0, 8)});
    const budget = 0.05;
    const result = tuneThresholds(
      delta,
      {tuneFrames, holdoutFrames},
      {errorBudget: budget, perLayer: false, maxSteps: 7},
    );
    const ctx = JSON.stringify({...result, thresholds: undefined, threshold: result.thresholds.image_sparsify});
    if (verbose) console.log(`      PoseNet: ${ctx}`);
    expect(result.error, ctx).to.be.at.most(budget);
    expect(result.thresholds.image_sparsify, `${ctx}: a threshold was raised`).to.be.above(0);
    expect(result.holdoutError!, ctx).to.be.at.most(HOLDOUT_FACTOR * budget);
    // At 64x96 the 4x6 output's receptive fields cover most of the frame: little work can be skipped.
    expect(result.holdoutSkippedShare!, ctx).to.be.above(0.02);
    // The error of a frame is the largest over the outputs: a custom `error` seeing all four agrees.
    const perOutput: number[][] = [];
    const same = tuneThresholds(
      delta,
      {tuneFrames: tuneFrames.slice(0, 4)},
      {
        errorBudget: 1,
        maxSteps: 0,
        global: false,
        perLayer: false,
        error: (refs, outs) => {
          expect(refs).to.have.length(4);
          perOutput.push(outs.map((o, i) => relativeError(o, refs[i])));
          return Math.max(...perOutput[perOutput.length - 1]);
        },
      },
    );
    expect(same.error).to.equal(Math.max(...perOutput.flat()));
    tf.dispose([...tuneFrames, ...holdoutFrames]);
    delta.dispose();
    dense.dispose();
  });
});
