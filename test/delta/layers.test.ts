/**
 * Every delta layer against its tf.layers twin, per backend: a one- or two-layer dense model and
 * its toDelta twin see the same random-walk sequence (about 15% of the pixels change per frame);
 * with every threshold 0 the delta model's output equals the dense output on every frame. The
 * layers' outputs are checked to be sparse after the first frame, so the delta paths are the ones
 * exercised. Also: the deltaLayers factories build the same model by hand.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {deltaLayers, getDeltaStats, toDelta} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {randomizeWeights} from '../../data/models';
import {runParity} from '../support/sequences';
import {freshSeed} from '../support/util';

type Build = (inputs: tfl.SymbolicTensor[]) => tfl.SymbolicTensor;

interface Case {
  name: string;
  /** Input shapes without the batch dimension. */
  inputs: number[][];
  build: Build;
  /** Layers whose output must be sparse on later frames (by class name of the delta layer). */
  sparse?: string[];
}

const L = tfl.layers;
/** Builds go through thunks, so each run creates fresh layers on the backend under test. */
const one =
  (layer: () => tfl.layers.Layer): Build =>
  ([x]) =>
    layer().apply(x) as tfl.SymbolicTensor;
const chain =
  (...layers: Array<() => tfl.layers.Layer>): Build =>
  ([x]) =>
    layers.reduce((t, layer) => layer().apply(t) as tfl.SymbolicTensor, x);

const cases: Case[] = [
  {
    name: 'conv2d same relu',
    inputs: [[9, 11, 4]],
    build: one(() => L.conv2d({filters: 6, kernelSize: 3, padding: 'same', activation: 'relu'})),
    sparse: ['DeltaConv2D'],
  },
  {
    name: 'conv2d valid strides 2 sigmoid',
    inputs: [[9, 11, 3]],
    build: one(() => L.conv2d({filters: 5, kernelSize: 3, strides: 2, activation: 'sigmoid'})),
  },
  {
    name: 'conv2d dilation 2 tanh',
    inputs: [[10, 10, 3]],
    build: one(() => L.conv2d({filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh'})),
  },
  {
    name: 'conv2d 1x1 linear no bias',
    inputs: [[7, 8, 5]],
    build: one(() => L.conv2d({filters: 3, kernelSize: 1, useBias: false})),
    sparse: ['DeltaConv2D'],
  },
  {
    name: 'conv2d elu (pointwise path)',
    inputs: [[8, 8, 3]],
    build: one(() => L.conv2d({filters: 4, kernelSize: 3, padding: 'same', activation: 'elu'})),
  },
  {
    name: 'depthwiseConv2d multiplier 2 strides 2 relu6',
    inputs: [[9, 9, 3]],
    build: one(() =>
      L.depthwiseConv2d({kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu6'}),
    ),
  },
  {
    name: 'separableConv2d relu',
    inputs: [[9, 10, 3]],
    build: one(() =>
      L.separableConv2d({filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu'}),
    ),
  },
  {
    name: 'conv2dTranspose strides 2 same tanh',
    inputs: [[5, 6, 3]],
    build: one(() => L.conv2dTranspose({filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh'})),
  },
  {
    name: 'conv2dTranspose valid',
    inputs: [[5, 4, 2]],
    build: one(() => L.conv2dTranspose({filters: 3, kernelSize: 3, strides: 2})),
  },
  {
    name: 'dense on pixels, sigmoid',
    inputs: [[6, 7, 5]],
    build: one(() => L.dense({units: 4, activation: 'sigmoid'})),
    sparse: ['DeltaDense'],
  },
  {
    name: 'flatten + dense softmax',
    inputs: [[4, 5, 3]],
    build: chain(
      () => L.flatten({}),
      () => L.dense({units: 6, activation: 'softmax'}),
    ),
  },
  {
    name: 'batchNormalization',
    inputs: [[7, 9, 6]],
    build: one(() => L.batchNormalization({})),
    sparse: ['DeltaBatchNormalization'],
  },
  {
    name: 'activation relu6',
    inputs: [[6, 6, 4]],
    build: one(() => L.activation({activation: 'relu6'})),
    sparse: ['DeltaActivation'],
  },
  {
    name: 'activation swish (pointwise)',
    inputs: [[6, 6, 4]],
    build: one(() => L.activation({activation: 'swish'})),
    sparse: ['DeltaActivation'],
  },
  {name: 'reLU maxValue 6', inputs: [[6, 7, 3]], build: one(() => L.reLU({maxValue: 6}))},
  {name: 'reLU maxValue 0.5 (pointwise)', inputs: [[6, 7, 3]], build: one(() => L.reLU({maxValue: 0.5}))},
  {
    name: 'leakyReLU alpha 0.1',
    inputs: [[6, 7, 3]],
    build: one(() => L.leakyReLU({alpha: 0.1})),
    sparse: ['DeltaLeakyReLU'],
  },
  {
    name: 'elu, softmax, pReLU, thresholdedReLU',
    inputs: [[5, 6, 4]],
    build: chain(
      () => L.elu({}),
      () => L.prelu({}),
      () => L.thresholdedReLU({theta: 0.2}),
      () => L.softmax({axis: -1}),
    ),
  },
  {
    name: 'add (residual)',
    inputs: [[8, 8, 4]],
    build: ([x]) =>
      L.add({}).apply([
        x,
        L.conv2d({filters: 4, kernelSize: 3, padding: 'same'}).apply(x) as tfl.SymbolicTensor,
      ]) as tfl.SymbolicTensor,
    sparse: ['DeltaAdd'],
  },
  {
    name: 'add of two inputs',
    inputs: [
      [6, 7, 3],
      [6, 7, 3],
    ],
    build: (xs) => L.add({}).apply(xs) as tfl.SymbolicTensor,
    sparse: ['DeltaAdd'],
  },
  {
    name: 'concatenate channels',
    inputs: [
      [6, 7, 3],
      [6, 7, 2],
    ],
    build: (xs) => L.concatenate({}).apply(xs) as tfl.SymbolicTensor,
    sparse: ['DeltaConcatenate'],
  },
  {
    name: 'concatenate height',
    inputs: [
      [6, 7, 3],
      [4, 7, 3],
    ],
    build: (xs) => L.concatenate({axis: 1}).apply(xs) as tfl.SymbolicTensor,
  },
  {
    name: 'maxPooling2d default',
    inputs: [[8, 9, 3]],
    build: one(() => L.maxPooling2d({})),
    sparse: ['DeltaMaxPooling2D'],
  },
  {
    name: 'maxPooling2d 3 strides 1 same',
    inputs: [[8, 9, 3]],
    build: one(() => L.maxPooling2d({poolSize: 3, strides: 1, padding: 'same'})),
  },
  {
    name: 'averagePooling2d 3 strides 2',
    inputs: [[9, 9, 3]],
    build: one(() => L.averagePooling2d({poolSize: 3, strides: 2})),
    sparse: ['DeltaAveragePooling2D'],
  },
  {
    name: 'globalAveragePooling2d + dense',
    inputs: [[6, 7, 4]],
    build: chain(
      () => L.globalAveragePooling2d({}),
      () => L.dense({units: 3}),
    ),
  },
  {name: 'globalMaxPooling2d', inputs: [[6, 7, 4]], build: one(() => L.globalMaxPooling2d({}))},
  {
    name: 'upSampling2d nearest [2,3]',
    inputs: [[4, 5, 3]],
    build: one(() => L.upSampling2d({size: [2, 3]})),
    sparse: ['DeltaUpSampling2D'],
  },
  {
    name: 'upSampling2d bilinear',
    inputs: [[4, 5, 3]],
    build: one(() => L.upSampling2d({size: [2, 2], interpolation: 'bilinear'})),
  },
  {
    name: 'zeroPadding2d + conv valid',
    inputs: [[6, 7, 3]],
    build: chain(
      () =>
        L.zeroPadding2d({
          padding: [
            [1, 2],
            [0, 1],
          ],
        }),
      () => L.conv2d({filters: 3, kernelSize: 3}),
    ),
  },
  {
    name: 'reshape + dropout',
    inputs: [[4, 6, 4]],
    build: chain(
      () => L.reshape({targetShape: [12, 8]}),
      () => L.dropout({rate: 0.5}),
      () => L.dense({units: 2}),
    ),
  },
];

/** Saves the delta model (model.json + weights, in memory), loads it back, and compares 3 frames. */
async function expectSameAfterReload(
  delta: tfl.LayersModel,
  shapes: number[][],
  seed: number,
  ctx: string,
): Promise<void> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await delta.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
    }),
  );
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
  expect(
    loaded.layers.map((l) => l.getClassName()),
    `${ctx}: classes after reload`,
  ).to.deep.equal(delta.layers.map((l) => l.getClassName()));
  delta.resetStates();
  runParity(delta, loaded, shapes, 3, seed, `${ctx} reloaded`, undefined, 0);
  loaded.dispose();
}

describeEachBackend('delta layers equal their tf.layers twins on every frame (thresholds 0)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const seed = freshSeed();
      const batch = 1 + (seed % 2);
      const inputs = c.inputs.map((shape) => tfl.input({shape}));
      const dense = tfl.model({inputs, outputs: c.build(inputs)});
      randomizeWeights(dense, seed);
      const delta = toDelta(dense, {stats: true});
      const before = tf.memory().numTensors;
      const sparseSeen = new Set<string>();
      runParity(
        dense,
        delta,
        c.inputs.map((s) => [batch, ...s]),
        6,
        seed,
        `${c.name} (seed ${seed})`,
        (t) => {
          if (t === 0) return;
          for (const layer of getDeltaStats(delta).layers) {
            if (layer.activeFraction < 1) sparseSeen.add(layer.className);
          }
        },
      );
      for (const className of c.sparse ?? []) {
        expect([...sparseSeen], `${c.name}: ${className} output sparse after frame 0 (seed ${seed})`).to.include(
          className,
        );
      }
      delta.resetStates();
      expect(tf.memory().numTensors, `${c.name}: tensors left after resetStates (seed ${seed})`).to.equal(before);
      await expectSameAfterReload(
        delta,
        c.inputs.map((s) => [batch, ...s]),
        seed,
        `${c.name} (seed ${seed})`,
      );
      delta.dispose();
      dense.dispose();
    });
  }

  it('deltaLayers factories build the delta model by hand, with the same configs as tf.layers', () => {
    const seed = freshSeed();
    const x = tfl.input({shape: [8, 10, 3]});
    const conv = {filters: 6, kernelSize: 3, padding: 'same' as const};
    let d = deltaLayers.input().apply(x) as tfl.SymbolicTensor;
    d = deltaLayers.conv2d({...conv, name: 'c1'}).apply(d) as tfl.SymbolicTensor;
    d = deltaLayers.batchNormalization({name: 'bn'}).apply(d) as tfl.SymbolicTensor;
    d = deltaLayers.reLU({name: 'act'}).apply(d) as tfl.SymbolicTensor;
    d = deltaLayers.maxPooling2d({poolSize: 2, name: 'pool'}).apply(d) as tfl.SymbolicTensor;
    d = deltaLayers.output().apply(d) as tfl.SymbolicTensor;
    const delta = tfl.model({inputs: x, outputs: d});
    let y = L.conv2d({...conv, name: 'c1'}).apply(x) as tfl.SymbolicTensor;
    y = L.batchNormalization({name: 'bn'}).apply(y) as tfl.SymbolicTensor;
    y = L.reLU({name: 'act'}).apply(y) as tfl.SymbolicTensor;
    y = L.maxPooling2d({poolSize: 2, name: 'pool'}).apply(y) as tfl.SymbolicTensor;
    const dense = tfl.model({inputs: x, outputs: y});
    randomizeWeights(dense, seed);
    delta.setWeights(dense.getWeights());
    runParity(dense, delta, [[2, 8, 10, 3]], 5, seed, `hand-built (seed ${seed})`);
    expect(delta.stateful).to.equal(true);
    delta.dispose();
    dense.dispose();
  });
});
