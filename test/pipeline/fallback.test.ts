/**
 * runModelOnVideo's measured fallback, per backend: the verdict from medians of frame times taken side by side;
 * frames timed only once both models run steadily; after a drop the dense model serves the delta side (its
 * results equal a dense run's), fidelity covers the delta model's frames only; kept, off, too short; bad options.
 * The verdicts are forced with minSpeedup (Infinity drops, 0 keeps), so no assertion depends on timing.
 * The dense side runs with its batch norms folded (the reference the delta model is measured against) unless told not to.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {fallbackVerdict, FrameResults, runModelOnVideo, RunOptions} from '../../src/pipeline/run_model';
import type {VideoInfo} from '../../src/pipeline/ffmpeg';
import {randomizeWeights} from '../../data/models';
import {describeEachBackend} from '../support/backends';
import {freshSeed} from '../support/util';

const [H, W] = [20, 24];

/** `count` RGB frames of random bytes in which a 4x4 patch at a moving place is drawn anew every frame. */
function movingPatchVideo(count: number, seed: number): {info: VideoInfo; frames: Uint8Array[]} {
  let state = seed >>> 0 || 1;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 24;
  const base = Uint8Array.from({length: H * W * 3}, next);
  const frames = Array.from({length: count}, (_, t) => {
    const f = base.slice();
    const [y0, x0] = [(3 * t) % (H - 4), (5 * t) % (W - 4)];
    for (let y = y0; y < y0 + 4; y++)
      for (let x = x0; x < x0 + 4; x++) for (let c = 0; c < 3; c++) f[(y * W + x) * 3 + c] = next();
    return f;
  });
  return {
    info: {width: W, height: H, fps: 10, duration: count / 10, frames: count, codec: 'raw', hasAudio: false},
    frames,
  };
}

/** A small classifier (logits of 5 classes), so that the delta side's results are its top classes. */
function classifier(seed: number): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({inputShape: [H, W, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu'}),
      tfl.layers.conv2d({filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'}),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({units: 5}),
    ],
  });
  randomizeWeights(model, seed);
  return model;
}

/**
 * runModelOnVideo of `model` over movingPatchVideo(count, seed) with `options` on top of this file's defaults,
 * keeping each frame's results (its top classes).
 */
async function runPatchVideo(
  model: tfl.LayersModel,
  seed: number,
  count: number,
  options: Pick<RunOptions, 'mode'> & Partial<RunOptions>,
): Promise<{summary: Awaited<ReturnType<typeof runModelOnVideo>>; results: FrameResults[]}> {
  const results: FrameResults[] = [];
  const summary = await runModelOnVideo({
    input: 'moving patch',
    model,
    threshold: 0.05,
    height: H,
    width: W,
    range: [0, 1],
    precision: 'fp32',
    results: true,
    source: movingPatchVideo(count, seed),
    onFrame: (_record, _info, r) => {
      results.push(r!);
    },
    ...options,
  });
  return {summary, results};
}

describe('fallbackVerdict', () => {
  it('compares the medians of the two sides; kept exactly at minSpeedup', () => {
    const v = fallbackVerdict([10, 30, 20, 99], [5, 40, 10, 11], 1, 4);
    expect(v).to.deep.include({firstFrame: 4, lastFrame: 7, denseMs: 25, deltaMs: 10.5, kept: true});
    expect(v.speedup).to.be.closeTo(25 / 10.5, 1e-12);
    expect(fallbackVerdict([10, 12, 11], [11, 10, 14], 1, 0)).to.deep.include({denseMs: 11, deltaMs: 11, kept: true});
    expect(fallbackVerdict([10, 12, 11], [11, 10, 14], 1.01, 0).kept).to.equal(false);
    expect(fallbackVerdict([10], [20], 0.5, 2)).to.deep.include({lastFrame: 2, kept: true});
    expect(() => fallbackVerdict([1, 2], [1], 1, 0)).to.throw(/as many dense as delta times \(got 2 and 1\)/);
    expect(() => fallbackVerdict([], [], 1, 0)).to.throw(/fallbackVerdict/);
  });
});

describeEachBackend('runModelOnVideo: the measured fallback', (backend) => {
  const onCuda = backend === 'cuda';
  // Compiled streams on 'cuda' replay from frame 2 (dense) and 3 (delta); eager models count from their third frame.
  const firstTimed = onCuda ? 3 : 2;
  const seed = freshSeed();
  let model: tfl.LayersModel;
  before(() => {
    model = classifier(seed);
  });
  after(() => model.dispose());

  const run = (mode: RunOptions['mode'], count: number, fallback?: RunOptions['fallback']) =>
    runPatchVideo(model, seed, count, {mode, fallback});

  it("drops a delta model that does not pay: the dense model serves the delta side, results equal a dense run's", async () => {
    const count = firstTimed + 4 + 5;
    const dense = await run('dense', count);
    for (const mode of ['delta', 'compare'] as const) {
      const {summary, results} = await run(mode, count, {frames: 4, minSpeedup: Infinity});
      const v = summary.fallback!;
      expect(v, mode).to.deep.include({firstFrame: firstTimed, lastFrame: firstTimed + 3, kept: false});
      expect(v.speedup, mode).to.be.greaterThan(0);
      const routes = summary.records.map((r) => r.deltaRoute);
      expect(routes, mode).to.deep.equal([
        ...Array(firstTimed + 4).fill('delta'),
        ...Array(count - firstTimed - 4).fill('dense'),
      ]);
      // From the frame after the verdict on, the delta side's results are the dense model's, exactly.
      for (let i = v.lastFrame + 1; i < count; i++)
        expect(results[i].classes, `${mode} frame ${i}`).to.deep.equal(dense.results[i].classes);
      summary.records.forEach((r, i) => {
        expect(r.deltaMs, `${mode} frame ${i}: the delta side is timed every frame`).to.be.a('number');
        if (mode === 'compare') {
          // Fidelity is the delta model's: measured while it ran, not over the frames the dense model served.
          expect(r.top1Agreement != null, `${mode} frame ${i}`).to.equal(i <= v.lastFrame);
        }
      });
      if (mode === 'compare') expect(summary.meanTop1Agreement).to.be.a('number');
      // The steady medians are the two models' over frames 2..lastFrame, not the dense model's on both sides.
      const ran = summary.records.slice(2, v.lastFrame + 1);
      const medianOf = (key: 'denseMs' | 'deltaMs') => {
        const xs = ran.map((r) => r[key]!).sort((a, b) => a - b);
        const m = xs.length >> 1;
        return xs.length % 2 === 1 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
      };
      if (mode === 'compare') expect(summary.denseMedianMs, mode).to.equal(medianOf('denseMs'));
      expect(summary.deltaMedianMs, mode).to.equal(medianOf('deltaMs'));
    }
  });

  it('keeps a delta model that pays, and measures nothing when off or when the clip is too short', async () => {
    const count = firstTimed + 3 + 2;
    const kept = await run('delta', count, {frames: 3, minSpeedup: 0});
    expect(kept.summary.fallback).to.deep.include({firstFrame: firstTimed, lastFrame: firstTimed + 2, kept: true});
    expect(kept.summary.records.every((r) => r.deltaRoute === 'delta')).to.equal(true);
    const off = await run('compare', count, {frames: 0});
    expect(off.summary.fallback).to.equal(undefined);
    const none = await run('compare', count);
    expect(none.summary.fallback).to.equal(undefined);
    const short = await run('delta', firstTimed + 2, {frames: 3, minSpeedup: Infinity});
    expect(short.summary.fallback, 'two timed frames of three').to.equal(undefined);
    expect(short.summary.records.every((r) => r.deltaRoute === 'delta')).to.equal(true);
    // In 'dense' mode there is no delta model to measure.
    const dense = await run('dense', count, {frames: 3, minSpeedup: Infinity});
    expect(dense.summary.fallback).to.equal(undefined);
    expect(dense.summary.records.every((r) => r.deltaRoute == null)).to.equal(true);
  });

  it('refuses bad fallback options before any work, naming them', async () => {
    for (const [fallback, message] of [
      [{frames: -1}, /fallback.frames must be an integer >= 0, got -1/],
      [{frames: 2.5}, /fallback.frames must be an integer >= 0, got 2.5/],
      [{frames: 3, minSpeedup: -1}, /fallback.minSpeedup must be a number >= 0, got -1/],
      [{frames: 3, minSpeedup: NaN}, /fallback.minSpeedup must be a number >= 0, got NaN/],
    ] as Array<[RunOptions['fallback'], RegExp]>) {
      let error: Error | null = null;
      const before = tf.memory().numTensors;
      try {
        await run('compare', 4, fallback);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message, JSON.stringify(fallback)).to.match(message);
      expect(tf.memory().numTensors, 'nothing made').to.equal(before);
    }
  });
});

describeEachBackend('runModelOnVideo: the dense side with its batch norms folded', () => {
  const seed = freshSeed();
  let model: tfl.LayersModel;
  before(() => {
    // Two batch norms that fold (after convs without activations) and one that cannot (after a relu).
    model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({inputShape: [H, W, 3], filters: 6, kernelSize: 3, padding: 'same', useBias: false}),
        tfl.layers.batchNormalization({}),
        tfl.layers.reLU({}),
        tfl.layers.conv2d({filters: 8, kernelSize: 3, strides: 2, padding: 'same'}),
        tfl.layers.batchNormalization({}),
        tfl.layers.reLU({}),
        tfl.layers.batchNormalization({}),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({units: 5}),
      ],
    });
    randomizeWeights(model, seed);
  });
  after(() => model.dispose());

  const run = (mode: RunOptions['mode'], foldBatchNorms?: boolean, fallback?: RunOptions['fallback']) =>
    runPatchVideo(model, seed, 6, {mode, threshold: 0, foldBatchNorms, fallback});

  it('folds by default, gives the unfolded outputs to rounding, and folds nothing when told not to', async () => {
    const before = model.getWeights().map((w) => w.clone());
    const folded = await run('dense');
    const asIs = await run('dense', false);
    expect(folded.summary.denseFoldedBatchNorms).to.equal(2);
    expect(asIs.summary.denseFoldedBatchNorms).to.equal(0);
    folded.results.forEach((r, i) =>
      r.classes!.forEach((c, k) => {
        const want = asIs.results[i].classes![k];
        expect(c.class, `frame ${i} rank ${k}`).to.equal(want.class);
        expect(c.score, `frame ${i} rank ${k}`).to.be.closeTo(want.score, 1e-5 * Math.max(1, Math.abs(want.score)));
      }),
    );
    // The user's model is left as it was (the folded one owns copies).
    model.getWeights().forEach((w, i) => expect(w.dataSync(), `weight ${i}`).to.deep.equal(before[i].dataSync()));
    tf.dispose(before);
    // 'compare' at threshold 0: the delta model (which folds the same batch norms) agrees with the folded dense one.
    const compare = await run('compare');
    expect(compare.summary.denseFoldedBatchNorms).to.equal(2);
    expect(compare.summary.maxDeviation).to.be.below(1e-4);
    // 'delta' runs no dense model, unless the measured fallback needs one.
    expect((await run('delta')).summary.denseFoldedBatchNorms).to.equal(0);
    expect((await run('delta', true, {frames: 2})).summary.denseFoldedBatchNorms).to.equal(2);
  });
});
