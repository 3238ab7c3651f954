/**
 * Half-precision delta state (toDelta's statePrecision 'fp16'), per backend: a small conv net (regular, depthwise and
 * pointwise convs with relu / relu6, the shapes 'cuda' runs as fused blocks in float32 state) over a stream of changing
 * frames, held to the dense model within half's rounding, while the float32-state model holds float32's; the option
 * saved with the model; and its refusals. Fresh random weights and frames, odd sizes, batch > 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {toDelta} from '../../src/index';
import {randomizeWeights} from '../../data/models';
import {describeEachBackend} from '../support/backends';
import {expectThrowsNaming, freshSeed, randn, randomDelta} from '../support/util';

const L = tfl.layers;

function model(h: number, w: number, seed: number): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      L.conv2d({inputShape: [h, w, 3], filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'}),
      L.depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu6'}),
      L.conv2d({filters: 32, kernelSize: 1, activation: 'relu6'}),
      L.conv2d({filters: 5, kernelSize: 3, padding: 'valid'}),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

function relErr(got: tf.Tensor, want: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] / tf.max(tf.abs(want)).dataSync()[0]);
}

describeEachBackend('half-precision delta state', (backend) => {
  it('fp16 state follows the dense model within half rounding over 40 frames; fp32 state within float32', () => {
    const seed = freshSeed();
    const [b, h, w] = [2, 19, 27];
    const dense = model(h, w, seed);
    const half = toDelta(dense, {threshold: 0, statePrecision: 'fp16'});
    const full = toDelta(dense, {threshold: 0});
    let x = randn([b, h, w, 3], seed + 1);
    const errors = {half: [] as number[], full: [] as number[]};
    for (let t = 0; t < 40; t++) {
      tf.tidy(() => {
        const want = dense.predict(x) as tf.Tensor;
        errors.half.push(relErr(half.predictOnBatch(x) as tf.Tensor, want));
        errors.full.push(relErr(full.predictOnBatch(x) as tf.Tensor, want));
      });
      const next = tf.tidy(() => tf.add(x, randomDelta(x.shape, 0.3, seed + 2 + t)));
      x.dispose();
      x = next;
    }
    x.dispose();
    const ctx = `seed ${seed}: max error fp16 ${Math.max(...errors.half)}, fp32 ${Math.max(...errors.full)}`;
    expect(Math.max(...errors.full), ctx).to.be.below(1e-5);
    // Half's relative step is 4.9e-4; a few layers carry it. A state left in float32 would give the fp32 figure.
    expect(Math.max(...errors.half), ctx).to.be.below(2e-2);
    expect(Math.max(...errors.half.slice(1)), ctx).to.be.above(1e-5);
    if (backend === 'cuda') {
      // The state really is in half storage there (2 bytes an element).
      const cuda = tf.backend() as unknown as {storedElementBytes(t: tf.Tensor): number};
      const layer = half.layers.find((l) => l.getClassName() === 'DeltaConv2D')!;
      const buffers = (layer as unknown as {stream: {buffers: Map<string, tf.Tensor>}}).stream.buffers;
      expect(
        [...buffers.values()].map((t) => cuda.storedElementBytes(t)),
        ctx,
      ).to.include(2);
    }
    half.dispose();
    full.dispose();
    dense.dispose();
  });

  it('statePrecision is saved in each truncating layer config and restored with the model', async () => {
    const dense = model(9, 11, freshSeed());
    const delta = toDelta(dense, {statePrecision: 'fp16'});
    const truncating = delta.layers.filter((l) => 'statePrecision' in l && (l as {truncates?: boolean}).truncates);
    expect(truncating.length).to.be.greaterThan(2);
    truncating.forEach((l) => expect(l.getConfig().statePrecision, l.name).to.equal('fp16'));
    const restored = await tfl.models.modelFromJSON({
      modelTopology: delta.toJSON(null, false) as tf.io.ModelJSON['modelTopology'],
    });
    const precisions = restored.layers
      .filter((l) => 'statePrecision' in l && (l as {truncates?: boolean}).truncates)
      .map((l) => (l as unknown as {statePrecision: string}).statePrecision);
    expect(precisions).to.deep.equal(truncating.map(() => 'fp16'));
  });

  it('refuses a bad statePrecision and fp16 with flushAbove, naming the options', () => {
    const dense = model(9, 9, 1);
    expectThrowsNaming(() => toDelta(dense, {statePrecision: 'half' as 'fp16'}), 'statePrecision', 'half');
    expectThrowsNaming(() => toDelta(dense, {statePrecision: 'fp16', flushAbove: 0.5}), 'statePrecision', 'flushAbove');
  });
});
