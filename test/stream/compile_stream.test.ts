/**
 * Compiled streaming plans: compileStream(model).step(frame) must give what model.predict gives on
 * 'cuda', frame after frame, for dense and delta models (for a delta model: the same model run eagerly on the
 * same frames, a twin with its own state); reset() reproduces the first frame; a change of resolution
 * re-plans; running the model eagerly in between re-captures; 10,000 steps leave GPU memory flat; what a
 * plan cannot capture fails with a clear error and leaks nothing. Frames: vtest.avi when available
 * (TFJS_DELTA_VTEST_FRAMES: the GPU run sets it), else a synthetic static-camera clip.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {setCudaOptions} from '../../src/backends/cuda/index';
import type {CudaBackend} from '../../src/backends/cuda/backend';
import {compileStream, getDeltaStats, setDeltaStats, toDelta} from '../../src/index';
import type {ToDeltaOptions} from '../../src/index';
import {flavr} from '../../src/models/flavr';
import {resnet} from '../../src/models/resnet';
import {runModelOnVideo} from '../../src/pipeline/run_model';
import type {VideoInfo} from '../../src/pipeline/ffmpeg';
import {describeCuda} from '../support/cuda';
import {FrameSource, streamFrames} from '../support/video_frames';
import {loadPoseNet, posenetUnavailable} from '../../data/models';

function cudaBackend(): CudaBackend {
  return tf.engine().findBackend('cuda') as unknown as CudaBackend;
}

/** max |a - b| / max(|b|, 1e-3) over the tensors (dense values). */
function relDiff(a: tf.Tensor | tf.Tensor[], b: tf.Tensor | tf.Tensor[]): number {
  const as = Array.isArray(a) ? a : [a];
  const bs = Array.isArray(b) ? b : [b];
  expect(as.length).to.equal(bs.length);
  let worst = 0;
  as.forEach((x, i) => {
    expect(x.shape).to.deep.equal(bs[i].shape);
    const xv = x.dataSync();
    const yv = bs[i].dataSync();
    let scale = 1e-3;
    let diff = 0;
    for (let k = 0; k < yv.length; k++) {
      if (!Number.isFinite(xv[k])) return (worst = Infinity);
      scale = Math.max(scale, Math.abs(yv[k]));
      diff = Math.max(diff, Math.abs(xv[k] - yv[k]));
    }
    worst = Math.max(worst, diff / scale);
  });
  return worst;
}

function dispose(t: tf.Tensor | tf.Tensor[]): void {
  (Array.isArray(t) ? t : [t]).forEach((x) => x.dispose());
}

/** A batch of `batch` frames starting at t (rows are different moments of the clip: independent streams). */
function batchAt(src: FrameSource, t: number, batch: number): tf.Tensor4D {
  // concat of expanded frames rather than tf.stack: Pack has no native kernel (strict kernels forbid the fallback)
  return tf.tidy(
    () => tf.concat(Array.from({length: batch}, (_, b) => tf.expandDims(src.frame(t + 37 * b), 0))) as tf.Tensor4D,
  );
}

type Predictor = {predict(x: tf.Tensor): tf.Tensor | tf.Tensor[]};

/** Steps `stream` and runs `reference` on the same frames; returns the worst relative difference and its frame. */
function worstOverSteps(
  stream: {step(x: tf.Tensor): tf.Tensor | tf.Tensor[]},
  reference: Predictor,
  src: FrameSource,
  frames: number,
  batch: number,
  start = 0,
  input: (src: FrameSource, t: number, batch: number) => tf.Tensor = batchAt,
): {worst: number; at: number} {
  let worst = 0,
    at = -1;
  for (let t = start; t < start + frames; t++) {
    const x = input(src, t, batch);
    const got = stream.step(x);
    const want = reference.predict(x);
    const d = relDiff(got, want);
    if (d > worst) [worst, at] = [d, t];
    dispose(x);
    dispose(want);
    dispose(got);
  }
  return {worst, at};
}

/** `model` run eagerly with the backend's half storage on and TF32 allowed: what an 'fp16' stream replays. */
function eagerAtHalf(model: tfl.LayersModel): Predictor {
  return {
    predict: (x) => {
      const backend = cudaBackend();
      backend.halfStorage = true;
      try {
        return model.predict(x);
      } finally {
        backend.halfStorage = false;
      }
    },
  };
}

/** FLAVR's input at t: frames t..t+3 as [batch, 4, H, W, 3] (concat, not stack: Pack has no native kernel). */
function flavrInput(src: FrameSource, t: number, batch: number): tf.Tensor {
  return tf.tidy(() =>
    tf.concat(
      Array.from({length: batch}, (_, b) =>
        tf.expandDims(tf.concat(Array.from({length: 4}, (_, i) => tf.expandDims(src.frame(t + i + 37 * b), 0))), 0),
      ),
    ),
  );
}

/** Two delta models of `dense` (threshold 0.02) with their own state: one to compile, one run eagerly beside it. */
function deltaTwins(dense: tfl.LayersModel, options: ToDeltaOptions = {}): [tfl.LayersModel, tfl.LayersModel] {
  return [toDelta(dense, {threshold: 0.02, ...options}), toDelta(dense, {threshold: 0.02, ...options})];
}

function smallPose(): tfl.LayersModel {
  return resnet({depth: 18, head: 'pose', width: 16, deconvChannels: 32, joints: 5});
}

describe('compileStream: refusals that need no GPU', () => {
  it('names the backend when it is not cuda', () => {
    const m = tfl.sequential({layers: [tfl.layers.dense({inputShape: [3], units: 2})]});
    if (tf.getBackend() === 'cuda') return; // covered on the GPU by the suite below
    expect(() => compileStream(m)).to.throw(/compiled streams need the 'cuda' backend \(current backend: '/);
    m.dispose();
  });
});

describeCuda('compileStream: a CUDA-graph plan replayed per frame', () => {
  before(async () => {
    await tf.setBackend('cuda');
    setCudaOptions({poison: false}); // the plan's buffers are written by the graph; poison fills would be replayed
  });

  it('dense ResNet-18 pose, batch 2: 200 steps equal model.predict (TF32 and strict fp32)', () => {
    const src = streamFrames(72, 96);
    const model = smallPose();
    for (const precision of ['tf32', 'fp32'] as const) {
      setCudaOptions({allowTF32: precision === 'tf32'});
      const stream = compileStream(model, {precision});
      const {worst} = worstOverSteps(stream, model, src, 200, 2);
      expect(stream.info.captured, precision).to.equal(true);
      expect(stream.info.replayedFrames, precision).to.equal(199);
      expect(stream.info.graphNodes, precision).to.be.greaterThan(50);
      expect(worst, `${precision}, ${src.name}`).to.be.at.most(1e-6);
      stream.dispose();
    }
    setCudaOptions({allowTF32: true});
    model.dispose();
  });

  it('delta ResNet-18 pose (threshold 0.02): 200 steps equal an eager twin with its own state', () => {
    const src = streamFrames(96, 128);
    const dense = smallPose();
    const [compiled, eager] = deltaTwins(dense);
    const stream = compileStream(compiled);
    const {worst, at: worstAt} = worstOverSteps(stream, eager, src, 200, 1);
    expect(stream.info.captures).to.equal(1);
    expect(stream.info.replayedFrames).to.equal(198);
    expect(worst, `worst at frame ${worstAt} (${src.name})`).to.be.at.most(1e-5);
    stream.dispose();
    [compiled, eager, dense].forEach((m) => m.dispose());
  });

  it('delta ResNet-18 pose with a dilated input test (0.06, 5 x 5): 100 steps equal an eager twin', () => {
    const src = streamFrames(96, 128);
    const dense = smallPose();
    const [compiled, eager] = deltaTwins(dense, {inputThreshold: 0.06, dilation: 5});
    const stream = compileStream(compiled);
    const {worst, at: worstAt} = worstOverSteps(stream, eager, src, 100, 2);
    expect(stream.info.captures).to.equal(1);
    expect(worst, `worst at frame ${worstAt} (${src.name})`).to.be.at.most(1e-5);
    stream.dispose();
    [compiled, eager, dense].forEach((m) => m.dispose());
  });

  it(
    'precision fp16: steps equal the model run eagerly at fp16 (dense pose b2 200 frames, FLAVR, delta pose); ' +
      'error vs strict fp32 within 1e-2',
    () => {
      const src = streamFrames(72, 96);
      const pose = smallPose();
      const fl = flavr({widths: [8, 12, 16, 24]});
      const fp32Error = (model: tfl.LayersModel, x: tf.Tensor) => {
        const stream = compileStream(model, {precision: 'fp16'});
        const outs = [0, 1].map(() => stream.step(x)); // the second is replayed
        setCudaOptions({allowTF32: false});
        const strict = model.predict(x);
        setCudaOptions({allowTF32: true});
        const err = relDiff(outs[1], strict);
        expect(stream.info.captured).to.equal(true);
        outs.forEach(dispose);
        dispose(strict);
        stream.dispose();
        return err;
      };
      const cases: Array<
        [string, tfl.LayersModel, number, number, (s: FrameSource, t: number, b: number) => tf.Tensor]
      > = [
        ['dense ResNet-18 pose, batch 2', pose, 200, 2, batchAt],
        ['FLAVR (narrow), batch 1', fl, 40, 1, flavrInput],
      ];
      for (const [name, model, frames, batch, input] of cases) {
        const stream = compileStream(model, {precision: 'fp16'});
        const {worst, at} = worstOverSteps(stream, eagerAtHalf(model), src, frames, batch, 0, input);
        expect(stream.info.replayedFrames, name).to.equal(frames - 1);
        // the same kernels on the same data: equal but for cuDNN's own run-to-run rounding (a half ulp is 4.9e-4)
        expect(worst, `${name}: step vs eager fp16, worst at frame ${at} (${src.name})`).to.be.at.most(1e-3);
        stream.dispose();
        const x = input(src, 3, batch);
        const err = fp32Error(model, x);
        console.log(`      fp16 vs strict fp32, ${name}: max |diff| / max |fp32| = ${err.toExponential(2)}`);
        // measured 0.8-1.4e-3: half rounding through ~20 layers; a wrong kernel or layout gives 1e-1 and up
        expect(err, `${name}: fp16 vs strict fp32`).to.be.at.most(1e-2).and.greaterThan(0);
        x.dispose();
      }
      // Delta layers keep float32 data and state; the dense layers between them run at half.
      const [compiled, eager] = deltaTwins(pose);
      const stream = compileStream(compiled, {precision: 'fp16'});
      const {worst, at} = worstOverSteps(stream, eagerAtHalf(eager), streamFrames(96, 128), 100, 1);
      expect(worst, `delta pose fp16: step vs eager twin, worst at frame ${at}`).to.be.at.most(1e-3);
      stream.dispose();
      [compiled, eager, pose, fl].forEach((m) => m.dispose());
    },
  );

  it('fp16: a dense and a delta stream stepped in turn each equal their eager twins (PoseNet when fetched, 60 frames)', async () => {
    // Two models in one process, as `run --compare` has them: the second model's warm-up frames build new cuDNN
    // plans, and a plan the first stream captured must keep the workspace it replays with.
    const trained = posenetUnavailable() == null;
    const dense = trained ? await loadPoseNet() : smallPose();
    const src = trained ? streamFrames(289, 385) : streamFrames(96, 128);
    const [compiled, eager] = deltaTwins(dense);
    const denseStream = compileStream(dense, {precision: 'fp16'});
    const deltaStream = compileStream(compiled, {precision: 'fp16'});
    const denseEager = eagerAtHalf(dense),
      deltaEager = eagerAtHalf(eager);
    let worstDense = 0,
      worstDelta = 0,
      at = -1;
    for (let t = 0; t < 60; t++) {
      const x = batchAt(src, t, 1);
      const outs = [denseStream.step(x), denseEager.predict(x), deltaStream.step(x), deltaEager.predict(x)];
      worstDense = Math.max(worstDense, relDiff(outs[0], outs[1]));
      const d = relDiff(outs[2], outs[3]);
      if (d > worstDelta) [worstDelta, at] = [d, t];
      outs.forEach(dispose);
      x.dispose();
    }
    const name = trained ? 'PoseNet' : 'ResNet-18 pose (PoseNet not fetched)';
    expect(deltaStream.info.replayedFrames, name).to.equal(58);
    expect(worstDense, `${name}: dense step vs eager fp16 (${src.name})`).to.be.at.most(1e-3);
    expect(worstDelta, `${name}: delta step vs eager twin, worst at frame ${at} (${src.name})`).to.be.at.most(1e-3);
    denseStream.dispose();
    deltaStream.dispose();
    [compiled, eager, dense].forEach((m) => m.dispose());
  });

  it('TFJS_DELTA_STREAM_DIRECT_INPUTS: plans without the input copy have one node fewer and give the same frames', () => {
    const saved = process.env.TFJS_DELTA_STREAM_DIRECT_INPUTS;
    const src = streamFrames(72, 96);
    const dense = smallPose();
    const [compiled, eager] = deltaTwins(dense);
    const nodes: number[] = [];
    try {
      for (const direct of ['0', '1']) {
        process.env.TFJS_DELTA_STREAM_DIRECT_INPUTS = direct;
        const stream = compileStream(dense);
        const {worst} = worstOverSteps(stream, dense, src, 40, 2);
        expect(worst, `dense, direct inputs ${direct}`).to.be.at.most(1e-6);
        nodes.push(stream.info.graphNodes);
        stream.dispose();
      }
      // The delta twin, stepped eagerly in lockstep, keeps its own state: compare it to the direct plan only.
      const stream = compileStream(compiled);
      const {worst, at} = worstOverSteps(stream, eager, src, 60, 2);
      expect(stream.info.captures, 'delta captures').to.equal(1);
      expect(worst, `delta, direct inputs, worst at frame ${at}`).to.be.at.most(1e-5);
      stream.dispose();
    } finally {
      if (saved === undefined) delete process.env.TFJS_DELTA_STREAM_DIRECT_INPUTS;
      else process.env.TFJS_DELTA_STREAM_DIRECT_INPUTS = saved;
      [compiled, eager, dense].forEach((m) => m.dispose());
    }
    expect(nodes[1], `graph nodes with the input copy ${nodes[0]}, without ${nodes[1]}`).to.equal(nodes[0] - 1);
  });

  it('delta model at threshold 0 tracks the dense model over 200 steps', () => {
    const src = streamFrames(96, 128);
    const dense = smallPose();
    const delta = toDelta(dense, {threshold: 0});
    const stream = compileStream(delta, {precision: 'fp32'});
    setCudaOptions({allowTF32: false});
    const {worst} = worstOverSteps(stream, dense, src, 200, 1);
    setCudaOptions({allowTF32: true});
    expect(worst, src.name).to.be.at.most(2e-5);
    stream.dispose();
    [delta, dense].forEach((m) => m.dispose());
  });

  it('reset() reproduces the first frame; a new resolution re-plans; an eager frame in between re-captures', () => {
    const src = streamFrames(64, 80);
    const dense = smallPose();
    const [compiled, eager] = deltaTwins(dense);
    const stream = compileStream(compiled);
    const frames = Array.from({length: 8}, (_, t) => batchAt(src, t, 1));
    const first = stream.step(frames[0]) as tf.Tensor;
    for (let t = 1; t < 8; t++) dispose(stream.step(frames[t]));
    expect(stream.info.captured).to.equal(true);
    stream.reset();
    expect(stream.info.captured).to.equal(false);
    const again = stream.step(frames[0]) as tf.Tensor;
    expect(relDiff(again, first)).to.be.at.most(1e-6);
    dispose([first, again]);

    // Continue the restarted stream into a capture, then change resolution: a new stream and a new plan.
    for (let t = 1; t < 5; t++) dispose(stream.step(frames[t]));
    const captures = stream.info.captures;
    const wide = streamFrames(48, 112);
    eager.resetStates();
    const newResolution = worstOverSteps(stream, eager, wide, 6, 1);
    expect(stream.info.captures).to.equal(captures + 1);
    expect(newResolution.worst, `frame ${newResolution.at}, new resolution`).to.be.at.most(1e-5);

    // The model run eagerly between steps moves its state on: the next step must re-capture, and still agree.
    const x6 = batchAt(wide, 6, 1);
    dispose([compiled.predict(x6) as tf.Tensor, eager.predict(x6) as tf.Tensor]);
    const afterEager = worstOverSteps(stream, eager, wide, 3, 1, 7);
    expect(afterEager.worst, `frame ${afterEager.at}, after an eager frame`).to.be.at.most(1e-5);
    expect(stream.info.captures).to.equal(captures + 2);

    // resetStates() between steps frees the layers' state (updated in place by the graph): the plan must notice,
    // and the restarted stream must match the eager twin restarted the same way.
    compiled.resetStates();
    eager.resetStates();
    const afterReset = worstOverSteps(stream, eager, wide, 5, 1, 20);
    expect(afterReset.worst, `frame ${afterReset.at}, after resetStates`).to.be.at.most(1e-5);
    expect(stream.info.captures).to.equal(captures + 3);

    // New weights (shared by the dense model and both delta twins): the plan must not replay the old buffers.
    const scaled = dense.getWeights().map((w) => tf.mul(w, 1.01));
    dense.setWeights(scaled);
    tf.dispose(scaled);
    const newWeights = worstOverSteps(stream, eager, wide, 4, 1, 10);
    expect(newWeights.worst, `frame ${newWeights.at}, new weights`).to.be.at.most(1e-5);
    expect(stream.info.captures).to.equal(captures + 4);
    dispose([x6, ...frames]);
    stream.dispose();
    [compiled, eager, dense].forEach((m) => m.dispose());
  });

  it('runModelOnVideo on cuda runs compiled streams by default: the same per-frame records as an eager run', async () => {
    const src = streamFrames(48, 64);
    const frames = Array.from({length: 12}, (_, t) =>
      tf.tidy(() => Uint8Array.from(src.frame(t).dataSync(), (v) => Math.round(v * 255))),
    );
    const info: VideoInfo = {
      width: src.width,
      height: src.height,
      fps: 10,
      duration: 1.2,
      frames: 12,
      codec: 'raw',
      hasAudio: false,
    };
    const model = smallPose();
    const run = (compile: boolean) =>
      runModelOnVideo({
        input: 'synthetic frames',
        model,
        mode: 'compare',
        threshold: 0.02,
        height: src.height,
        width: src.width,
        range: [0, 1],
        compile,
        source: {info, frames},
      });
    const eager = await run(false);
    const compiled = await run(true);
    expect(compiled.frames).to.equal(12);
    compiled.records.forEach((r, i) => {
      const e = eager.records[i];
      expect(r.deviation, `frame ${i}: delta vs dense deviation`).to.be.closeTo(e.deviation!, 1e-5);
      expect(r.inputActive, `frame ${i}: input active fraction`).to.be.closeTo(e.inputActive!, 1e-6);
      expect(r.macsSkipped, `frame ${i}: multiply-adds skipped`).to.be.closeTo(e.macsSkipped!, 1e-6);
    });
    model.dispose();
  });

  it('10,000 steps leave GPU memory and the tensor count flat (dense and delta)', () => {
    const input = tfl.input({shape: [null, null, 3] as unknown as number[]});
    const h = tfl.layers
      .conv2d({filters: 8, kernelSize: 3, padding: 'same', activation: 'relu'})
      .apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers
      .conv2d({filters: 4, kernelSize: 3, strides: 2, padding: 'same'})
      .apply(h) as tfl.SymbolicTensor;
    const dense = tfl.model({inputs: input, outputs: out});
    const src = streamFrames(24, 32);
    const x = [batchAt(src, 0, 1), batchAt(src, 1, 1)];
    for (const model of [dense, toDelta(dense, {threshold: 0.02})]) {
      const stream = compileStream(model);
      const backend = cudaBackend();
      let at100 = {bytes: 0, tensors: 0};
      for (let t = 0; t < 10000; t++) {
        dispose(stream.step(x[t % 2]));
        if (t === 99) at100 = {bytes: backend.memory().numBytesInGPU, tensors: tf.memory().numTensors};
      }
      const end = {bytes: backend.memory().numBytesInGPU, tensors: tf.memory().numTensors};
      expect(end, model.name).to.deep.equal(at100);
      expect(stream.info.replayedFrames).to.be.greaterThan(9990);
      stream.dispose();
      if (model !== dense) model.dispose();
    }
    dispose(x);
    dense.dispose();
  });

  it('dispose() returns the plan memory; errors name what went wrong and leak nothing', () => {
    const dense = smallPose();
    const src = streamFrames(40, 48);
    const x = batchAt(src, 0, 1);
    const backend = cudaBackend();
    // Warm the model first: its first predict builds cuDNN plans, derived filter layouts and the workspace,
    // which outlive any stream.
    dispose(dense.predict(x) as tf.Tensor);
    const tensors = tf.memory().numTensors;
    const inUse = backend.memory().numBytesInGPU;
    const stream = compileStream(dense);
    for (let t = 0; t < 3; t++) dispose(stream.step(x));
    expect(stream.info.planBytes).to.be.greaterThan(0);
    stream.dispose();
    expect(tf.memory().numTensors).to.equal(tensors);
    expect(backend.memory().numBytesInGPU).to.equal(inUse);
    expect(() => stream.step(x)).to.throw(/disposed/);

    expect(() => compileStream(dense, {precision: 'bf16' as 'fp16'})).to.throw(/precision must be/);
    const s2 = compileStream(dense);
    expect(() => s2.step([x, x])).to.throw(/1 input\(s\), got 2/);
    expect(() => s2.step(tf.zeros([1, 8, 8, 4]))).to.throw(/input 0 has shape \[1,8,8,4\]/);

    // Per-layer statistics: gathered on the device inside the plan, equal to the eager twin's host statistics.
    const [delta, twin] = deltaTwins(dense);
    setDeltaStats(delta, true);
    setDeltaStats(twin, true);
    const s3 = compileStream(delta);
    const clip = streamFrames(40, 48);
    expect(() => s3.stats()).to.throw(/no plan captured yet/);
    for (let t = 0; t < 6; t++) {
      const f = batchAt(clip, t, 1);
      dispose([s3.step(f) as tf.Tensor, twin.predict(f) as tf.Tensor, f]);
      if (t < 2) continue;
      const got = s3.stats();
      const want = getDeltaStats(twin);
      expect(got.layers.map((l) => l.name)).to.deep.equal(want.layers.map((l) => l.name));
      got.layers.forEach((l, i) => {
        expect(l.activeFraction, `${l.name}, frame ${t}`).to.be.closeTo(want.layers[i].activeFraction, 1e-6);
        expect(l.computedFraction, `${l.name} computed, frame ${t}`).to.be.closeTo(
          want.layers[i].computedFraction,
          1e-6,
        );
      });
      expect(got.skippedShare).to.be.closeTo(want.skippedShare, 1e-6);
    }
    expect(() => compileStream(dense).stats()).to.throw(/\{stats: true\}/);
    // They cost the graph two launches for every 32 masks counted (each layer's output mask and a truncating conv's
    // reach), not nodes of their own per layer.
    const [plain] = deltaTwins(dense);
    const bare = compileStream(plain);
    for (let t = 0; t < 4; t++) {
      const f = batchAt(clip, t, 1);
      dispose([bare.step(f) as tf.Tensor, f]);
    }
    const counted = s3.stats().layers.length * 2;
    expect(s3.info.graphNodes - bare.info.graphNodes, 'graph nodes the statistics add').to.be.within(
      1,
      2 * Math.ceil(counted / 32),
    );
    bare.dispose();
    plain.dispose();

    // A layer that reads data on the host inside the frame: the capture fails with the reason, is abandoned,
    // and leaves no plan memory behind.
    class HostRead extends tfl.layers.Layer {
      static className = 'HostReadForTest';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        const t = Array.isArray(inputs) ? inputs[0] : inputs;
        return tf.mul(t, tf.max(t).dataSync()[0]);
      }
    }
    const input = tfl.input({shape: [null, null, 3] as unknown as number[]});
    const reading = tfl.model({inputs: input, outputs: new HostRead({}).apply(input) as tfl.SymbolicTensor});
    const s4 = compileStream(reading);
    dispose(s4.step(x));
    const before = {tensors: tf.memory().numTensors, bytes: backend.memory().numBytesInGPU};
    expect(() => s4.step(x)).to.throw(
      /capturing a frame of model .* failed: .*download.*compiled plan is being captured/,
    );
    expect({tensors: tf.memory().numTensors, bytes: backend.memory().numBytesInGPU}).to.deep.equal(before);
    // The backend still works after the abandoned capture.
    const y = tf.add(x, 1);
    expect(y.dataSync()[0]).to.be.closeTo(x.dataSync()[0] + 1, 1e-6);
    dispose([x, y]);
    [s2, s3, s4].forEach((s) => s.dispose());
    [delta, twin, reading, dense].forEach((m) => m.dispose());
  });
});
