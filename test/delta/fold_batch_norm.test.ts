/**
 * Batch norm folded by toDelta into the linear layer before it, per backend: which batch norms fold
 * (and which cannot), the layer count, the dense model left untouched, toDense of a folded model,
 * and threshold-0 parity with the dense model over long random-walk sequences and real vtest.avi
 * frames for the ResNet-style model, nsfwjs's MobileNetV2 and models.resnet({depth: 18}). Then the
 * activation layers and zero padding folded into the convs (which fold, which stay, parity, thresholds
 * by the activation's name), and foldBatchNorms, the same folds in a dense copy.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {
  foldableActivations,
  foldableBatchNorms,
  foldBatchNorms,
  getThresholds,
  isDeltaLayer,
  loadThresholds,
  models,
  saveThresholds,
  toDelta,
  toDense,
} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {expectClose, freshSeed} from '../support/util';
import {loadNsfwMobileNetV2, randomizeWeights, relativeError} from '../../data/models';
import {videoUnavailable, vtestFrame} from '../../data/vtest';
import {resnetStyle, runParity} from '../support/sequences';

const L = tfl.layers;
type Sym = tfl.SymbolicTensor;
const apply = (layer: tfl.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

const classes = (model: tfl.LayersModel) => model.layers.map((l) => l.getClassName());
const count = (model: tfl.LayersModel, className: string) => classes(model).filter((c) => c === className).length;

/** Threshold-0 delta vs dense on `frames` vtest frames (batch rows 100 frames apart); the largest relative error. */
function videoParity(
  dense: tfl.LayersModel,
  delta: tfl.LayersModel,
  frames: number,
  height: number,
  width: number,
  batch: number,
): number {
  delta.resetStates();
  let worst = 0;
  for (let t = 0; t < frames; t++) {
    tf.tidy(() => {
      const x = vtestFrame(t, height, width, batch);
      const error = relativeError(delta.predictOnBatch(x) as tf.Tensor, dense.predict(x) as tf.Tensor);
      expect(error, `frame ${t}`).to.be.at.most(1e-4);
      worst = Math.max(worst, error);
    });
  }
  return worst;
}

describeEachBackend('toDelta folds batch norm', () => {
  it('ResNet-style: every batch norm folds (8 fewer layers), the dense model is untouched, exact over 120 frames', function () {
    this.timeout(600000);
    const seed = freshSeed();
    const dense = resnetStyle(seed, [null, null, 3], 6);
    // getWeights() returns the variables themselves: copy their values.
    const before = dense.getWeights().map((w) => w.clone());
    const kept = toDelta(dense, {foldBatchNorm: false});
    const delta = toDelta(dense, {foldActivations: false});
    const norms = count(dense, 'BatchNormalization');
    expect(norms).to.equal(8);
    expect(count(kept, 'DeltaBatchNormalization')).to.equal(norms);
    expect(count(delta, 'DeltaBatchNormalization')).to.equal(0);
    expect(delta.layers.length, 'one layer fewer per batch norm').to.equal(kept.layers.length - norms);
    // With a batch norm kept, the ReLU after it has no linear layer to fold into.
    expect(count(kept, 'DeltaReLU')).to.equal(count(dense, 'ReLU'));
    // The folded conv owns new weights (and a bias); the unfolded head still shares the dense one's.
    expect(delta.getLayer('stem_conv').weights.map((w) => w.originalName)).to.deep.equal([
      'stem_conv/kernel',
      'stem_conv/bias',
    ]);
    expect(delta.getLayer('stem_conv').weights[0]).to.not.equal(dense.getLayer('stem_conv').weights[0]);
    expect(delta.getLayer('logits').weights[0]).to.equal(dense.getLayer('logits').weights[0]);
    dense.getWeights().forEach((w, i) => expectClose(w, before[i], `dense weight ${i} after toDelta`, 0, 0));
    // Odd sizes, two streams, a long random walk.
    runParity(dense, delta, [[2, 17, 23, 3]], 120, seed, `ResNet-style folded (seed ${seed})`);
    // toDense of the folded model: the folded convs, no batch norm, the dense model's outputs.
    const back = toDense(delta);
    expect(back.layers.some(isDeltaLayer)).to.equal(false);
    expect(count(back, 'BatchNormalization')).to.equal(0);
    expect(back.layers.length).to.equal(dense.layers.length - norms);
    tf.tidy(() => {
      const x = tf.randomUniform([3, 21, 19, 3], -1, 1, 'float32', seed + 3);
      expectClose(back.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor, `toDense of folded (seed ${seed})`);
    });
    delta.dispose();
    expect(dense.getLayer('logits').weights[0].read().isDisposed, 'shared weights survive the delta model').to.equal(
      false,
    );
    tf.tidy(() => {
      const x = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', seed);
      expectClose(dense.predict(x) as tf.Tensor, back.predict(x) as tf.Tensor, 'dense after delta.dispose()');
    });
    tf.dispose(before);
    [back, kept, dense].forEach((m) => m.dispose());
  });

  it('folds after conv (no bias), depthwise (multiplier 2), separable, transposed conv and dense; exact on every frame', () => {
    const seed = freshSeed();
    const x = tfl.input({shape: [9, 11, 3]});
    let y = apply(L.conv2d({filters: 5, kernelSize: 3, padding: 'same', useBias: false}), x);
    y = apply(L.reLU({}), apply(L.batchNormalization({}), y));
    y = apply(L.depthwiseConv2d({kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same'}), y);
    y = apply(L.reLU({maxValue: 6}), apply(L.batchNormalization({}), y));
    y = apply(L.separableConv2d({filters: 6, kernelSize: 3, padding: 'same'}), y);
    y = apply(L.leakyReLU({alpha: 0.1}), apply(L.batchNormalization({}), y));
    y = apply(L.conv2dTranspose({filters: 4, kernelSize: 4, strides: 2, padding: 'same', useBias: false}), y);
    y = apply(L.activation({activation: 'tanh'}), apply(L.batchNormalization({}), y));
    y = apply(L.dense({units: 7}), y);
    y = apply(L.batchNormalization({}), y);
    const dense = tfl.model({inputs: x, outputs: y});
    randomizeWeights(dense, seed);
    const delta = toDelta(dense);
    expect(count(delta, 'DeltaBatchNormalization'), `${classes(delta)}`).to.equal(0);
    // - 5 batch norms, - the relu and relu6 layers (now the activations of the conv and the depthwise conv);
    // + sparsify, densify
    expect(delta.layers.length).to.equal(dense.layers.length - 5 - 2 + 2);
    runParity(dense, delta, [[2, 9, 11, 3]], 40, seed, `folds (seed ${seed})`);
    delta.dispose();
    dense.dispose();
  });

  it('keeps the batch norms that cannot fold, and stays exact', () => {
    const seed = freshSeed();
    const x = tfl.input({shape: [10, 13, 4]});
    // Batch norm before a conv.
    const first = apply(L.batchNormalization({name: 'bn_input'}), x);
    // A conv whose output also feeds an add.
    const conv = apply(L.conv2d({filters: 4, kernelSize: 3, padding: 'same', name: 'conv_shared_out'}), first);
    const sum = apply(L.add({}), [apply(L.batchNormalization({name: 'bn_after_shared'}), conv), conv]);
    // A conv with a non-linear activation of its own.
    const activated = apply(L.conv2d({filters: 4, kernelSize: 1, activation: 'relu', name: 'conv_relu'}), sum);
    const afterRelu = apply(L.batchNormalization({name: 'bn_after_relu'}), activated);
    // A conv whose output is also a model output.
    const head = apply(L.conv2d({filters: 3, kernelSize: 1, name: 'conv_output'}), afterRelu);
    const normed = apply(L.batchNormalization({name: 'bn_after_output'}), head);
    // A batch norm on a non-channel axis.
    const rows = apply(
      L.batchNormalization({axis: 1, name: 'bn_rows'}),
      apply(L.conv2d({filters: 3, kernelSize: 1, name: 'conv_rows'}), normed),
    );
    // And one that folds.
    const folds = apply(
      L.batchNormalization({name: 'bn_folds'}),
      apply(L.conv2d({filters: 2, kernelSize: 3, name: 'conv_folds'}), normed),
    );
    const dense = tfl.model({inputs: x, outputs: [head, normed, folds, rows]});
    randomizeWeights(dense, seed);
    const delta = toDelta(dense);
    const kept = delta.layers
      .filter((l) => l.getClassName() === 'DeltaBatchNormalization')
      .map((l) => l.name)
      .sort();
    expect(kept).to.deep.equal(['bn_after_output', 'bn_after_relu', 'bn_after_shared', 'bn_input', 'bn_rows']);
    // bn_rows normalizes axis 1, which delta batch norm refuses at run time: check the rest.
    const partial = tfl.model({inputs: x, outputs: [head, normed, folds]});
    const deltaPartial = toDelta(partial);
    expect(deltaPartial.layers.map((l) => l.name)).to.not.include('bn_folds');
    let xs: tf.Tensor | null = null;
    for (let t = 0; t < 30; t++) {
      const next = tf.tidy(() =>
        xs == null
          ? tf.randomUniform([2, 10, 13, 4], -1, 1, 'float32', seed)
          : tf.add(
              xs,
              tf.mul(
                tf.randomNormal([2, 10, 13, 4], 0, 0.5, 'float32', seed + t),
                tf.cast(tf.less(tf.randomUniform([2, 10, 13, 1], 0, 1, 'float32', seed + 500 + t), 0.15), 'float32'),
              ),
            ),
      );
      xs?.dispose();
      xs = next;
      tf.tidy(() => {
        const want = partial.predictOnBatch(xs!) as tf.Tensor[];
        const got = deltaPartial.predictOnBatch(xs!) as tf.Tensor[];
        want.forEach((w, i) => expectClose(got[i], w, `output ${i} frame ${t} (seed ${seed})`));
      });
    }
    xs?.dispose();
    [deltaPartial, delta, dense].forEach((m) => m.dispose());
  });

  describe('on real video (vtest.avi)', () => {
    const missing = videoUnavailable();
    if (missing != null) {
      it(`skipped: ${missing}`, function () {
        this.skip();
      });
      return;
    }

    it('ResNet-style, 2 streams at 48x64: 120 frames exact', function () {
      this.timeout(600000);
      const seed = freshSeed();
      const dense = resnetStyle(seed, [null, null, 3]);
      const delta = toDelta(dense);
      expect(count(delta, 'DeltaBatchNormalization')).to.equal(0);
      videoParity(dense, delta, 120, 48, 64, 2);
      delta.dispose();
      dense.dispose();
    });

    it("nsfwjs's MobileNetV2 (depthwise + BN + ReLU6) at 64x96: every batch norm folds; 100 frames exact", async function () {
      this.timeout(900000);
      const dense = await loadNsfwMobileNetV2(64, 96);
      const delta = toDelta(dense);
      const norms = count(dense, 'BatchNormalization');
      expect(norms).to.equal(52);
      expect(count(delta, 'DeltaBatchNormalization')).to.equal(0);
      const unfolded = toDelta(dense, {foldBatchNorm: false});
      expect(delta.layers.length).to.equal(unfolded.layers.length - norms - 35); // and its 35 ReLU6 layers
      unfolded.dispose();
      videoParity(dense, delta, 100, 64, 96, 1);
      delta.dispose();
      dense.dispose();
    });

    it('models.resnet({depth: 18, head: "pose"}) at 64x64: every batch norm folds, transposed convs included; 100 frames exact', function () {
      this.timeout(900000);
      const seed = freshSeed();
      const dense = models.resnet({
        depth: 18,
        head: 'pose',
        width: 16,
        deconvChannels: 32,
        inputShape: [null, null, 3],
        weightInit: 'zeros',
      });
      randomizeWeights(dense, seed);
      const delta = toDelta(dense);
      expect(count(dense, 'BatchNormalization')).to.equal(23);
      expect(count(delta, 'DeltaBatchNormalization')).to.equal(0);
      videoParity(dense, delta, 100, 64, 64, 1);
      delta.dispose();
      dense.dispose();
    });
  });
});

describeEachBackend('toDelta folds activation layers', () => {
  /**
   * relu after a conv without batch norm (an Activation layer) and relu6 after a conv's folded batch norm fold; a ReLU
   * with maxValue 3, a leaky ReLU, a ReLU after a conv whose output feeds an add too and one after a conv with a relu
   * of its own stay layers.
   */
  function activationsModel(seed: number): tfl.LayersModel {
    const x = tfl.input({shape: [null, null, 3]});
    let y = apply(L.conv2d({filters: 6, kernelSize: 3, padding: 'same', name: 'conv_a'}), x);
    y = apply(L.activation({activation: 'relu', name: 'relu_a'}), y);
    y = apply(L.conv2d({filters: 8, kernelSize: 1, useBias: false, name: 'conv_b'}), y);
    y = apply(L.reLU({maxValue: 6, name: 'relu6_b'}), apply(L.batchNormalization({name: 'bn_b'}), y));
    y = apply(L.depthwiseConv2d({kernelSize: 3, strides: 2, padding: 'same', name: 'depthwise_c'}), y);
    y = apply(L.reLU({maxValue: 3, name: 'relu3_c'}), y);
    y = apply(
      L.leakyReLU({alpha: 0.2, name: 'leaky_d'}),
      apply(L.conv2d({filters: 6, kernelSize: 1, name: 'conv_d'}), y),
    );
    const shared = apply(L.conv2d({filters: 6, kernelSize: 3, padding: 'same', name: 'conv_shared'}), y);
    y = apply(L.add({name: 'add'}), [apply(L.reLU({name: 'relu_shared'}), shared), shared]);
    y = apply(L.conv2d({filters: 4, kernelSize: 1, activation: 'relu', name: 'conv_relu'}), y);
    y = apply(L.reLU({name: 'relu_twice'}), y);
    const model = tfl.model({inputs: x, outputs: y, name: 'activations'});
    randomizeWeights(model, seed);
    return model;
  }

  it('folds relu and relu6 into the layer before them, keeps the rest, and is exact at threshold 0', () => {
    const seed = freshSeed();
    const dense = activationsModel(seed);
    expect(foldableActivations(dense).sort()).to.deep.equal(['relu6_b', 'relu_a']);
    const delta = toDelta(dense);
    const names = delta.layers.map((l) => l.name);
    expect(names).to.not.include.members(['relu_a', 'relu6_b', 'bn_b']);
    expect(names).to.include.members(['relu3_c', 'leaky_d', 'relu_shared', 'relu_twice']);
    const activation = (name: string) => (delta.getLayer(name).getConfig() as {activation: string}).activation;
    expect([activation('conv_a'), activation('conv_b'), activation('depthwise_c')]).to.deep.equal([
      'relu',
      'relu6',
      'linear',
    ]);
    expect(toDelta(dense, {foldActivations: false}).layers.map((l) => l.name)).to.include.members([
      'relu_a',
      'relu6_b',
    ]);
    runParity(dense, delta, [[2, 11, 9, 3]], 30, seed, `activations folded (seed ${seed})`);
    // toDense keeps them folded: the same outputs with two layers fewer (and the batch norm).
    const back = toDense(delta);
    expect(back.layers.length).to.equal(dense.layers.length - 3);
    tf.tidy(() => {
      const x = tf.randomUniform([3, 13, 7, 3], -1, 1, 'float32', seed + 7);
      expectClose(back.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor, `toDense (seed ${seed})`);
    });
    [back, delta, dense].forEach((m) => m.dispose());
  });

  it('a ReLU whose input is also a model output stays a layer', () => {
    const x = tfl.input({shape: [5, 5, 2]});
    const conv = apply(L.conv2d({filters: 3, kernelSize: 1, name: 'conv_out'}), x);
    const relu = apply(L.reLU({name: 'relu_after_output'}), conv);
    const dense = tfl.model({inputs: x, outputs: [conv, relu]});
    expect(foldableActivations(dense)).to.deep.equal([]);
    dense.dispose();
  });

  it('at a threshold it computes what the unfolded model does; thresholds by an activation name reach its conv', () => {
    const seed = freshSeed();
    const dense = activationsModel(seed);
    const options = {threshold: 0.05, thresholds: {relu6_b: 0.2}};
    const unfolded = toDelta(dense, {...options, foldActivations: false});
    const folded = toDelta(dense, options);
    expect(getThresholds(folded).conv_b).to.equal(0.2);
    expect(getThresholds(folded).conv_a).to.equal(0.05);
    runParity(unfolded, folded, [[2, 12, 10, 3]], 30, seed, `folded vs unfolded at 0.05 (seed ${seed})`);
    // A map saved from the unfolded model applies to the folded one by the activations' names.
    const other = toDelta(dense);
    loadThresholds(other, saveThresholds(unfolded));
    expect(getThresholds(other)).to.deep.equal(getThresholds(folded));
    [other, folded, unfolded, dense].forEach((m) => m.dispose());
  });
});

describeEachBackend('toDelta folds zero padding into the conv after it', () => {
  /** Pads before 'valid' convs: (0,1) before a stride-2 3x3 depthwise (Keras' 'same' at even sizes), 1 before a 3x3. */
  function paddedModel(seed: number, h: number, w: number): tfl.LayersModel {
    const x = tfl.input({shape: [h, w, 3]});
    let y = apply(
      L.zeroPadding2d({
        padding: [
          [0, 1],
          [0, 1],
        ],
        name: 'pad_stride2',
      }),
      x,
    );
    y = apply(L.depthwiseConv2d({kernelSize: 3, strides: 2, padding: 'valid', name: 'depthwise'}), y);
    y = apply(L.zeroPadding2d({padding: 1, name: 'pad_one'}), y);
    y = apply(L.conv2d({filters: 4, kernelSize: 3, padding: 'valid', activation: 'relu6', name: 'conv'}), y);
    // Pads of 2 before a 3x3 'valid' conv are not its 'same' padding.
    y = apply(L.zeroPadding2d({padding: 2, name: 'pad_two'}), y);
    y = apply(L.conv2d({filters: 3, kernelSize: 3, padding: 'valid', name: 'conv_wider'}), y);
    const model = tfl.model({inputs: x, outputs: y});
    randomizeWeights(model, seed);
    return model;
  }
  const pads = (model: tfl.LayersModel) =>
    model.layers.filter((l) => /ZeroPadding2D$/.test(l.getClassName())).map((l) => l.name);

  it("folds pads that equal the conv's 'same' padding at the input size, keeps the others; exact at threshold 0", () => {
    const seed = freshSeed();
    const even = paddedModel(seed, 10, 14);
    const delta = toDelta(even);
    expect(pads(delta)).to.deep.equal(['pad_two']);
    expect((delta.getLayer('depthwise').getConfig() as {padding: string}).padding).to.equal('same');
    expect(pads(toDelta(even, {foldPadding: false}))).to.have.length(3);
    runParity(even, delta, [[2, 10, 14, 3]], 20, seed, `pads folded (seed ${seed})`);
    const folded = foldBatchNorms(even);
    expect(pads(folded)).to.deep.equal(['pad_two']);
    tf.tidy(() => {
      const x = tf.randomUniform([3, 10, 14, 3], -1, 1, 'float32', seed + 1);
      expectClose(folded.predict(x) as tf.Tensor, even.predict(x) as tf.Tensor, `foldBatchNorms (seed ${seed})`);
    });
    // At odd sizes 'same' pads a stride-2 conv by one on both sides: (0, 1) is not it.
    const odd = paddedModel(seed, 11, 15);
    const oddDelta = toDelta(odd);
    expect(pads(oddDelta)).to.deep.equal(['pad_stride2', 'pad_two']);
    runParity(odd, oddDelta, [[1, 11, 15, 3]], 12, seed + 2, `odd sizes (seed ${seed})`);
    [folded, delta, even, oddDelta, odd].forEach((m) => m.dispose());
  });

  it('keeps a pad read by another layer too, or before a model of unknown size', () => {
    const x = tfl.input({shape: [8, 8, 2]});
    const padded = apply(L.zeroPadding2d({padding: 1, name: 'pad_shared'}), x);
    const a = apply(L.conv2d({filters: 2, kernelSize: 3, name: 'conv_a'}), padded);
    const b = apply(L.conv2d({filters: 2, kernelSize: 1, name: 'conv_b'}), padded);
    const shared = tfl.model({inputs: x, outputs: [a, b]});
    expect(pads(toDelta(shared))).to.deep.equal(['pad_shared']);
    const any = tfl.input({shape: [null, null, 2]});
    const open = tfl.model({
      inputs: any,
      outputs: apply(
        L.conv2d({filters: 2, kernelSize: 3}),
        apply(L.zeroPadding2d({padding: 1, name: 'pad_open'}), any),
      ),
    });
    expect(pads(toDelta(open))).to.deep.equal(['pad_open']);
    [shared, open].forEach((m) => m.dispose());
  });
});

describeEachBackend('foldBatchNorms', () => {
  /**
   * Batch norms that fold (after a conv without bias, a depthwise conv of multiplier 2 and stride 2, a separable
   * conv, a transposed conv without bias and a dense layer) and two that cannot (after a conv whose output also feeds
   * an add; after an activation); two outputs.
   */
  function mixedModel(seed: number): tfl.LayersModel {
    const x = tfl.input({shape: [null, null, 3]});
    let y = apply(L.conv2d({filters: 5, kernelSize: 3, padding: 'same', useBias: false}), x);
    y = apply(L.reLU({name: 'relu_after_conv'}), apply(L.batchNormalization({name: 'bn_conv'}), y));
    y = apply(L.depthwiseConv2d({kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same'}), y);
    y = apply(
      L.reLU({maxValue: 6, name: 'relu6_after_depthwise'}),
      apply(L.batchNormalization({name: 'bn_depthwise'}), y),
    );
    y = apply(L.separableConv2d({filters: 6, kernelSize: 3, padding: 'same'}), y);
    y = apply(L.leakyReLU({alpha: 0.1}), apply(L.batchNormalization({name: 'bn_separable'}), y));
    y = apply(L.conv2dTranspose({filters: 4, kernelSize: 4, strides: 2, padding: 'same', useBias: false}), y);
    y = apply(L.activation({activation: 'tanh'}), apply(L.batchNormalization({name: 'bn_transposed'}), y));
    const shared = apply(L.conv2d({filters: 4, kernelSize: 1, name: 'conv_shared_out'}), y);
    y = apply(L.add({}), [apply(L.batchNormalization({name: 'bn_after_shared'}), shared), shared]);
    y = apply(L.batchNormalization({name: 'bn_after_relu'}), apply(L.reLU({}), y));
    const logits = apply(L.batchNormalization({name: 'bn_dense'}), apply(L.dense({units: 7}), y));
    const model = tfl.model({inputs: x, outputs: [logits, y]});
    randomizeWeights(model, seed);
    return model;
  }
  const FOLDS = ['bn_conv', 'bn_dense', 'bn_depthwise', 'bn_separable', 'bn_transposed'];

  it('folds what toDelta folds, keeps the rest, and gives the model outputs on random batches of odd sizes', () => {
    const seed = freshSeed();
    const dense = mixedModel(seed);
    expect(foldableBatchNorms(dense).sort()).to.deep.equal(FOLDS);
    const folded = foldBatchNorms(dense);
    expect(folded.name).to.equal(`${dense.name}_folded`);
    // Every other layer is there under its own name: the two batch norms that cannot fold among them. The relu and
    // relu6 layers after the first conv and the depthwise conv are those convs' activations now.
    expect(foldableActivations(dense).sort()).to.deep.equal(['relu6_after_depthwise', 'relu_after_conv']);
    const gone = [...FOLDS, 'relu_after_conv', 'relu6_after_depthwise'];
    const kept = dense.layers.map((l) => l.name).filter((n) => !gone.includes(n));
    expect(folded.layers.map((l) => l.name)).to.have.members(kept);
    expect(kept).to.include.members(['bn_after_shared', 'bn_after_relu']);
    for (const [k, shape] of [
      [1, 9, 11, 3],
      [3, 13, 7, 3],
      [2, 16, 16, 3],
    ].entries()) {
      tf.tidy(() => {
        const x = tf.randomUniform(shape, -1, 1, 'float32', seed + k);
        const want = dense.predict(x) as tf.Tensor[];
        const got = folded.predict(x) as tf.Tensor[];
        want.forEach((w, i) => expectClose(got[i], w, `output ${i} at [${shape}] (seed ${seed})`));
      });
    }
    [folded, dense].forEach((m) => m.dispose());
  });

  it('copies the weights: the model is left as it was, and either model may be disposed alone', () => {
    const seed = freshSeed();
    const dense = mixedModel(seed);
    const before = dense.getWeights().map((w) => w.clone());
    const x = tf.randomUniform([2, 10, 12, 3], -1, 1, 'float32', seed);
    const want = dense.predict(x) as tf.Tensor[];
    foldBatchNorms(dense).dispose();
    dense.getWeights().forEach((w, i) => expectClose(w, before[i], `weight ${i} after folding`, 0, 0));
    tf.tidy(() => (dense.predict(x) as tf.Tensor[]).forEach((y, i) => expectClose(y, want[i], `dense output ${i}`)));
    const folded = foldBatchNorms(dense);
    dense.dispose();
    tf.tidy(() => (folded.predict(x) as tf.Tensor[]).forEach((y, i) => expectClose(y, want[i], `folded output ${i}`)));
    folded.dispose();
    tf.dispose([x, ...want, ...before]);
  });

  it('refuses a delta model, naming one of its delta layers', () => {
    const dense = mixedModel(freshSeed());
    const delta = toDelta(dense);
    expect(() => foldBatchNorms(delta)).to.throw(/foldBatchNorms: model '.*' has delta layers \('.+', Delta\w+\)/);
    [delta, dense].forEach((m) => m.dispose());
  });

  it("nsfwjs's MobileNetV2: its 52 batch norms and 35 ReLU6 layers fold, 87 layers fewer, the same class probabilities", async function () {
    this.timeout(300000);
    const seed = freshSeed();
    const dense = await loadNsfwMobileNetV2(65, 97);
    expect(foldableBatchNorms(dense)).to.have.length(52);
    expect(foldableActivations(dense)).to.have.length(35);
    const folded = foldBatchNorms(dense);
    expect(count(folded, 'BatchNormalization')).to.equal(0);
    expect(count(folded, 'ReLU')).to.equal(0);
    // Of its five ZeroPadding2D, those before a stride-2 conv at an even size are that conv's 'same' padding: at
    // 65x97 all but the first (on the odd input; the later ones see 32x48, 16x24, 8x12 and 4x6).
    expect(count(folded, 'ZeroPadding2D')).to.equal(1);
    expect(folded.layers.length).to.equal(dense.layers.length - 52 - 35 - 4);
    const normsOnly = foldBatchNorms(dense, {foldActivations: false});
    expect(count(normsOnly, 'ReLU')).to.equal(35);
    tf.tidy(() => {
      const x = tf.randomUniform([1, 65, 97, 3], 0, 1, 'float32', seed + 1);
      expectClose(normsOnly.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor, `norms only (seed ${seed})`);
    });
    normsOnly.dispose();
    tf.tidy(() => {
      const x = tf.randomUniform([2, 65, 97, 3], 0, 1, 'float32', seed);
      expectClose(folded.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor, `MobileNetV2 (seed ${seed})`);
    });
    [folded, dense].forEach((m) => m.dispose());
  });
});
