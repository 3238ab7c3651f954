/**
 * `tfjs-delta demo` (`npm run demo`): a delta CNN on a synthetic static-camera clip, dense vs delta.
 *
 * The clip is a textured static background with two small objects moving across it and sensor
 * noise, so most pixels do not change from frame to frame. The network is
 * conv3x3(3->16)+bias -> relu -> maxPool2 -> conv3x3(16->32) -> relu, run densely with tf ops and
 * as a delta stream with the package's ops. It prints, per frame, the active-pixel fraction at
 * each stage and the error against dense, then the totals.
 */
import * as tf from '@tensorflow/tfjs-core';

import {activeFraction, deltaConv2d, deltaMaxPool, sparseAccumulate} from '../index';

export interface DemoOptions {
  frames: number;
  threshold: number;
  height: number;
  width: number;
}

function makeFrame(t: number, h: number, w: number, background: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const ys = tf.reshape(tf.range(0, h), [h, 1]);
    const xs = tf.reshape(tf.range(0, w), [1, w]);
    const blob = (cy: number, cx: number, r: number) =>
      tf.cast(tf.lessEqual(tf.add(tf.square(tf.sub(ys, cy)), tf.square(tf.sub(xs, cx))), r * r), 'float32');
    const walker = blob(h * 0.6, (4 + 2.5 * t) % w, h / 12);
    const ball = blob(h * 0.3 + 6 * Math.sin(t / 3), w * 0.7, h / 16);
    const objects = tf.expandDims(tf.stack([tf.add(walker, ball), walker, ball], -1), 0);
    const noise = tf.mul(tf.cast(tf.greater(tf.randomUniform([1, h, w, 1]), 0.995), 'float32'), 0.2);
    return tf.add(
      tf.add(tf.mul(background, tf.sub(1, tf.minimum(objects, 1))), tf.mul(objects, 0.9)),
      noise,
    ) as tf.Tensor4D;
  });
}

interface State {
  [name: string]: tf.Tensor;
}

export async function runDemo({frames, threshold, height: h, width: w}: DemoOptions): Promise<void> {
  if (!(frames > 0) || !(threshold >= 0) || !(h >= 8) || !(w >= 8)) {
    throw new Error('demo: expected --frames N>0 --threshold T>=0 --size HxW (at least 8x8)');
  }
  console.log(
    `tfjs-delta demo: ${frames} frames of a ${h}x${w} synthetic static-camera clip, ` +
      `threshold ${threshold}, backend '${tf.getBackend()}'`,
  );
  const background = tf.randomUniform([1, h, w, 3], 0.2, 0.6);
  const w1 = tf.randomNormal([3, 3, 3, 16], 0, 0.3) as tf.Tensor4D;
  const b1 = tf.randomNormal([16], 0, 0.1) as tf.Tensor1D;
  const w2 = tf.randomNormal([3, 3, 16, 32], 0, 0.2) as tf.Tensor4D;
  const dense = (x: tf.Tensor4D) =>
    tf.tidy(() =>
      tf.relu(
        tf.conv2d(
          tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w1, 1, 'same'), b1)) as tf.Tensor4D, 2, 2, 'valid'),
          w2,
          1,
          'same',
        ),
      ),
    );

  let state: State = {};
  const zeros = (like: tf.Tensor, key: string) => state[key] ?? tf.zerosLike(like);
  let denseMs = 0,
    deltaMs = 0,
    maxError = 0;
  const activeSums = [0, 0, 0, 0];
  console.log('frame  input  conv1  relu1  relu2   rel.error');
  for (let t = 0; t < frames; t++) {
    const x = makeFrame(t, h, w, background);
    let t0 = performance.now();
    const want = dense(x);
    await want.data();
    denseMs += performance.now() - t0;

    t0 = performance.now();
    const next: State = {};
    const out = tf.tidy(() => {
      const input = sparseAccumulate(
        zeros(x, 'inA'),
        zeros(x, 'inR'),
        tf.sub(x, tf.add(zeros(x, 'inA'), zeros(x, 'inR'))),
        {threshold},
      );
      const c1 = deltaConv2d(input.delta as tf.Tensor4D, w1, 1, 'same', 'NHWC', 1, undefined, t === 0 ? b1 : undefined);
      const r1 = sparseAccumulate(zeros(c1, 'r1A'), zeros(c1, 'r1R'), c1, {threshold, activation: 'relu'});
      const p1 = deltaMaxPool(zeros(r1.delta, 'p1A') as tf.Tensor4D, r1.delta as tf.Tensor4D);
      const c2 = deltaConv2d(p1.delta, w2, 1, 'same');
      const r2 = sparseAccumulate(zeros(c2, 'r2A'), zeros(c2, 'r2R'), c2, {threshold, activation: 'relu'});
      const o = sparseAccumulate(zeros(c2, 'oA'), zeros(c2, 'oR'), r2.delta);
      Object.assign(next, {
        inA: input.accumulated,
        inR: input.residual,
        r1A: r1.accumulated,
        r1R: r1.residual,
        p1A: p1.accumulated,
        r2A: r2.accumulated,
        r2R: r2.residual,
        oA: o.accumulated,
        oR: o.residual,
      });
      Object.values(next).forEach((v) => tf.keep(v));
      const active = [input.delta, c1, r1.delta, r2.delta].map(activeFraction);
      active.forEach((a, i) => (activeSums[i] += a));
      return {output: o.accumulated.clone(), active: tf.tensor(active)};
    });
    await out.output.data();
    deltaMs += performance.now() - t0;
    tf.dispose(Object.values(state));
    state = next;

    const error = tf.tidy(
      () => tf.div(tf.max(tf.abs(tf.sub(out.output, want))), tf.maximum(tf.max(tf.abs(want)), 1e-12)).dataSync()[0],
    );
    maxError = Math.max(maxError, error);
    const active = Array.from(out.active.dataSync()).map((a) => (100 * a).toFixed(1).padStart(5) + '%');
    console.log(`${String(t).padStart(5)}  ${active.join(' ')}  ${error.toExponential(2)}`);
    tf.dispose([x, want, out.output, out.active]);
  }
  const mean = activeSums.map((s) => ((100 * s) / frames).toFixed(1) + '%');
  console.log(`\nmean active pixels: input ${mean[0]}, conv1 ${mean[1]}, relu1 ${mean[2]}, relu2 ${mean[3]}`);
  console.log(
    `max relative error vs dense: ${maxError.toExponential(2)} (threshold ${threshold}; 0 gives float rounding only)`,
  );
  console.log(
    `time per frame on '${tf.getBackend()}': dense ${(denseMs / frames).toFixed(1)} ms, ` +
      `delta ${(deltaMs / frames).toFixed(1)} ms` +
      (tf.getBackend() === 'cpu' ? ' (the reference CPU kernels favour clarity over speed)' : ''),
  );
  tf.dispose([background, w1, b1, w2, ...Object.values(state)]);
}
