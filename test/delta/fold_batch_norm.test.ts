/**
 * Batch norm folded by toDelta into the linear layer before it, per backend: which batch norms fold
 * (and which cannot), the layer count, the dense model left untouched, toDense of a folded model,
 * and threshold-0 parity with the dense model over long random-walk sequences and real vtest.avi
 * frames for the ResNet-style model, nsfwjs's MobileNetV2 and models.resnet({depth: 18}).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {foldableBatchNorms, foldBatchNorms, isDeltaLayer, models, toDelta, toDense} from '../../src/index';
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
    const delta = toDelta(dense);
    const norms = count(dense, 'BatchNormalization');
    expect(norms).to.equal(8);
    expect(count(kept, 'DeltaBatchNormalization')).to.equal(norms);
    expect(count(delta, 'DeltaBatchNormalization')).to.equal(0);
    expect(delta.layers.length, 'one layer fewer per batch norm').to.equal(kept.layers.length - norms);
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
    expect(delta.layers.length).to.equal(dense.layers.length - 5 + 2); // + sparsify, densify
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
      expect(delta.layers.length).to.equal(toDelta(dense, {foldBatchNorm: false}).layers.length - norms);
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

describeEachBackend('foldBatchNorms', () => {
  /**
   * Batch norms that fold (after a conv without bias, a depthwise conv of multiplier 2 and stride 2, a separable
   * conv, a transposed conv without bias and a dense layer) and two that cannot (after a conv whose output also feeds
   * an add; after an activation); two outputs.
   */
  function mixedModel(seed: number): tfl.LayersModel {
    const x = tfl.input({shape: [null, null, 3]});
    let y = apply(L.conv2d({filters: 5, kernelSize: 3, padding: 'same', useBias: false}), x);
    y = apply(L.reLU({}), apply(L.batchNormalization({name: 'bn_conv'}), y));
    y = apply(L.depthwiseConv2d({kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same'}), y);
    y = apply(L.reLU({maxValue: 6}), apply(L.batchNormalization({name: 'bn_depthwise'}), y));
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
    // Every other layer is there under its own name: the two batch norms that cannot fold among them.
    const kept = dense.layers.map((l) => l.name).filter((n) => !FOLDS.includes(n));
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

  it("nsfwjs's MobileNetV2: its 52 batch norms fold, 52 layers fewer, the same class probabilities", async function () {
    this.timeout(300000);
    const seed = freshSeed();
    const dense = await loadNsfwMobileNetV2(65, 97);
    expect(foldableBatchNorms(dense)).to.have.length(52);
    const folded = foldBatchNorms(dense);
    expect(count(folded, 'BatchNormalization')).to.equal(0);
    expect(folded.layers.length).to.equal(dense.layers.length - 52);
    tf.tidy(() => {
      const x = tf.randomUniform([2, 65, 97, 3], 0, 1, 'float32', seed);
      expectClose(folded.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor, `MobileNetV2 (seed ${seed})`);
    });
    [folded, dense].forEach((m) => m.dispose());
  });
});
