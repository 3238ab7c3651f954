/**
 * The one-kernel relu6 of tf.layers (src/models/layers/relu6.ts), per backend: the 'relu6' activation and ReLU
 * layers with a maxValue run one kernel where tfjs-layers runs two, give the same values on random inputs drawn
 * fresh (with 0, 6 and their neighbours among them), and a saved conv model loads onto them and predicts what it
 * predicts on tfjs-layers' classes; TFJS_DELTA_LAYERS_RELU6=0 keeps tfjs-layers' classes. (tf.layers.reLU() constructs
 * tfjs-layers' ReLU directly; a loaded model's ReLU layers come from the registry.)
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import '../../src/index';
import {
  layersRelu6 as LayersRelu6,
  layersReLU as LayersReLU,
  registerOneKernelRelu6,
  Relu6,
  ReLUOneKernel,
} from '../../src/models/layers/relu6';
import {describeEachBackend} from '../support/backends';
import {freshSeed, maxDifference} from '../support/util';

/** Normal values of scale 5 (most of them below 0 or above 6 or between), then 0, 6 and their float neighbours. */
function inputs(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.randomNormal(shape, 2, 5, 'float32', seed).dataSync() as Float32Array;
    const edges = [0, -0, 6, Math.fround(6 - 2 ** -21), Math.fround(6 + 2 ** -21), -1e-30, 1e-30, 5, 7];
    edges.forEach((v, i) => (x[(i * 7919) % x.length] = v));
    return tf.tensor(x, shape);
  });
}

/** The activation tf.layers makes of 'relu6' now. */
const getActivation = (name: string) =>
  (
    tfl.layers.dense({units: 1, activation: name as 'relu6'}) as unknown as {
      activation: {apply(x: tf.Tensor): tf.Tensor};
    }
  ).activation;

async function kernelsOf(f: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(() => f());
  (info.result as tf.Tensor).dispose();
  return info.kernels.map((k) => k.name);
}

function expectSameValues(got: tf.Tensor, want: tf.Tensor, context: string): void {
  expect(got.shape, context).to.deep.equal(want.shape);
  const {diff} = maxDifference([[got.dataSync(), want.dataSync()]]);
  expect(diff, `${context}: max |difference|`).to.equal(0);
}

describeEachBackend('tf.layers relu6 as one kernel', () => {
  it("the 'relu6' activation is one Relu6 kernel and equals tfjs-layers' minimum(6, relu(x))", async () => {
    const ours = getActivation('relu6');
    expect(ours).to.be.instanceOf(Relu6);
    const theirs = new LayersRelu6();
    for (const shape of [
      [2, 7, 9, 5],
      [3, 11],
      [1, 19, 25, 512],
    ]) {
      const seed = freshSeed();
      const x = inputs(shape, seed);
      expect(await kernelsOf(() => ours.apply(x))).to.deep.equal(['Relu6']);
      expect(await kernelsOf(() => theirs.apply(x))).to.deep.equal(['Relu', 'Minimum']);
      const [got, want] = [ours.apply(x), theirs.apply(x)];
      expectSameValues(got, want, `[${shape}] seed ${seed}`);
      tf.dispose([x, got, want]);
    }
  });

  it('a ReLU layer with maxValue is one kernel (Relu6 at 6, ClipByValue otherwise) and equals relu then clip', async () => {
    for (const maxValue of [6, 2.5, 0, undefined]) {
      const ours = new ReLUOneKernel({maxValue});
      const theirs = new LayersReLU({maxValue});
      const seed = freshSeed();
      const x = inputs([2, 5, 6, 3], seed);
      const kernels = await kernelsOf(() => ours.apply(x) as tf.Tensor);
      const theirKernels = await kernelsOf(() => theirs.apply(x) as tf.Tensor);
      // Theirs is Relu then the clip (one kernel, or a backend's own composition of it); ours the clip alone.
      const expected = maxValue === 6 ? ['Relu6'] : maxValue == null ? ['Relu'] : theirKernels.slice(1);
      if (maxValue != null) expect(theirKernels[0], `maxValue ${maxValue}`).to.equal('Relu');
      expect(kernels, `maxValue ${maxValue}`).to.deep.equal(expected);
      const [got, want] = [ours.apply(x) as tf.Tensor, theirs.apply(x) as tf.Tensor];
      expectSameValues(got, want, `maxValue ${maxValue}, seed ${seed}`);
      tf.dispose([x, got, want]);
    }
  });

  it('a saved conv model (conv2d, depthwise, ReLU(6); batch > 1, odd sizes) loads onto them and equals tfjs-layers', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({
          inputShape: [13, 11, 3],
          filters: 16,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu6',
        }),
        tfl.layers.depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu6'}),
        tfl.layers.conv2d({filters: 8, kernelSize: 1}),
        tfl.layers.reLU({maxValue: 6}),
      ],
    });
    // Weights large enough that the activations cross 0 and 6.
    const weights = model
      .getWeights()
      .map((v, i) => tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', freshSeed() + i), 2));
    const json = JSON.stringify(model.toJSON(null, false));
    expect(json).to.include('"activation":"relu6"');
    expect(json).to.include('"class_name":"ReLU"');
    const load = async () => {
      const m = await tfl.models.modelFromJSON(JSON.parse(json));
      m.setWeights(weights);
      return m;
    };
    const ours = await load();
    expect((ours.layers[0] as unknown as {activation: unknown}).activation).to.be.instanceOf(Relu6);
    expect(ours.layers[3]).to.be.instanceOf(ReLUOneKernel);
    tf.serialization.registerClass(LayersRelu6);
    tf.serialization.registerClass(LayersReLU);
    let theirs: tfl.LayersModel;
    try {
      theirs = await load();
    } finally {
      registerOneKernelRelu6();
    }
    expect(theirs.layers[3]).to.not.be.instanceOf(ReLUOneKernel);
    for (const n of [1, 3]) {
      const seed = freshSeed();
      const x = inputs([n, 13, 11, 3], seed);
      const kernels = await kernelsOf(() => ours.predict(x) as tf.Tensor);
      const theirKernels = await kernelsOf(() => theirs.predict(x) as tf.Tensor);
      const relus = (ks: string[]) => ks.filter((k) => ['Relu', 'Relu6', 'Minimum', 'ClipByValue'].includes(k));
      expect(relus(kernels), 'one kernel a relu6').to.deep.equal(['Relu6', 'Relu6', 'Relu6']);
      expect(relus(theirKernels), "tfjs-layers' two").to.include.members(['Relu', 'Minimum', 'ClipByValue']);
      expect(theirKernels.length - kernels.length).to.be.at.least(3);
      const [got, want] = [ours.predict(x) as tf.Tensor, theirs.predict(x) as tf.Tensor];
      const clipped = tf.tidy(() => [tf.sum(tf.equal(got, 6)).dataSync()[0], tf.sum(tf.equal(got, 0)).dataSync()[0]]);
      expect(clipped[0], 'outputs at 6').to.be.greaterThan(0);
      expect(clipped[1], 'outputs at 0').to.be.greaterThan(0);
      expectSameValues(got, want, `batch ${n}, seed ${seed}`);
      tf.dispose([x, got, want]);
    }
    tf.dispose(weights);
    [model, ours, theirs].forEach((m) => m.dispose());
  });

  it("TFJS_DELTA_LAYERS_RELU6=0 keeps tfjs-layers' classes", () => {
    const before = process.env.TFJS_DELTA_LAYERS_RELU6;
    try {
      tf.serialization.registerClass(LayersRelu6);
      tf.serialization.registerClass(LayersReLU);
      process.env.TFJS_DELTA_LAYERS_RELU6 = '0';
      registerOneKernelRelu6();
      expect(getActivation('relu6')).to.not.be.instanceOf(Relu6);
      const loaded = tf.serialization.SerializationMap.getMap().classNameMap.ReLU[0];
      expect(loaded).to.equal(LayersReLU);
    } finally {
      if (before == null) delete process.env.TFJS_DELTA_LAYERS_RELU6;
      else process.env.TFJS_DELTA_LAYERS_RELU6 = before;
      registerOneKernelRelu6();
    }
    expect(getActivation('relu6')).to.be.instanceOf(Relu6);
  });
});
