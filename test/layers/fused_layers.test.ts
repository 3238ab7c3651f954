/**
 * tf.layers classes that run tfjs's fused ops (src/layers/fused_layers.ts), per backend, against tfjs-layers'
 * own classes on random inputs drawn fresh (with 0, 6 and their float neighbours among the activations):
 *  - the 'relu6' activation and ReLU layers with a maxValue run one kernel where tfjs-layers runs two, same values;
 *  - FusedConv2D (relu6 and sigmoid fused) and FusedDepthwiseConv2D (one fused op) over windows (1x1 too: on
 *    tfjs-node those convs are MatMuls here), strides, paddings, odd sizes, depth multipliers and batches > 1, with
 *    and without bias; a dilated depthwise conv against tf.depthwiseConv2d with its dilation (tfjs-layers' does not
 *    dilate), an activation tf.fused lacks (run after the fused op), channelsFirst (run as tfjs-layers runs it);
 *  - a saved MobileNet-like model loads onto them and predicts what it predicts on tfjs-layers' classes, with fewer
 *    kernels; TFJS_DELTA_LAYERS_FUSED=0 keeps tfjs-layers' classes.
 * Same values: exactly on 'cpu' (the same ops in the same order), within 1e-5 of the output's scale elsewhere (cuDNN
 * may pick another algorithm for a fused conv; a wrong bias or activation is off by far more).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import '../../src/index';
import {
  conv2dLayer,
  depthwiseConv2dLayer,
  FusedConv2D,
  FusedDepthwiseConv2D,
  layersConv2D as LayersConv2D,
  layersDepthwiseConv2D as LayersDepthwiseConv2D,
  layersRelu6 as LayersRelu6,
  layersReLU as LayersReLU,
  registerFusedLayers,
  Relu6,
  ReLUOneKernel,
} from '../../src/layers/fused_layers';
import {describeEachBackend} from '../support/backends';
import {expectClose, freshSeed, maxDifference} from '../support/util';

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
  // Op scopes (a custom-gradient op's `name__op`) are not kernels.
  return info.kernels.map((k) => k.name).filter((name) => !name.endsWith('__op'));
}

function expectSameValues(got: tf.Tensor, want: tf.Tensor, context: string): void {
  expect(got.shape, context).to.deep.equal(want.shape);
  const {diff} = maxDifference([[got.dataSync(), want.dataSync()]]);
  expect(diff, `${context}: max |difference|`).to.equal(0);
}

/** Registers tfjs-layers' own classes for `f`, then these again. */
async function withLayersClasses<T>(f: () => T | Promise<T>): Promise<T> {
  for (const cls of [LayersRelu6, LayersReLU, LayersConv2D, LayersDepthwiseConv2D]) tf.serialization.registerClass(cls);
  try {
    return await f();
  } finally {
    registerFusedLayers();
  }
}

describeEachBackend('tf.layers classes on fused ops', (backend) => {
  const expectSame = (got: tf.Tensor, want: tf.Tensor, context: string) =>
    backend === 'cpu' ? expectSameValues(got, want, context) : expectClose(got, want, context, 1e-5, 1e-6);

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

  for (const c of [
    {x: [2, 13, 11, 3], kernelSize: 3, strides: 2, padding: 'same', multiplier: 1, bias: true, activation: 'relu6'},
    {x: [1, 9, 10, 8], kernelSize: 3, strides: 1, padding: 'valid', multiplier: 2, bias: false, activation: 'relu'},
    {x: [3, 8, 7, 5], kernelSize: 5, strides: 1, padding: 'same', multiplier: 1, bias: true, activation: 'sigmoid'},
    {x: [1, 12, 12, 4], kernelSize: 1, strides: 2, padding: 'same', multiplier: 1, bias: true, activation: 'linear'},
    {x: [2, 11, 9, 4], kernelSize: 3, strides: 1, padding: 'same', multiplier: 1, bias: true, activation: 'elu'},
    {x: [2, 7, 5, 16], kernelSize: 1, strides: 1, padding: 'valid', multiplier: 1, bias: true, activation: 'relu6'},
  ] as const) {
    it(`conv2d and depthwiseConv2d ${c.kernelSize}x${c.kernelSize} s${c.strides} ${c.padding} x[${c.x}] ${c.activation}${c.bias ? '' : ' no bias'}: one fused op, tfjs-layers' values`, async () => {
      const seed = freshSeed();
      const x = inputs([...c.x], seed);
      const common = {
        kernelSize: c.kernelSize,
        strides: c.strides,
        padding: c.padding,
        useBias: c.bias,
        activation: c.activation,
      };
      const pairs: Array<[string, tfl.layers.Layer, tfl.layers.Layer, string]> = [
        ['conv2d', new FusedConv2D({...common, filters: 6}), new LayersConv2D({...common, filters: 6}), 'FusedConv2D'],
        [
          'depthwiseConv2d',
          new FusedDepthwiseConv2D({...common, depthMultiplier: c.multiplier}),
          new LayersDepthwiseConv2D({...common, depthMultiplier: c.multiplier}),
          'FusedDepthwiseConv2D',
        ],
      ];
      for (const [name, ours, theirs, op] of pairs) {
        ours.apply(x);
        theirs.apply(x);
        theirs.setWeights(
          ours.getWeights().map((w, i) => tf.mul(tf.randomNormal(w.shape, 0, 1, 'float32', seed + i), 2)),
        );
        ours.setWeights(theirs.getWeights());
        const kernels = await kernelsOf(() => ours.apply(x) as tf.Tensor);
        // tfjs-node composes its fused ops of TF ops, so only the values are held there.
        if (backend !== 'tensorflow') expect(kernels, `${name}: one kernel`).to.deep.equal([op]);
        const [got, want] = [ours.apply(x) as tf.Tensor, theirs.apply(x) as tf.Tensor];
        expect(ours.computeOutputShape([null, ...c.x.slice(1)]), `${name}: computeOutputShape`).to.deep.equal([
          null,
          ...got.shape.slice(1),
        ]);
        expectSame(got, want, `${name} seed ${seed}`);
        tf.dispose([got, want]);
        ours.dispose();
        theirs.dispose();
      }
      x.dispose();
    });
  }

  it("a dilated depthwise conv dilates (tfjs-layers' does not); tanh runs after the fused op; channelsFirst runs as tfjs-layers runs it", async () => {
    const seed = freshSeed();
    const x = inputs([2, 13, 12, 4], seed);
    for (const padding of ['same', 'valid'] as const) {
      const ours = new FusedDepthwiseConv2D({kernelSize: 3, padding, dilationRate: 2, activation: 'relu6'});
      const y = ours.apply(x) as tf.Tensor;
      const [kernel, bias] = ours.getWeights();
      const want = tf.tidy(() =>
        tf.relu6(tf.add(tf.depthwiseConv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 1, padding, 'NHWC', 2), bias)),
      );
      expect(y.shape, `dilated ${padding}: shape`).to.deep.equal(want.shape);
      const symbolic = ours.computeOutputShape([null, 13, 12, 4]);
      expect(symbolic, `dilated ${padding}: computeOutputShape`).to.deep.equal([null, ...want.shape.slice(1)]);
      expectSame(y, want, `dilated ${padding}, seed ${seed}`);
      tf.dispose([y, want]);
      ours.dispose();
    }
    for (const [name, args] of [
      ['tanh', {kernelSize: 3, padding: 'same', activation: 'tanh'}],
      ['channelsFirst', {kernelSize: 3, padding: 'same', dataFormat: 'channelsFirst', activation: 'relu'}],
    ] as const) {
      const ours = new FusedDepthwiseConv2D(args as never);
      const theirs = new LayersDepthwiseConv2D(args as never);
      ours.apply(x);
      theirs.apply(x);
      ours.setWeights(theirs.getWeights());
      const kernels = await kernelsOf(() => ours.apply(x) as tf.Tensor);
      const theirKernels = await kernelsOf(() => theirs.apply(x) as tf.Tensor);
      if (backend !== 'tensorflow') {
        expect(kernels, name).to.deep.equal(name === 'tanh' ? ['FusedDepthwiseConv2D', 'Tanh'] : theirKernels);
      }
      const [got, want] = [ours.apply(x) as tf.Tensor, theirs.apply(x) as tf.Tensor];
      expectSame(got, want, `${name} seed ${seed}`);
      tf.dispose([got, want]);
    }
    x.dispose();
  });

  it('a saved MobileNet-like model (conv2d, depthwise, ReLU(6); batch 1 and 3) loads onto them and predicts the same', async () => {
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
    expect(ours.layers.map((l) => l.constructor)).to.deep.equal([
      FusedConv2D,
      FusedDepthwiseConv2D,
      FusedConv2D,
      ReLUOneKernel,
    ]);
    const theirs = await withLayersClasses(load);
    expect(theirs.layers.map((l) => l.constructor)).to.deep.equal([
      LayersConv2D,
      LayersDepthwiseConv2D,
      LayersConv2D,
      LayersReLU,
    ]);
    for (const n of [1, 3]) {
      const seed = freshSeed();
      const x = inputs([n, 13, 11, 3], seed);
      const kernels = await kernelsOf(() => ours.predict(x) as tf.Tensor);
      const theirKernels = await kernelsOf(() => theirs.predict(x) as tf.Tensor);
      const passes = (ks: string[]) =>
        ks.filter((k) => ['Relu', 'Relu6', 'Minimum', 'ClipByValue', 'Add', 'BiasAdd'].includes(k));
      if (backend !== 'tensorflow') expect(passes(kernels), "only the ReLU layer's own").to.deep.equal(['Relu6']);
      expect(passes(theirKernels), "tfjs-layers' passes").to.include.members(['Relu', 'Minimum', 'ClipByValue', 'Add']);
      expect(kernels.length, 'kernels').to.be.lessThan(theirKernels.length);
      const [got, want] = [ours.predict(x) as tf.Tensor, theirs.predict(x) as tf.Tensor];
      const clipped = tf.tidy(() => [tf.sum(tf.equal(got, 6)).dataSync()[0], tf.sum(tf.equal(got, 0)).dataSync()[0]]);
      expect(clipped[0], 'outputs at 6').to.be.greaterThan(0);
      expect(clipped[1], 'outputs at 0').to.be.greaterThan(0);
      expectSame(got, want, `batch ${n}, seed ${seed}`);
      tf.dispose([x, got, want]);
    }
    tf.dispose(weights);
    [model, ours, theirs].forEach((m) => m.dispose());
  });

  it("conv2dLayer and depthwiseConv2dLayer (the model builders') make the registered classes", async () => {
    expect(conv2dLayer({filters: 2, kernelSize: 1})).to.be.instanceOf(FusedConv2D);
    expect(depthwiseConv2dLayer({kernelSize: 3})).to.be.instanceOf(FusedDepthwiseConv2D);
    await withLayersClasses(() => {
      expect(conv2dLayer({filters: 2, kernelSize: 1}).constructor).to.equal(LayersConv2D);
      expect(depthwiseConv2dLayer({kernelSize: 3}).constructor).to.equal(LayersDepthwiseConv2D);
    });
  });

  it("TFJS_DELTA_LAYERS_FUSED=0 keeps tfjs-layers' classes, but for a DepthwiseConv2D that dilates and fuses nothing", async () => {
    const before = process.env.TFJS_DELTA_LAYERS_FUSED;
    const seed = freshSeed();
    const x = inputs([1, 9, 10, 3], seed);
    await withLayersClasses(async () => {
      process.env.TFJS_DELTA_LAYERS_FUSED = '0';
      try {
        registerFusedLayers();
        const map = tf.serialization.SerializationMap.getMap().classNameMap;
        expect([map.relu6[0], map.ReLU[0], map.Conv2D[0], map.DepthwiseConv2D[0]]).to.deep.equal([
          LayersRelu6,
          LayersReLU,
          LayersConv2D,
          FusedDepthwiseConv2D,
        ]);
        expect(getActivation('relu6')).to.not.be.instanceOf(Relu6);
        const plain = depthwiseConv2dLayer({kernelSize: 3, padding: 'same', activation: 'relu'});
        const theirs = new LayersDepthwiseConv2D({kernelSize: 3, padding: 'same', activation: 'relu'});
        plain.apply(x);
        theirs.apply(x);
        theirs.setWeights(plain.getWeights());
        expect(await kernelsOf(() => plain.apply(x) as tf.Tensor)).to.deep.equal(
          await kernelsOf(() => theirs.apply(x) as tf.Tensor),
        );
        const dilated = depthwiseConv2dLayer({kernelSize: 3, padding: 'valid', dilationRate: 2});
        expect((dilated.apply(x) as tf.Tensor).shape).to.deep.equal([1, 5, 6, 3]);
      } finally {
        if (before == null) delete process.env.TFJS_DELTA_LAYERS_FUSED;
        else process.env.TFJS_DELTA_LAYERS_FUSED = before;
      }
    });
    expect(getActivation('relu6')).to.be.instanceOf(Relu6);
    x.dispose();
  });
});
