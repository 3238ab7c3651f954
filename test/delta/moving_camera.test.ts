/**
 * Delta models on a moving camera (cockatoo.mp4 from Debian's python3-imageio: a hand-held camera, so nearly every
 * pixel changes every frame), per backend:
 *  - thresholds 0: a ResNet-style delta model reproduces the dense model on every one of 40 frames (relative error
 *    <= 1e-4), with a stream of two rows;
 *  - PoseNet (trained) with `run`'s defaults (threshold 0.05, input test 0.1 x 7, a dense tail above 0.5 calibrated on
 *    the first 8 frames) at 720x1280: the calibration routes the whole model dense, fed the frames, so every frame's
 *    heatmaps equal the dense model's. Without toDelta's routing rules for such clips, three early layers stay delta
 *    there and the input test's error reaches the heads (PCK 43% on an H200).
 * Skips, saying why, when the clip, ffmpeg or PoseNet's weights cannot be had (scripts/fetch-test-data.sh,
 * scripts/fetch-posenet.sh), and PoseNet at 720x1280 on the 'cpu' reference backend (minutes per frame).
 */
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {isDeltaLayer, toDelta} from '../../src/index';
import {posenetJsonPath} from '../../src/io/cache';
import {posenet} from '../../src/models/posenet';
import {cockatooFrames, cockatooUnavailable} from '../../data/cockatoo';
import {relativeError} from '../../data/models';
import {describeEachBackend} from '../support/backends';
import {resnetStyle} from '../support/sequences';
import {freshSeed} from '../support/util';

const missing = cockatooUnavailable();
const POSENET = posenetJsonPath();

describeEachBackend('delta models on a moving camera (cockatoo.mp4)', (backend) => {
  if (missing != null) {
    it(`skipped: ${missing}`, function () {
      this.skip();
    });
    return;
  }

  it('thresholds 0: a ResNet-style delta model equals the dense model on all 40 frames, 2 streams', function () {
    this.timeout(600000);
    const seed = freshSeed();
    const dense = resnetStyle(seed, [null, null, 3]);
    const delta = toDelta(dense);
    const frames = cockatooFrames(80, 48, 64);
    try {
      for (let t = 0; t < 40; t++) {
        const err = tf.tidy(() => {
          const x = tf.concat([frames[t], frames[t + 40]]); // stream 2 starts 40 frames later
          return relativeError(delta.predictOnBatch(x) as tf.Tensor, dense.predict(x) as tf.Tensor);
        });
        expect(err, `frame ${t} (seed ${seed})`).to.be.at.most(1e-4);
      }
    } finally {
      tf.dispose(frames);
      delta.dispose();
      dense.dispose();
    }
  });

  it("PoseNet with run's defaults at 720x1280 is routed dense as a whole: every frame equals the dense model", async function () {
    if (!fs.existsSync(POSENET)) {
      console.log(`      (PoseNet weights not found at ${POSENET}: run scripts/fetch-posenet.sh)`);
      this.skip();
    }
    if (backend === 'cpu') {
      console.log("      (skipped on 'cpu': its reference kernels take minutes per 720x1280 frame)");
      this.skip();
    }
    this.timeout(600000);
    const dense = await posenet(POSENET);
    const frames = cockatooFrames(12, 720, 1280, -1, 1);
    const delta = toDelta(dense, {
      threshold: 0.05,
      inputThreshold: 0.1,
      dilation: 7,
      denseAbove: 0.5,
      calibrationFrames: frames.slice(0, 8),
    });
    try {
      const sparse = delta.layers.filter((l) => isDeltaLayer(l) && l.weights.length > 0).map((l) => l.name);
      expect(sparse, 'weighted layers left delta').to.deep.equal([]);
      for (let t = 0; t < frames.length; t++) {
        const err = tf.tidy(() => {
          const got = delta.predictOnBatch(frames[t]) as tf.Tensor[];
          const want = dense.predict(frames[t]) as tf.Tensor[];
          return Math.max(...want.map((w, i) => relativeError(got[i], w)));
        });
        expect(err, `frame ${t}: heads' relative error`).to.be.at.most(1e-4);
      }
    } finally {
      tf.dispose(frames);
      delta.dispose();
      dense.dispose();
    }
  });
});
