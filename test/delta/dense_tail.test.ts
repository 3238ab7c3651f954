/**
 * Delta models with a dense tail (toDelta's denseFrom / denseAbove), per backend: the hybrid equals the dense
 * model at threshold 0 and the all-delta model with an exact tail at a threshold; one DeltaOutput per boundary
 * tensor; the layers denseAbove picks are those the calibration frames keep active; clear errors; save -> load;
 * toDense; weights owned, not shared.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {getDeltaStats, getThresholds, isDeltaLayer, nodeFileSystem, toDelta, toDense} from '../../src/index';
import {MIN_SKIPPED_SHARE} from '../../src/delta/to_delta';
import {describeEachBackend} from '../support/backends';
import {expectClose, freshSeed} from '../support/util';
import {randomizeWeights} from '../../data/models';
import {resnetStyle, runParity} from '../support/sequences';
import {CALIBRATION_FRAMES, runModelOnVideo} from '../../src/pipeline/run_model';
import {ACTIVITY_ROWS, measureActivity} from '../../src/delta/calibrate';
import type {VideoInfo} from '../../src/pipeline/ffmpeg';

const L = tfl.layers;

/**
 * A chain of 3x3 convs (6 filters each, or `filters[i]`): a change at one pixel reaches a pixel more in every
 * direction per layer.
 */
function convChain(seed: number, depth: number, size: number, filters?: number[]): tfl.LayersModel {
  const layers: tfl.layers.Layer[] = [];
  for (let i = 0; i < depth; i++) {
    layers.push(
      L.conv2d({
        ...(i === 0 ? {inputShape: [size, size, 3]} : {}),
        filters: filters?.[i] ?? 6,
        kernelSize: 3,
        padding: 'same',
        name: `conv${i}`,
      }),
      L.batchNormalization({name: `conv${i}_bn`}),
      L.leakyReLU({alpha: 0.2, name: `act${i}`}),
    );
  }
  const model = tfl.sequential({layers, name: 'chain'});
  randomizeWeights(model, seed);
  return model;
}

/** `count` frames of `shape` that differ from the first only in a small patch at the centre, drawn anew each frame. */
function patchFrames(shape: number[], count: number, seed: number): tf.Tensor[] {
  const [b, h, w, c] = shape;
  const base = tf.randomUniform(shape, -1, 1, 'float32', seed);
  const inPatch = tf.tidy(() => {
    const rows = tf.logicalAnd(tf.greaterEqual(tf.range(0, h), h / 2 - 1), tf.less(tf.range(0, h), h / 2 + 1));
    const cols = tf.logicalAnd(tf.greaterEqual(tf.range(0, w), w / 2 - 1), tf.less(tf.range(0, w), w / 2 + 1));
    return tf.tile(tf.logicalAnd(tf.reshape(rows, [1, h, 1, 1]), tf.reshape(cols, [1, 1, w, 1])), [b, 1, 1, c]);
  });
  const frames = Array.from({length: count}, (_, t) =>
    tf.tidy(() => tf.where(inPatch, tf.randomUniform(shape, -1, 1, 'float32', seed + 1 + t), base)),
  );
  tf.dispose([base, inPatch]);
  return frames;
}

/** patchFrames of 16x16 as a video source for runModelOnVideo: RGB bytes ([-1, 1] mapped onto 0..255) and their info. */
function patchVideo(count: number, seed: number): {info: VideoInfo; frames: Uint8Array[]} {
  const frames = patchFrames([1, 16, 16, 3], count, seed).map((t) => {
    const bytes = Uint8Array.from(t.dataSync(), (v) => Math.round((v + 1) * 127.5));
    t.dispose();
    return bytes;
  });
  const info: VideoInfo = {
    width: 16,
    height: 16,
    fps: 10,
    duration: count / 10,
    frames: count,
    codec: 'raw',
    hasAudio: false,
  };
  return {info, frames};
}

/** Each weighted layer's activity over `frames` in the all-delta model with this input threshold. */
function activityOf(dense: tfl.LayersModel, frames: tf.Tensor[], inputThreshold: number) {
  const probe = toDelta(dense, {inputThreshold});
  try {
    return measureActivity(probe, frames);
  } finally {
    probe.dispose();
  }
}

const convsOf = (model: tfl.LayersModel) => model.layers.filter((l) => /Conv2D$/.test(l.getClassName()));

/** The outputs of `frames` run through `model` as a fresh stream. */
function streamOutputs(model: tfl.LayersModel, frames: tf.Tensor[]): tf.Tensor[] {
  model.resetStates();
  return frames.map((x) => model.predictOnBatch(x) as tf.Tensor);
}

describeEachBackend('toDelta with a dense tail', () => {
  it('denseFrom: equals the dense model at threshold 0 (residual adds across the boundary, batch 2, odd sizes)', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [null, null, 3], 4);
    // block2_conv2 starts the tail: block2_add then mixes a dense branch and the delta shortcut from block1.
    const hybrid = toDelta(dense, {denseFrom: ['block2_conv2']});
    const classOf = (name: string) => hybrid.getLayer(name).getClassName();
    expect(classOf('block2_conv1'), 'before the boundary').to.equal('DeltaConv2D');
    expect(classOf('block2_conv2'), 'its batch norm folded').to.equal('Conv2D');
    expect(classOf('block2_add')).to.equal('Add');
    expect(classOf('logits')).to.equal('Dense');
    const outs = hybrid.layers.filter((l) => l.getClassName() === 'DeltaOutput').map((l) => l.name);
    expect(
      outs.sort(),
      'one DeltaOutput per delta tensor that feeds the tail, none at the (dense) output',
    ).to.deep.equal(['block1_relu2_densify', 'block2_conv1_densify']);
    runParity(dense, hybrid, [[2, 17, 15, 3]], 8, seed, `resnet-style, dense from block2_conv2 (seed ${seed})`);
    // Naming a folded batch norm, or a folded activation, starts the tail at its conv.
    const fromBn = toDelta(dense, {denseFrom: ['block3_conv1_bn']});
    expect(fromBn.getLayer('block3_conv1').getClassName()).to.equal('Conv2D');
    expect(fromBn.getLayer('block2_conv2').getClassName()).to.equal('DeltaConv2D');
    const fromRelu = toDelta(dense, {denseFrom: ['block3_relu1']});
    expect(fromRelu.layers.filter(isDeltaLayer).map((l) => l.name)).to.deep.equal(
      fromBn.layers.filter(isDeltaLayer).map((l) => l.name),
    );
    fromRelu.dispose();
    runParity(dense, fromBn, [[1, 9, 11, 3]], 6, seed + 1, `dense from block3_conv1_bn (seed ${seed})`);
    [hybrid, fromBn, dense].forEach((m) => m.dispose());
  });

  it('a tail may hold layers that have no delta twin', () => {
    const seed = freshSeed();
    const x = tfl.input({shape: [9, 7, 3]});
    const a = L.conv2d({filters: 4, kernelSize: 3, padding: 'same', name: 'a'}).apply(x) as tfl.SymbolicTensor;
    const b = L.conv2d({filters: 4, kernelSize: 1, name: 'b'}).apply(x) as tfl.SymbolicTensor;
    const dense = tfl.model({inputs: x, outputs: L.maximum({name: 'gate'}).apply([a, b]) as tfl.SymbolicTensor});
    randomizeWeights(dense, seed);
    expect(() => toDelta(dense)).to.throw(/layer 'gate' of class Maximum has no delta equivalent/);
    const hybrid = toDelta(dense, {denseFrom: ['gate']});
    expect(hybrid.getLayer('gate').getClassName()).to.equal('Maximum');
    runParity(dense, hybrid, [[2, 9, 7, 3]], 6, seed, `Maximum in the tail (seed ${seed})`);
    [hybrid, dense].forEach((m) => m.dispose());
  });

  it('with a threshold, the head truncates as the all-delta model does and the tail adds no error', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const hybrid = toDelta(dense, {threshold: 0.05, denseFrom: ['block3_conv1', 'block3_proj']});
    const full = toDelta(dense, {threshold: 0.05});
    const tail = Object.keys(getThresholds(full)).filter((n) => !(n in getThresholds(hybrid)));
    // block3_relu1 folded into block3_conv1, which truncates in its place.
    expect(tail, 'the truncating layers of the tail').to.include.members(['block3_conv1', 'block3_relu2']);
    // The same model, all delta, with its tail exact (threshold 0 there).
    const exactTail = toDelta(dense, {threshold: 0.05, thresholds: Object.fromEntries(tail.map((n) => [n, 0]))});
    runParity(
      exactTail,
      hybrid,
      [[2, 16, 16, 3]],
      12,
      seed,
      `hybrid vs exact-tail delta (seed ${seed})`,
      undefined,
      1e-4,
    );
    [hybrid, full, exactTail, dense].forEach((m) => m.dispose());
  });

  it('denseAbove: the layers the calibration frames keep active above it, and what they feed, run dense', () => {
    const seed = freshSeed();
    const dense = convChain(seed, 6, 16);
    const frames = patchFrames([1, 16, 16, 3], 5, seed);
    // The activity each conv's output has over those frames, measured on the all-delta model.
    const full = toDelta(dense, {stats: true});
    const activity = new Map<string, number>();
    frames.forEach((frame, i) => {
      tf.dispose(full.predictOnBatch(frame));
      if (i === 0) return;
      for (const l of getDeltaStats(full).layers)
        activity.set(l.name, (activity.get(l.name) ?? 0) + l.computedFraction / (frames.length - 1));
    });
    const convs = convsOf(dense).map((l) => l.name);
    const measured = convs.map((n) => activity.get(n)!);
    for (let i = 1; i < measured.length; i++)
      expect(measured[i], `activity grows: ${measured}`).to.be.greaterThan(measured[i - 1]);
    const above = (measured[2] + measured[3]) / 2;
    const hybrid = toDelta(dense, {denseAbove: above, calibrationFrames: frames});
    expect(
      convs.map((n) => isDeltaLayer(hybrid.getLayer(n))),
      `activity ${measured.map((a) => a.toFixed(3))}, denseAbove ${above.toFixed(3)}`,
    ).to.deep.equal([true, true, true, false, false, false]);
    const chosen = toDelta(dense, {denseFrom: ['conv3']});
    runParity(chosen, hybrid, [[1, 16, 16, 3]], 6, seed, `denseAbove vs denseFrom conv3 (seed ${seed})`, undefined, 0);
    // Above every layer's activity: all delta; at 0, every layer with any activity dense.
    const none = toDelta(dense, {denseAbove: 1, calibrationFrames: frames});
    expect(convsOf(none).every(isDeltaLayer)).to.equal(true);
    const all = toDelta(dense, {denseAbove: 0, calibrationFrames: frames});
    expect(all.layers.some(isDeltaLayer), 'a tail from the first layer takes the frames: no delta layer left').to.equal(
      false,
    );
    runParity(dense, all, [[1, 16, 16, 3]], 4, seed, `denseAbove 0 (seed ${seed})`);
    tf.dispose(frames);
    [full, hybrid, chosen, none, all, dense].forEach((m) => m.dispose());
  });

  it('denseAbove: a tail from the second layer takes the first along (fed the frames: exact despite the input test)', () => {
    const seed = freshSeed();
    const dense = convChain(seed, 4, 16);
    const frames = patchFrames([1, 16, 16, 3], 5, seed);
    const options = {inputThreshold: 0.3, calibrationFrames: frames};
    const activity = activityOf(dense, frames, 0.3);
    const [a0, a1] = ['conv0', 'conv1'].map((n) => activity.get(n)!.computedFraction);
    expect(a1, `conv1 more active than conv0 (${a0}, ${a1})`).to.be.greaterThan(a0);
    const hybrid = toDelta(dense, {...options, denseAbove: (a0 + a1) / 2});
    expect(
      convsOf(hybrid).map(isDeltaLayer),
      `activity conv0 ${a0.toFixed(3)}, conv1 ${a1.toFixed(3)}: conv0 alone would stay delta`,
    ).to.deep.equal([false, false, false, false]);
    runParity(dense, hybrid, [[1, 16, 16, 3]], 6, seed, `tail from conv1 (seed ${seed})`);
    // A tail from the third layer leaves two delta layers: they stay delta.
    const a2 = activity.get('conv2')!.computedFraction;
    const later = toDelta(dense, {...options, denseAbove: (a1 + a2) / 2});
    expect(convsOf(later).map(isDeltaLayer)).to.deep.equal([true, true, false, false]);
    tf.dispose(frames);
    [hybrid, later, dense].forEach((m) => m.dispose());
  });

  it(`denseAbove: a head that would skip under ${MIN_SKIPPED_SHARE * 100}% of the multiply-adds runs dense too`, () => {
    const seed = freshSeed();
    // conv0 and conv1 (2 filters) hold well under 1% of the multiply-adds; conv2 and conv3 (48 filters) the rest.
    const dense = convChain(seed, 4, 16, [2, 2, 48, 48]);
    const frames = patchFrames([1, 16, 16, 3], 5, seed);
    const options = {inputThreshold: 0.3, calibrationFrames: frames};
    const activity = activityOf(dense, frames, 0.3);
    const [a1, a2] = ['conv1', 'conv2'].map((n) => activity.get(n)!.computedFraction);
    const hybrid = toDelta(dense, {...options, denseAbove: (a1 + a2) / 2});
    expect(convsOf(hybrid).map(isDeltaLayer), `activity conv1 ${a1}, conv2 ${a2}`).to.deep.equal([
      false,
      false,
      false,
      false,
    ]);
    runParity(dense, hybrid, [[1, 16, 16, 3]], 6, seed, `head under the floor (seed ${seed})`);
    // denseAbove 1 asks for every layer delta: no tail, nothing overridden.
    const all = toDelta(dense, {...options, denseAbove: 1});
    expect(convsOf(all).every(isDeltaLayer)).to.equal(true);
    tf.dispose(frames);
    [hybrid, all, dense].forEach((m) => m.dispose());
  });

  it('per-layer and relative thresholds with a dense tail: names of layers the tail runs dense are accepted', () => {
    const seed = freshSeed();
    const dense = convChain(seed, 4, 16);
    const frames = patchFrames([1, 16, 16, 3], 5, seed);
    // A map for the all-delta model (every truncating layer named), relative to the activation scales.
    const all = toDelta(dense, {thresholdScale: 'activation', calibrationFrames: frames});
    const map = Object.fromEntries(Object.keys(getThresholds(all)).map((name, i) => [name, 0.01 * (i + 1)]));
    const options = {thresholds: map, thresholdScale: 'activation' as const, calibrationFrames: frames};
    const hybrid = toDelta(dense, {...options, denseFrom: ['conv2']});
    expect(convsOf(hybrid).map(isDeltaLayer)).to.deep.equal([true, true, false, false]);
    const kept = getThresholds(hybrid);
    expect(Object.keys(kept)).to.deep.equal(Object.keys(map).filter((n) => n in kept));
    for (const [name, t] of Object.entries(kept)) expect(t, name).to.equal(map[name]);
    // A tail that takes the whole model leaves nothing to scale: the model is the dense one.
    const whole = toDelta(dense, {...options, denseAbove: 0});
    expect(whole.layers.some(isDeltaLayer)).to.equal(false);
    runParity(dense, whole, [[1, 16, 16, 3]], 3, seed, `whole tail, relative thresholds (seed ${seed})`);
    // A name that is no layer of the model at all is still refused.
    expect(() => toDelta(dense, {...options, thresholds: {...map, conv9: 0.1}, denseFrom: ['conv2']})).to.throw(
      /thresholds name layers that are not truncating layers of the delta model: conv9/,
    );
    tf.dispose(frames);
    [all, hybrid, whole, dense].forEach((m) => m.dispose());
  });

  it(`measureActivity runs ${ACTIVITY_ROWS} rows at a time and gets the whole batch's activity`, () => {
    const seed = freshSeed();
    const dense = convChain(seed, 4, 12);
    const batch = ACTIVITY_ROWS + 1 + Math.floor(Math.random() * 2 * ACTIVITY_ROWS); // a last group of other size
    // Every third row changes everywhere each frame, the others only in their patch: groups of rows differ.
    const moving = tf.tensor4d(
      Array.from({length: batch}, (_, b) => (b % 3 === 0 ? 1 : 0)),
      [batch, 1, 1, 1],
    );
    const frames = patchFrames([batch, 12, 12, 3], 4, seed).map((f, i) =>
      tf.tidy(() => {
        const out = tf.add(f, tf.mul(moving, 0.5 * i));
        f.dispose();
        return out;
      }),
    );
    moving.dispose();
    const probe = toDelta(dense, {threshold: 0.05, stats: true});
    const whole = new Map<string, number>();
    frames.forEach((frame, i) => {
      tf.dispose(probe.predictOnBatch(frame));
      if (i === 0) return;
      for (const l of getDeltaStats(probe).layers)
        whole.set(l.name, (whole.get(l.name) ?? 0) + l.computedFraction / (frames.length - 1));
    });
    const measured = measureActivity(probe, frames);
    expect([...measured.keys()].sort()).to.deep.equal([...whole.keys()].sort());
    for (const [name, a] of measured)
      expect(a.computedFraction, `${name}, batch ${batch} (seed ${seed})`).to.be.closeTo(whole.get(name)!, 1e-6); // float32 means
    expect(
      [...whole.values()].some((v) => v > 0 && v < 1),
      'some layer partly active',
    ).to.equal(true);
    tf.dispose(frames);
    [probe, dense].forEach((m) => m.dispose());
  });

  it('runModelOnVideo with denseAbove: the calibration frames are run like the others; at threshold 0 delta is dense', async () => {
    const seed = freshSeed();
    const dense = convChain(seed, 6, 16);
    const count = CALIBRATION_FRAMES + 5;
    const {info, frames} = patchVideo(count, seed);
    const run = (threshold: number, denseAbove?: number) =>
      runModelOnVideo({
        input: 'patch frames',
        model: dense,
        mode: 'compare',
        threshold,
        denseAbove,
        height: 16,
        width: 16,
        range: [-1, 1],
        precision: 'fp32', // compiled streams on 'cuda': strict fp32, so that threshold 0 is exact there too
        source: {info, frames},
      });
    const exact = await run(0, 0.3);
    expect(exact.frames, 'every frame, the calibration frames included').to.equal(count);
    expect(exact.denseTailLayers, 'at threshold 0 every pixel of a conv near the patch moves').to.be.within(1, 6);
    exact.records.forEach((r, i) => expect(r.deviation, `frame ${i}`).to.be.at.most(1e-5));
    const allDelta = await run(0);
    expect(allDelta.denseTailLayers).to.equal(undefined);
    // A clip shorter than two frames cannot be measured: every layer stays delta.
    const short = await runModelOnVideo({
      input: 'one frame',
      model: dense,
      mode: 'delta',
      threshold: 0,
      denseAbove: 0.3,
      height: 16,
      width: 16,
      range: [-1, 1],
      source: {info, frames: frames.slice(0, 1)},
    });
    expect([short.frames, short.denseTailLayers]).to.deep.equal([1, 0]);
    dense.dispose();
  });

  it('runModelOnVideo with per-layer thresholds: relative to scales measured on the first frames, by layer name', async () => {
    const seed = freshSeed();
    const dense = convChain(seed, 3, 16);
    const count = CALIBRATION_FRAMES + 4;
    const {info, frames} = patchVideo(count, seed);
    const probe = toDelta(dense);
    const names = Object.keys(getThresholds(probe));
    probe.dispose();
    const run = (thresholds: {[name: string]: number}, source = {info, frames}) =>
      runModelOnVideo({
        input: 'patch frames',
        model: dense,
        mode: 'compare',
        threshold: 0,
        thresholds,
        height: 16,
        width: 16,
        range: [-1, 1],
        precision: 'fp32',
        source,
      });
    const exact = await run(Object.fromEntries(names.map((n) => [n, 0])));
    exact.records.forEach((r, i) => expect(r.deviation, `frame ${i}`).to.be.at.most(1e-5));
    // Activations that hold every change (a threshold far above their scale) while the input sends it: the map reached
    // the layers it names.
    const held = await run(Object.fromEntries(names.map((n) => [n, n.endsWith('_sparsify') ? 0 : 1e6])));
    expect(Math.max(...held.records.slice(1).map((r) => r.deviation ?? 0)), `seed ${seed}`).to.be.greaterThan(1e-3);
    let message = '';
    await run({[names[0]]: 0, nowhere: 0.1}).catch((e: Error) => (message = e.message));
    expect(message).to.match(/thresholds name layers that are not truncating layers of the delta model: nowhere/);
    await run({}, {info, frames: frames.slice(0, 1)}).catch((e: Error) => (message = e.message));
    expect(message).to.match(/per-layer relative thresholds need 2 or more frames/);
    dense.dispose();
  });

  it('runModelOnVideo hands the input change test (inputThreshold, dilation) to the delta model', async () => {
    const seed = freshSeed();
    const dense = convChain(seed, 2, 16);
    const {info, frames} = patchVideo(6, seed);
    const inputActive = async (inputThreshold: number, dilation: number) =>
      (
        await runModelOnVideo({
          input: 'patch frames',
          model: dense,
          mode: 'delta',
          threshold: 0,
          inputThreshold,
          dilation,
          layerStats: true,
          height: 16,
          width: 16,
          range: [-1, 1],
          source: {info, frames},
        })
      ).meanInputActive!;
    // The 2x2 patch drawn anew each frame: at most its 4 pixels, their 6x6 neighbourhood with dilation 5, nothing
    // above a threshold no change in [-1, 1] can pass.
    const single = await inputActive(0.01, 1);
    const dilated = await inputActive(0.01, 5);
    expect(single, 'dilation 1').to.be.within(1 / 256, 4 / 256);
    expect(dilated, 'dilation 5')
      .to.be.above(single)
      .and.at.most(36 / 256);
    expect(await inputActive(2.5, 5), 'threshold 2.5').to.equal(0);
    dense.dispose();
  });

  it('errors name the option and what is wrong with it', () => {
    const seed = freshSeed();
    const dense = convChain(seed, 2, 8);
    const frames = patchFrames([1, 8, 8, 3], 3, seed);
    expect(() => toDelta(dense, {denseFrom: ['conv1', 'nope']})).to.throw(/denseFrom .*'chain' does not have: nope/);
    expect(() => toDelta(dense, {denseAbove: 0.5})).to.throw(/denseAbove needs calibrationFrames.*got 0/);
    expect(() => toDelta(dense, {denseAbove: 0.5, calibrationFrames: frames.slice(0, 1)})).to.throw(/got 1/);
    expect(() => toDelta(dense, {denseAbove: 1.5, calibrationFrames: frames})).to.throw(
      /denseAbove must be a fraction .* 1.5/,
    );
    expect(() => toDelta(dense, {denseAbove: -0.1, calibrationFrames: frames})).to.throw(
      /denseAbove must be a fraction/,
    );
    tf.dispose(frames);
    dense.dispose();
  });

  it('save -> load, toDense, and weights the hybrid owns', async () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const hybrid = toDelta(dense, {threshold: 0.02, denseFrom: ['block2_conv1']});
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-'));
    try {
      await hybrid.save(nodeFileSystem(dir));
      const loaded = await tfl.loadLayersModel(nodeFileSystem(dir));
      expect(loaded.layers.map((l) => l.getClassName())).to.deep.equal(hybrid.layers.map((l) => l.getClassName()));
      runParity(hybrid, loaded, [[1, 16, 16, 3]], 6, seed, `loaded hybrid (seed ${seed})`, undefined, 0);
      loaded.dispose();
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
    const back = toDense(hybrid);
    expect(back.layers.some(isDeltaLayer)).to.equal(false);
    tf.tidy(() => {
      const x = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', seed);
      expectClose(back.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor, `toDense (seed ${seed})`, 1e-5, 1e-5);
    });
    // The tail's weights are copies: disposing the dense model leaves the hybrid whole.
    const frames = Array.from({length: 4}, (_, t) => tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', seed + t));
    const before = streamOutputs(hybrid, frames);
    dense.dispose();
    const after = streamOutputs(hybrid, frames);
    after.forEach((t, i) => expectClose(t, before[i], `after the dense model was disposed, frame ${i}`, 0, 0));
    tf.dispose([...frames, ...before, ...after]);
    hybrid.dispose();
    back.dispose();
  });
});
