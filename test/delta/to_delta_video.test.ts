/**
 * Delta models on real static-camera video (vtest.avi, scaled to 96x128), per backend:
 *  - thresholds 0: toDelta of a tf.layers ResNet-style model and of nsfwjs's Keras MobileNetV2
 *    reproduce the dense model on every frame of a 30-frame sequence (relative error <= 1e-4);
 *  - thresholds > 0: the error stays bounded (no growth from the first third of the sequence to
 *    the last) over 300 frames (MobileNetV2 on 'cpu': 60, the reference kernels being slow),
 *    while the input and early layers are sparse;
 *  - MobileNetV2 saves and loads as model.json + weights with identical outputs, and
 *    resetStates reproduces the first frame.
 * TFJS_DELTA_VERBOSE=1 prints per-layer active fractions and the errors. Skips (saying why) only
 * when vtest.avi or ffmpeg cannot be had: scripts/fetch-test-data.sh installs them.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {getDeltaStats, toDelta} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {freshSeed} from '../support/util';
import {loadNsfwMobileNetV2, relativeError} from '../../data/models';
import {videoUnavailable, vtestFrame} from '../../data/vtest';
import {envFlag} from '../../src/io/env';
import {resnetStyle} from '../support/sequences';

const [H, W] = [96, 128];
/** The 300-frame ResNet-style run uses a smaller frame, to keep the 'cpu' reference kernels quick. */
const [HS, WS] = [48, 64];
const verbose = envFlag('TFJS_DELTA_VERBOSE');

interface SequenceResult {
  /** Relative error per evaluated frame. */
  errors: Map<number, number>;
  /** Per delta layer, mean active fraction over the frames after the first. */
  active: Map<string, number>;
  skippedShare: number;
}

/** Dense outputs by frame (and batch), computed once per model and backend. */
type DenseCache = Map<string, tf.Tensor>;

interface Clip {
  height: number;
  width: number;
  batch: number;
}

function denseOutput(dense: tfl.LayersModel, cache: DenseCache, t: number, clip: Clip): tf.Tensor {
  const key = `${t} ${clip.height}x${clip.width}x${clip.batch}`;
  let out = cache.get(key);
  if (out == null) {
    out = tf.keep(tf.tidy(() => dense.predict(vtestFrame(t, clip.height, clip.width, clip.batch)) as tf.Tensor));
    cache.set(key, out);
  }
  return out;
}

/** Runs frames [from, to) through a reset delta model; the relative error of the frames `evaluate` picks. */
function runVideo(
  dense: tfl.LayersModel,
  cache: DenseCache,
  delta: tfl.LayersModel,
  from: number,
  to: number,
  evaluate: (t: number) => boolean = () => true,
  clip: Clip = {height: H, width: W, batch: 1},
): SequenceResult {
  const errors = new Map<number, number>();
  const active = new Map<string, number>();
  let skipped = 0;
  const stats = delta.layers.some((l) => (l as unknown as {statsEnabled?: boolean}).statsEnabled);
  delta.resetStates();
  for (let t = from; t < to; t++) {
    tf.tidy(() => {
      const got = delta.predictOnBatch(vtestFrame(t, clip.height, clip.width, clip.batch)) as tf.Tensor;
      if (evaluate(t)) errors.set(t, relativeError(got, denseOutput(dense, cache, t, clip)));
    });
    if (stats && t > from) {
      const frame = getDeltaStats(delta);
      skipped += frame.skippedShare / (to - from - 1);
      for (const l of frame.layers) active.set(l.name, (active.get(l.name) ?? 0) + l.activeFraction / (to - from - 1));
    }
  }
  return {errors, active, skippedShare: skipped};
}

const meanOf = (v: Iterable<number>) => {
  const a = [...v];
  return a.reduce((s, e) => s + e, 0) / a.length;
};

function report(label: string, r: SequenceResult): void {
  if (!verbose) return;
  const errors = [...r.errors.values()];
  console.log(
    `      ${label}: error mean ${meanOf(errors).toExponential(2)} max ${Math.max(...errors).toExponential(2)}, ` +
      `MACs skipped ${(100 * r.skippedShare).toFixed(1)}%`,
  );
  if (r.active.size > 0) {
    console.log(`      active fraction per layer: ${[...r.active].map(([n, a]) => `${n} ${a.toFixed(3)}`).join(', ')}`);
  }
}

/**
 * Thresholds > 0 over `frames` frames: the mean error stays below `bound`, and it does not grow
 * with the length of the stream: the last third of the sequence is no worse than the middle one
 * (the first third is left out: pixels that drift slowly below the input threshold take a while
 * to reach their bounded staleness).
 */
function checkLongStream(
  dense: tfl.LayersModel,
  cache: DenseCache,
  delta: tfl.LayersModel,
  frames: number,
  every: number,
  bound: number,
  ctx: string,
  clip?: Clip,
): SequenceResult {
  const r = runVideo(dense, cache, delta, 0, frames, (t) => t % every === 0, clip);
  const third = frames / 3;
  const errors = [...r.errors];
  const middle = meanOf(errors.filter(([t]) => t >= third && t < 2 * third).map(([, e]) => e));
  const last = meanOf(errors.filter(([t]) => t >= 2 * third).map(([, e]) => e));
  if (verbose)
    console.log(
      `      ${ctx}: mean error over frames ${third}-${2 * third}: ${middle.toExponential(2)}, after: ${last.toExponential(2)}`,
    );
  expect(meanOf(r.errors.values()), `${ctx}: mean error`).to.be.below(bound);
  expect(last, `${ctx}: mean error of the last third vs the middle one (${middle})`).to.be.at.most(1.5 * middle + 1e-3);
  expect(
    Math.max(...r.errors.values()),
    `${ctx}: thresholds must cost some error, or nothing is tested`,
  ).to.be.greaterThan(1e-5);
  return r;
}

const missing = videoUnavailable();

describeEachBackend('delta models on real video (vtest.avi)', (backend) => {
  if (missing != null) {
    it(`skipped: ${missing}`, function () {
      this.skip();
    });
    return;
  }

  describe('ResNet-style model (conv-BN-ReLU blocks, residual adds, max pool, global pool, dense)', () => {
    let dense: tfl.LayersModel;
    let seed: number;
    const cache: DenseCache = new Map();
    before(() => {
      seed = freshSeed();
      dense = resnetStyle(seed, [null, null, 3]);
    });
    after(() => {
      dense.dispose();
      tf.dispose([...cache.values()]);
    });

    it('thresholds 0: equals the dense model on all 30 frames, 2 streams (relative error <= 1e-4)', function () {
      this.timeout(600000);
      const delta = toDelta(dense);
      const r = runVideo(dense, cache, delta, 0, 30, () => true, {height: H, width: W, batch: 2});
      r.errors.forEach((e, t) => expect(e, `frame ${t} (seed ${seed})`).to.be.at.most(1e-4));
      delta.dispose();
    });

    it(`thresholds 0.05: error bounded and not growing over 300 frames (${HS}x${WS}); sparse input and early layers`, function () {
      this.timeout(600000);
      const delta = toDelta(dense, {threshold: 0.05, stats: true});
      const r = checkLongStream(dense, cache, delta, 300, 3, 0.05, `ResNet-style (seed ${seed})`, {
        height: HS,
        width: WS,
        batch: 1,
      });
      report(`ResNet-style threshold 0.05 [${backend}]`, r);
      expect(r.active.get('frames_sparsify'), 'input active fraction').to.be.below(0.2);
      expect(r.active.get('stem_conv'), 'stem active fraction (its ReLU folded in)').to.be.below(0.5);
      expect(r.skippedShare, 'MACs skipped').to.be.above(0.1);
      delta.dispose();
    });
  });

  describe("nsfwjs's Keras MobileNetV2 (depthwise convs, batch norm, ReLU6, residual adds)", () => {
    let dense: tfl.LayersModel;
    const cache: DenseCache = new Map();
    before(async () => {
      dense = await loadNsfwMobileNetV2(H, W);
    });
    after(() => {
      dense.dispose();
      tf.dispose([...cache.values()]);
    });

    it('thresholds 0: equals the dense model on all 30 frames (relative error <= 1e-4)', function () {
      this.timeout(600000);
      const delta = toDelta(dense);
      const r = runVideo(dense, cache, delta, 0, 30);
      r.errors.forEach((e, t) => expect(e, `frame ${t}`).to.be.at.most(1e-4));
      report(`MobileNetV2 threshold 0 [${backend}]`, r);
      delta.dispose();
    });

    // The reference kernels on 'cpu' take ~0.4 s a frame here: one threshold and 60 frames there.
    for (const threshold of backend === 'cpu' ? [0.05] : [0.02, 0.05]) {
      const frames = backend === 'cpu' ? 60 : 300;
      it(`thresholds ${threshold}: per-layer activity; error bounded and not growing over ${frames} frames`, function () {
        this.timeout(900000);
        const delta = toDelta(dense, {threshold, stats: true});
        const r = checkLongStream(
          dense,
          cache,
          delta,
          frames,
          backend === 'cpu' ? 2 : 3,
          0.2,
          `MobileNetV2 threshold ${threshold}`,
        );
        report(`MobileNetV2 threshold ${threshold} [${backend}]`, r);
        expect(r.active.get('input_1_sparsify'), 'input active fraction').to.be.below(0.1);
        expect(r.active.get('Conv1'), 'first ReLU6 active fraction (folded into Conv1)').to.be.below(0.2);
        expect(r.skippedShare, 'MACs skipped').to.be.above(0.15);
        delta.dispose();
      });
    }

    it('save -> load (model.json + weights) gives identical outputs; resetStates reproduces the first frame', async function () {
      this.timeout(600000);
      const delta = toDelta(dense, {threshold: 0.02});
      const run = (model: tfl.LayersModel) => {
        model.resetStates();
        return [0, 1, 2].map((t) => tf.tidy(() => model.predictOnBatch(vtestFrame(t, H, W)) as tf.Tensor));
      };
      const a = run(delta);
      let artifacts: tf.io.ModelArtifacts | null = null;
      await delta.save(
        tf.io.withSaveHandler(async (x) => {
          artifacts = x;
          return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
        }),
      );
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
      const b = run(loaded);
      const again = run(delta);
      a.forEach((t, i) => {
        expect(relativeError(b[i], t), `loaded, frame ${i}`).to.equal(0);
        expect(relativeError(again[i], t), `after resetStates, frame ${i}`).to.equal(0);
      });
      tf.dispose([...a, ...b, ...again]);
      loaded.dispose();
      delta.dispose();
    });
  });
});
