/**
 * toDelta / toDense on whole models, per backend: Sequential and functional graphs (concat,
 * residual adds, a layer shared by two calls, a nested model), weight sharing and copying, clear
 * errors for what is not supported, statistics, streams (reset, batch and resolution changes, one
 * stream per batch row), save -> load through model.json + weights files, and no leaks.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {
  getDeltaStats,
  getThresholds,
  isDeltaLayer,
  nodeFileSystem,
  setThresholds,
  toDelta,
  toDense,
} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {expectClose, freshSeed} from '../support/util';
import {randomizeWeights} from '../../data/models';
import {nextFrame, resnetStyle, runParity} from '../support/sequences';

const L = tfl.layers;

/** Runs `frames` random-walk frames through `model` (one call each) and returns the outputs. */
function outputs(model: tfl.LayersModel, shape: number[], frames: number, seed: number): tf.Tensor[] {
  const result: tf.Tensor[] = [];
  let x: tf.Tensor | null = null;
  for (let t = 0; t < frames; t++) {
    const next = nextFrame(x, shape, seed, t);
    x?.dispose();
    x = next;
    result.push(model.predictOnBatch(x) as tf.Tensor);
  }
  x?.dispose();
  return result;
}

function expectIdentical(a: tf.Tensor[], b: tf.Tensor[], ctx: string): void {
  expect(a.length).to.equal(b.length);
  a.forEach((t, i) => expectClose(t, b[i], `${ctx} frame ${i}`, 0, 0));
}

/** Calls fn with console.warn captured; returns the warnings. */
function captureWarnings(fn: () => void): string[] {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(' '));
  try {
    fn();
  } finally {
    console.warn = original;
  }
  return warnings;
}

describeEachBackend('toDelta and toDense', () => {
  it('Sequential: the delta model equals the dense one on every frame; toDense gives the dense model back', () => {
    const seed = freshSeed();
    const dense = tfl.sequential({
      layers: [
        L.conv2d({inputShape: [12, 14, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu'}),
        L.depthwiseConv2d({kernelSize: 3, strides: 2, padding: 'same'}),
        L.batchNormalization({}),
        L.reLU({maxValue: 6}),
        L.upSampling2d({size: [2, 2]}),
        L.averagePooling2d({poolSize: 2}),
        L.flatten({}),
        L.dropout({rate: 0.3}),
        L.dense({units: 5, activation: 'softmax'}),
      ],
    });
    randomizeWeights(dense, seed);
    const unfolded = toDelta(dense, {foldBatchNorm: false});
    expect(unfolded.layers.map((l) => l.getClassName())).to.deep.equal([
      'InputLayer',
      'DeltaInput',
      'DeltaConv2D',
      'DeltaDepthwiseConv2D',
      'DeltaBatchNormalization',
      'DeltaReLU',
      'DeltaUpSampling2D',
      'DeltaAveragePooling2D',
      'DeltaFlatten',
      'Dropout',
      'DeltaDense',
      'DeltaOutput',
    ]);
    runParity(dense, unfolded, [[2, 12, 14, 3]], 8, seed, `sequential, batch norm kept (seed ${seed})`);
    const back = toDense(unfolded);
    expect(back.layers.some(isDeltaLayer)).to.equal(false);
    expect(back.layers.map((l) => l.getClassName())).to.deep.equal([
      'InputLayer',
      ...dense.layers.map((l) => l.getClassName()),
    ]);
    tf.tidy(() => {
      const x = tf.randomUniform([2, 12, 14, 3], 0, 1, 'float32', seed);
      expectClose(back.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor, `toDense (seed ${seed})`, 0, 0);
    });
    // By default the batch norm is folded into the depthwise conv before it, and the ReLU (relu6) after it becomes
    // the depthwise conv's activation.
    const delta = toDelta(dense);
    expect(delta.layers.map((l) => l.getClassName())).to.deep.equal([
      'InputLayer',
      'DeltaInput',
      'DeltaConv2D',
      'DeltaDepthwiseConv2D',
      'DeltaUpSampling2D',
      'DeltaAveragePooling2D',
      'DeltaFlatten',
      'Dropout',
      'DeltaDense',
      'DeltaOutput',
    ]);
    runParity(dense, delta, [[2, 12, 14, 3]], 8, seed, `sequential, batch norm folded (seed ${seed})`);
    [back, unfolded, delta, dense].forEach((m) => m.dispose());
  });

  it('functional: concatenation, residual add, a layer shared by two calls and a nested model', () => {
    const seed = freshSeed();
    const nested = tfl.sequential({
      layers: [
        L.conv2d({inputShape: [10, 10, 6], filters: 6, kernelSize: 3, padding: 'same', name: 'inner_conv'}),
        L.leakyReLU({alpha: 0.1, name: 'inner_act'}),
      ],
      name: 'inner',
    });
    const a = tfl.input({shape: [10, 10, 3], name: 'a'});
    const b = tfl.input({shape: [10, 10, 3], name: 'b'});
    const shared = L.conv2d({filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'shared'});
    const cat = L.concatenate({}).apply([
      shared.apply(a),
      shared.apply(b),
    ] as tfl.SymbolicTensor[]) as tfl.SymbolicTensor;
    const inner = nested.apply(cat) as tfl.SymbolicTensor;
    const sum = L.add({}).apply([inner, cat]) as tfl.SymbolicTensor;
    const out = L.conv2d({filters: 2, kernelSize: 1, name: 'head'}).apply(sum) as tfl.SymbolicTensor;
    const dense = tfl.model({inputs: [a, b], outputs: out});
    randomizeWeights(dense, seed);
    randomizeWeights(nested, seed + 7);
    const delta = toDelta(dense);
    const names = delta.layers.map((l) => l.name);
    expect(names, 'one delta layer per call of the shared layer').to.include.members([
      'shared',
      'shared_1',
      'inner_conv',
      'inner_act',
    ]);
    runParity(
      dense,
      delta,
      [
        [1, 10, 10, 3],
        [1, 10, 10, 3],
      ],
      6,
      seed,
      `functional (seed ${seed})`,
    );
    delta.dispose();
    dense.dispose();
  });

  it('shares the dense weights by default: no new variables; disposing the delta model leaves the dense one working', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const variables = tf.memory().numTensors;
    // Folded batch norms make new weights (test/delta/fold_batch_norm.test.ts); without folding there are none.
    const delta = toDelta(dense, {foldBatchNorm: false});
    expect(tf.memory().numTensors, 'no weight copies').to.equal(variables);
    const denseKernel = dense.getLayer('stem_conv').weights[0];
    expect(delta.getLayer('stem_conv').weights[0], 'the same LayerVariable').to.equal(denseKernel);
    const x = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', seed);
    const before = dense.predict(x) as tf.Tensor;
    expectClose(delta.predictOnBatch(x) as tf.Tensor, before, `shared (seed ${seed})`, 1e-5, 1e-6);
    delta.dispose();
    expect(denseKernel.read().isDisposed, 'dense weights survive').to.equal(false);
    expectClose(dense.predict(x) as tf.Tensor, before, 'dense after delta.dispose()', 0, 0);
    dense.dispose();
  });

  it('copies the weights with {shareWeights: false}: later changes to the dense model do not reach it', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const delta = toDelta(dense, {shareWeights: false});
    const x = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', seed);
    const first = delta.predictOnBatch(x) as tf.Tensor;
    randomizeWeights(dense, seed + 1);
    delta.resetStates();
    expectClose(delta.predictOnBatch(x) as tf.Tensor, first, `copy (seed ${seed})`, 0, 0);
    dense.dispose();
    delta.resetStates();
    expectClose(delta.predictOnBatch(x) as tf.Tensor, first, 'copy after dense.dispose()', 0, 0);
    delta.dispose();
  });

  it('unsupported layers and configurations: errors name the layer and its class', () => {
    const x = tfl.input({shape: [8, 3]});
    const conv1d = tfl.model({
      inputs: x,
      outputs: L.conv1d({filters: 2, kernelSize: 3, name: 'temporal'}).apply(x) as tfl.SymbolicTensor,
    });
    expect(() => toDelta(conv1d)).to.throw(
      /layer 'temporal' of class Conv1D has no delta equivalent.*supported: .*Conv2D/,
    );
    const y = tfl.input({shape: [6, 6, 3]});
    const max = tfl.model({inputs: y, outputs: L.maximum({name: 'gate'}).apply([y, y]) as tfl.SymbolicTensor});
    expect(() => toDelta(max)).to.throw(/layer 'gate' of class Maximum/);
    const bn = tfl.model({
      inputs: y,
      outputs: L.batchNormalization({axis: 1, name: 'rows'}).apply(y) as tfl.SymbolicTensor,
    });
    const deltaBn = toDelta(bn);
    expect(() => deltaBn.predictOnBatch(tf.zeros([1, 6, 6, 3]))).to.throw(
      /layer 'rows' \(DeltaBatchNormalization\).*axis 1/,
    );
    expect(() => toDelta(deltaBn)).to.throw(/already has delta layers/);
    expect(() => toDelta(bn, {thresholds: {nope: 0.1}})).to.throw(/not truncating layers of the delta model: nope/);
    expect(() => toDelta(bn, {thresholds: {rows: 0.1}}), 'batch norm does not truncate').to.throw(
      /: rows \(its truncating layers: input\d*_sparsify\)/,
    );
    expect(() => toDelta(bn, {threshold: -1})).to.throw(/threshold must be a finite number >= 0, got -1/);
    [conv1d, max, bn, deltaBn].forEach((m) => m.dispose());
  });

  it('statistics: a dense first frame; an unchanged frame skips everything; a local change, most', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const delta = toDelta(dense, {stats: true});
    const x = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', seed);
    tf.dispose(delta.predictOnBatch(x));
    const first = getDeltaStats(delta);
    expect(first.macs).to.be.greaterThan(0);
    const stem = first.layers.find((l) => l.name === 'stem_conv')!;
    // The first frame is a delta from zero: all of it reaches the stem; later, only pixels a ReLU
    // keeps at 0 are left out (a zero change).
    expect([first.layers[0].activeFraction, stem.activeFraction], 'first frame: input and stem dense').to.deep.equal([
      1, 1,
    ]);
    expect(first.skippedShare, 'first frame').to.be.below(0.5);
    expect(stem.macs, 'stem MACs: 8x8 outputs x 3x3x3 x 4').to.equal(8 * 8 * 27 * 4);
    tf.dispose(delta.predictOnBatch(x));
    const still = getDeltaStats(delta);
    expect(still.skippedShare, 'unchanged frame').to.equal(1);
    expect(still.layers.every((l) => l.activeFraction === 0 || l.className === 'DeltaOutput')).to.equal(true);
    const moved = tf.tidy(() =>
      tf.add(
        x,
        tf.pad(tf.ones([1, 2, 2, 3]), [
          [0, 0],
          [3, 11],
          [3, 11],
          [0, 0],
        ]),
      ),
    );
    tf.dispose(delta.predictOnBatch(moved));
    const local = getDeltaStats(delta);
    expect(local.skippedShare, 'a 2x2 change').to.be.within(0.05, 0.99);
    expect(local.layers[0].activeFraction, 'input: 4 of 256 pixels').to.be.closeTo(4 / 256, 1e-9);
    tf.dispose([x, moved]);
    delta.dispose();
    dense.dispose();
  });

  it('statistics: a conv whose activation truncates counts the pixels it computed, not only those it sent on', () => {
    const seed = freshSeed();
    const [h, w] = [9, 11];
    const x = tfl.input({shape: [h, w, 2]});
    const conv = tfl.layers
      .conv2d({filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', name: 'conv'})
      .apply(x) as tfl.SymbolicTensor;
    const head = tfl.layers.conv2d({filters: 3, kernelSize: 1, name: 'head'}).apply(conv) as tfl.SymbolicTensor;
    const dense = tfl.model({inputs: x, outputs: head});
    randomizeWeights(dense, seed);
    // A high threshold: the conv truncates much of what the changed patch reaches.
    const delta = toDelta(dense, {threshold: 0.5, inputThreshold: 0, stats: true});
    const frame = tf.randomUniform([1, h, w, 2], -1, 1, 'float32', seed);
    tf.dispose(delta.predictOnBatch(frame));
    // Change rows 3..4, columns 6..8 (drawn afresh; nonzero).
    const [r0, r1, c0, c1] = [3, 4, 6, 8];
    const patch = tf.randomUniform([1, r1 - r0 + 1, c1 - c0 + 1, 2], 0.2, 1, 'float32', seed + 1);
    const moved = tf.tidy(() =>
      tf.add(
        frame,
        tf.pad(patch, [
          [0, 0],
          [r0, h - 1 - r1],
          [c0, w - 1 - c1],
          [0, 0],
        ]),
      ),
    );
    tf.dispose(delta.predictOnBatch(moved));
    const stats = getDeltaStats(delta).layers;
    const of = (name: string) => stats.find((l) => l.name === name)!;
    // 'same', stride 2, 3x3 over 9x11: 5x6 outputs, output (oy, ox) reads rows 2oy-1..2oy+1 and columns 2ox-1..2ox+1.
    let reached = 0;
    for (let oy = 0; oy < 5; oy++) {
      for (let ox = 0; ox < 6; ox++) {
        if (2 * oy + 1 >= r0 && 2 * oy - 1 <= r1 && 2 * ox + 1 >= c0 && 2 * ox - 1 <= c1) reached++;
      }
    }
    expect(of('conv').computedFraction, 'the outputs the patch reaches').to.be.closeTo(reached / 30, 1e-6);
    expect(of('conv').activeFraction, 'those it sent on').to.be.at.most(of('conv').computedFraction);
    expect(of('conv').macsSkipped).to.be.closeTo(of('conv').macs * (1 - reached / 30), 1e-3);
    // A linear conv sends on every pixel it computes.
    expect(of('head').computedFraction).to.equal(of('head').activeFraction);
    tf.dispose([frame, patch, moved]);
    [delta, dense].forEach((m) => m.dispose());
  });

  it('input dilation: a moved pixel sends its neighbourhood, pending changes included', () => {
    const x = tfl.input({shape: [8, 8, 1]});
    const identity = tfl.model({
      inputs: x,
      outputs: L.activation({activation: 'linear'}).apply(x) as tfl.SymbolicTensor,
    });
    const frame = (big: number, small: number) =>
      tf.tidy(() =>
        tf.pad(tf.tensor4d([[[[big], [small]]]]), [
          [0, 0],
          [4, 3],
          [4, 2],
          [0, 0],
        ]),
      );
    for (const dilation of [1, 3]) {
      const delta = toDelta(identity, {threshold: 0.5, dilation, stats: true});
      tf.dispose(delta.predictOnBatch(frame(0, 0)));
      tf.tidy(() => {
        const out = delta.predictOnBatch(frame(1, 0.1)) as tf.Tensor;
        expect(getDeltaStats(delta).layers[0].activeFraction, `dilation ${dilation}: active pixels`).to.equal(
          dilation === 1 ? 1 / 64 : 9 / 64,
        );
        expect(out.arraySync(), `dilation ${dilation}: what was sent`).to.deep.equal(
          frame(1, dilation === 1 ? 0 : 0.1).arraySync(),
        );
      });
      delta.dispose();
    }
    expect(() => toDelta(identity, {dilation: 2})).to.throw(/dilation must be 1 or an odd integer > 1, got 2/);
    identity.dispose();
  });

  it('resetStates reproduces the first-frame result exactly', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const delta = toDelta(dense, {threshold: 0.05});
    const first = outputs(delta, [2, 16, 16, 3], 5, seed);
    delta.resetStates();
    const again = outputs(delta, [2, 16, 16, 3], 5, seed);
    expectIdentical(again, first, `after resetStates (seed ${seed})`);
    tf.dispose([...first, ...again]);
    delta.dispose();
    dense.dispose();
  });

  it('a change of batch size or resolution warns once and starts new streams', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [null, null, 3], 4);
    const delta = toDelta(dense, {threshold: 0.02});
    const fresh = toDelta(dense, {threshold: 0.02});
    tf.dispose(outputs(delta, [2, 16, 16, 3], 3, seed));
    for (const [shape, change] of [
      [[3, 16, 16, 3], 'batch size changed from 2 to 3'],
      [[3, 24, 20, 3], 'resolution changed from 16x16 to 24x20'],
    ] as const) {
      const x = tf.randomUniform(shape as unknown as number[], 0, 1, 'float32', seed + 1);
      let got: tf.Tensor | null = null;
      const warnings = captureWarnings(() => (got = delta.predictOnBatch(x) as tf.Tensor));
      expect(warnings, `${change}: one warning (seed ${seed})`).to.have.length(1);
      expect(warnings[0]).to.include(change).and.include("'frames_sparsify' (DeltaInput)").and.include('reset');
      fresh.resetStates();
      expectClose(got!, fresh.predictOnBatch(x) as tf.Tensor, `${change}: a first frame (seed ${seed})`, 0, 0);
      tf.dispose([x, got!]);
    }
    [delta, fresh, dense].forEach((m) => m.dispose());
  });

  it('each batch row is an independent stream, truncation included', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const batched = toDelta(dense, {threshold: 0.05});
    const single = toDelta(dense, {threshold: 0.05});
    let x: tf.Tensor | null = null;
    for (let t = 0; t < 6; t++) {
      const next = nextFrame(x, [2, 16, 16, 3], seed, t);
      x?.dispose();
      x = next;
      const both = batched.predictOnBatch(x) as tf.Tensor;
      tf.tidy(() => {
        // Row 1 alone, through its own stream.
        const row1 = single.predictOnBatch(tf.slice(x!, [1, 0, 0, 0], [1, -1, -1, -1])) as tf.Tensor;
        expectClose(tf.slice(both, [1, 0], [1, -1]), row1, `row 1 frame ${t} (seed ${seed})`, 1e-6, 1e-6);
      });
      both.dispose();
    }
    x?.dispose();
    [batched, single, dense].forEach((m) => m.dispose());
  });

  it('save -> load through model.json + weights gives identical outputs; streams are not saved', async () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const delta = toDelta(dense, {threshold: 0.03, thresholds: {block2_relu1: 0.07}});
    tf.dispose(outputs(delta, [1, 16, 16, 3], 3, seed + 5)); // state that must not be saved
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-'));
    try {
      await delta.save(nodeFileSystem(dir));
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const classes = (json.modelTopology.config.layers as Array<{class_name: string}>).map((l) => l.class_name);
      expect(classes).to.include.members(['DeltaInput', 'DeltaConv2D', 'DeltaReLU', 'DeltaAdd', 'DeltaOutput']);
      const configs = json.modelTopology.config.layers as Array<{name: string; config: {[k: string]: unknown}}>;
      const conv = configs.find((l) => l.name === 'block2_conv1')!.config;
      expect([conv.activation, (conv.folded_activation as {name: string}).name], 'its ReLU folded in').to.deep.equal([
        'relu',
        'block2_relu1',
      ]);
      expect(classes, 'every batch norm folded').to.not.include('DeltaBatchNormalization');
      const saved = (json.weightsManifest as Array<{weights: Array<{name: string}>}>)
        .flatMap((g) => g.weights.map((w) => w.name))
        .sort();
      // The dense model's weights with each batch norm folded into its conv's kernel and (new) bias; no state.
      const want = dense.weights.map((w) => w.originalName).filter((n) => !/_bn\//.test(n));
      want.push(...dense.layers.filter((l) => l.name.endsWith('_bn')).map((l) => `${l.name.replace(/_bn$/, '')}/bias`));
      expect(saved, 'weights').to.deep.equal(want.sort());
      const loaded = await tfl.loadLayersModel(nodeFileSystem(dir));
      expect(getThresholds(loaded)).to.deep.equal(getThresholds(delta));
      expect(getThresholds(loaded).block2_conv1).to.equal(0.07);
      setThresholds(loaded, {block2_relu1: 0.08}); // by the folded ReLU's name, after loading too
      expect(getThresholds(loaded).block2_conv1).to.equal(0.08);
      setThresholds(loaded, {block2_relu1: 0.07});
      delta.resetStates();
      const a = outputs(delta, [1, 16, 16, 3], 6, seed);
      const b = outputs(loaded, [1, 16, 16, 3], 6, seed);
      expectIdentical(b, a, `loaded (seed ${seed})`);
      tf.dispose([...a, ...b]);
      loaded.dispose();
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
    delta.dispose();
    dense.dispose();
  });

  it('keeps a constant number of tensors from frame to frame', () => {
    const seed = freshSeed();
    const dense = resnetStyle(seed, [16, 16, 3], 4);
    const delta = toDelta(dense, {threshold: 0.01, stats: true});
    const counts: number[] = [];
    let x: tf.Tensor | null = null;
    for (let t = 0; t < 6; t++) {
      const next = nextFrame(x, [1, 16, 16, 3], seed, t);
      x?.dispose();
      x = next;
      tf.dispose(delta.predictOnBatch(x));
      counts.push(tf.memory().numTensors);
    }
    x?.dispose();
    expect(new Set(counts.slice(1)).size, `tensor counts ${counts}`).to.equal(1);
    const withState = tf.memory().numTensors;
    delta.resetStates();
    expect(tf.memory().numTensors, 'resetStates frees the stream buffers').to.be.lessThan(withState);
    delta.dispose();
    dense.dispose();
  });
});
