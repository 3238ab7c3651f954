/**
 * The threshold-0 sequence invariant on 'cuda' over real video (../shared/DESIGN.md §3): 200 consecutive
 * vtest.avi frames through toDelta(ResNet-50 + pose head) (seeded weights, batch 1) and toDelta(nsfwjs's trained
 * MobileNetV2) (batch 2: two streams, frames t and t + 200), every threshold 0. Each frame's output must equal the
 * dense model's on the same frame, and the error must not grow along the sequence.
 *
 * Strict fp32 (TF32 off, as the other cuda suites' fp32 checks): the dense side is cuDNN, the delta side our
 * kernels summing the same products in another order and accumulating deltas frame after frame.
 * Tolerance, per frame: max |delta - dense| <= (1e-5 + 200 * 6e-8) * max |dense| (RTOL below). fp32's unit roundoff is 6e-8; a 3x3 conv over
 * 512 channels sums 4,608 products (cuDNN may pick Winograd/FFT algorithms, whose error is several times a direct
 * sum's), ResNet-50 chains ~55 of them, and the delta path adds one rounding per accumulation per layer per frame;
 * DeltaCNN's own threshold-0 figure is 3.5e-6. 1e-5 leaves room for cuDNN's algorithm choice and nothing for a
 * wrong tile, a missed mask pixel or a bias applied twice (each of those shows as errors of 1e-3 and up).
 * No drift: the mean error of the last 50 frames is at most 3x that of frames 1-50. Rounding accumulated as a
 * random walk grows like sqrt(t): mean sqrt(t) over frames 151-200 / over 1-50 = 2.8x (MobileNetV2 measured 2.3x
 * on an H100); a systematic drift grows like t: 7x.
 *
 * Needs the 'cuda' backend and the frames: TFJS_DELTA_VTEST_FRAMES=<dir> with vtest_96x128.rgb (400 frames; from
 * `python3 benchmarks/models/delta_vtest_torch.py frames`) or ffmpeg + vtest.avi; skipped saying which is missing.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {toDelta} from '../../../src/delta/to_delta';
import {setCudaOptions} from '../../../src/backends/cuda/index';
import {seededResNet50Pose} from '../../../data/models';
import {frameTensor, framesUnavailable, vtestRgb} from '../../../data/vtest';
import {cuda, describeCuda} from '../../support/cuda';
import {loadNsfwMobileNetV2} from '../../../data/models';

const [H, W] = [96, 128];
const FRAMES = 200;
const OFFSET = 200; // second stream of the batch-2 run: frames t + 200
// Per frame: 1e-5 (see above) plus one fp32 rounding (6e-8) per frame already summed into the output layer's
// accumulator (DeltaOutput adds each frame's delta to a running sum: after t frames its rounding is up to t * 6e-8
// of the output's scale). MobileNetV2 reached 1.23e-5 at frame 166 of 200 (H100, strict fp32) against a flat
// 1e-5; a logic error still shows as 1e-3 and up.
const RTOL = 1e-5 + FRAMES * 6e-8;
const WINDOW = 50;

/** Frame t (and t + OFFSET for batch 2) as [batch, H, W, 3] in [0, 1]. */
function frame(rgb: Uint8Array, t: number, batch: number): tf.Tensor4D {
  return tf.tidy(
    () => tf.concat(Array.from({length: batch}, (_, b) => frameTensor(rgb, t + b * OFFSET, H, W))) as tf.Tensor4D,
  );
}

/** Runs the sequence; returns max |delta - dense| / max |dense| per frame (failing at once on a bad frame). */
function sequenceErrors(dense: tfl.LayersModel, rgb: Uint8Array, batch: number, ctx: string): number[] {
  const delta = toDelta(dense, {threshold: 0});
  const errors: number[] = [];
  try {
    for (let t = 0; t < FRAMES; t++) {
      const x = frame(rgb, t, batch);
      const [want, got] = [dense.predict(x) as tf.Tensor, delta.predict(x) as tf.Tensor];
      expect(got.shape, `${ctx} frame ${t}: shape`).to.deep.equal(want.shape);
      const [g, w] = [got.dataSync(), want.dataSync()];
      tf.dispose([x, want, got]);
      let maxDiff = 0,
        scale = 0;
      for (let i = 0; i < w.length; i++) {
        const d = Math.abs(g[i] - w[i]);
        if (!(d <= maxDiff)) maxDiff = d; // NaN (a poisoned, unwritten element) propagates
        scale = Math.max(scale, Math.abs(w[i]));
      }
      const rel = maxDiff / scale;
      expect(scale, `${ctx} frame ${t}: dense output is all zeros`).to.be.greaterThan(0);
      if (!(rel <= RTOL)) expect.fail(`${ctx} frame ${t}: max |delta - dense| / max |dense| = ${rel} > ${RTOL}`);
      errors.push(rel);
    }
  } finally {
    delta.dispose();
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const [early, late] = [mean(errors.slice(1, 1 + WINDOW)), mean(errors.slice(-WINDOW))];
  console.log(
    `      ${ctx}: max rel error ${Math.max(...errors).toExponential(2)}; mean frames 1-${WINDOW} ` +
      `${early.toExponential(2)}, last ${WINDOW} ${late.toExponential(2)}`,
  );
  expect(late, `${ctx}: mean error of the last ${WINDOW} frames vs frames 1-${WINDOW}`).to.be.at.most(3 * early + 1e-9);
  return errors;
}

describeCuda('cuda: threshold-0 delta models over 200 vtest.avi frames equal the dense models', () => {
  const missing = cuda.available ? framesUnavailable(FRAMES + OFFSET, H, W) : null;
  if (missing != null) {
    it(`skipped: vtest frames unavailable: ${missing}`, function () {
      this.skip();
    });
    return;
  }
  let rgb: Uint8Array;
  before(async () => {
    rgb = vtestRgb(FRAMES + OFFSET, H, W);
    await tf.setBackend('cuda');
    setCudaOptions({allowTF32: false});
  });

  it(`toDelta(ResNet-50 + pose head), seeded weights, batch 1, ${H}x${W}`, function () {
    this.timeout(300000);
    const dense = seededResNet50Pose();
    try {
      sequenceErrors(dense, rgb, 1, 'ResNet-50 pose');
    } finally {
      dense.dispose();
    }
  });

  it(`toDelta(nsfwjs MobileNetV2), trained weights, batch 2 (two streams), ${H}x${W}`, async function () {
    this.timeout(300000);
    const dense = await loadNsfwMobileNetV2(H, W);
    try {
      sequenceErrors(dense, rgb, 2, 'MobileNetV2');
    } finally {
      dense.dispose();
    }
  });
});
