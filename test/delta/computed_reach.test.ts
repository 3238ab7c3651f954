/**
 * A truncating delta conv's computed pixels, described two ways: computedMask makes them as a mask with tfjs ops (the
 * eager statistics), computedReach describes them as the conv's input mask and a window (what a compiled stream counts
 * on the device, native maskFractions, whose kernel test/backends/cuda/mask_fractions.test.ts holds to the same window
 * count). Here the window's output pixels that hold an active input pixel, counted on the host, must be exactly the
 * pixels computedMask marks, on fresh random masks: 3x3, 5x5 and 1x1 windows, strides 1 and 2 (each axis), dilations
 * (alone and strided: both take the dilated extent then), 'same' pads (asymmetric at stride 2 on even sizes) and
 * 'valid', odd sizes, batch > 1, depthwise and separable convs; a layer that does not truncate describes nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import type {MaskReach} from '../../src/delta/layers/base';
import {toDelta, withMask} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {freshSeed, seededRandom, windowPixels} from '../support/util';

interface ComputedPixels {
  computedMask(inputs: tf.Tensor[], output: tf.Tensor): tf.Tensor | null | undefined;
  computedReach(inputs: tf.Tensor[], output: tf.Tensor): MaskReach | null | undefined;
}

type Conv = 'conv2d' | 'depthwiseConv2d' | 'separableConv2d';
const cases: Array<{
  conv: Conv;
  input: [number, number, number, number];
  kernelSize: number | [number, number];
  strides: number | [number, number];
  dilationRate?: number;
  padding: 'same' | 'valid';
}> = [
  {conv: 'conv2d', input: [2, 13, 17, 3], kernelSize: 3, strides: 1, padding: 'same'},
  {conv: 'conv2d', input: [2, 16, 20, 3], kernelSize: 3, strides: 2, padding: 'same'}, // pads (0, 1)
  {conv: 'conv2d', input: [1, 15, 20, 2], kernelSize: 3, strides: 2, padding: 'same'}, // pads (1, 1) and (0, 1)
  {conv: 'conv2d', input: [1, 15, 23, 2], kernelSize: 3, strides: 1, dilationRate: 2, padding: 'same'},
  {conv: 'conv2d', input: [2, 19, 17, 2], kernelSize: 3, strides: 2, dilationRate: 2, padding: 'same'},
  {conv: 'conv2d', input: [3, 9, 11, 2], kernelSize: 5, strides: 1, padding: 'valid'},
  {conv: 'conv2d', input: [1, 21, 19, 3], kernelSize: 7, strides: 2, padding: 'same'},
  {conv: 'conv2d', input: [2, 12, 14, 4], kernelSize: 1, strides: 1, padding: 'valid'},
  {conv: 'conv2d', input: [1, 14, 13, 2], kernelSize: [3, 1], strides: [2, 1], padding: 'same'},
  {conv: 'depthwiseConv2d', input: [2, 17, 15, 4], kernelSize: 3, strides: 1, padding: 'same'},
  {conv: 'depthwiseConv2d', input: [2, 18, 22, 4], kernelSize: 3, strides: 2, padding: 'valid'},
  {conv: 'separableConv2d', input: [1, 11, 13, 3], kernelSize: 3, strides: 1, padding: 'same'},
];

describeEachBackend('computedReach describes the pixels computedMask marks', () => {
  for (const c of cases) {
    const name =
      `${c.conv} x[${c.input}] k${JSON.stringify(c.kernelSize)} s${JSON.stringify(c.strides)} ` +
      `d${c.dilationRate ?? 1} ${c.padding}`;
    it(name, () => {
      const seed = freshSeed();
      const next = seededRandom(seed);
      const [n, h, w, ch] = c.input;
      const config = {
        kernelSize: c.kernelSize,
        strides: c.strides,
        dilationRate: c.dilationRate,
        padding: c.padding,
        activation: 'relu' as const, // a truncating activation: the conv computes more than it sends on
      };
      const layer =
        c.conv === 'conv2d'
          ? tfl.layers.conv2d({...config, filters: 3})
          : c.conv === 'depthwiseConv2d'
            ? tfl.layers.depthwiseConv2d(config)
            : tfl.layers.separableConv2d({...config, filters: 3});
      const input = tfl.input({shape: [h, w, ch]});
      const dense = tfl.model({inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor});
      const delta = toDelta(dense);
      const conv = delta.layers.find((l) => /^Delta(Depthwise|Separable)?Conv2D$/.test(l.getClassName()));
      expect(conv, 'the delta conv').to.not.equal(undefined);
      const pixels = conv as unknown as ComputedPixels;
      for (const density of [0.02, 0.2]) {
        const bits = new Uint8Array(n * h * w).map(() => (next() < density ? 1 : 0));
        tf.tidy(() => {
          const x = withMask(tf.randomUniform([n, h, w, ch]), tf.tensor3d(bits, [n, h, w], 'bool'));
          const made = pixels.computedMask([x], x);
          const reach = pixels.computedReach([x], x);
          expect(made, 'computedMask').to.be.instanceOf(tf.Tensor);
          expect(reach, 'computedReach').to.be.an('object');
          const counted = windowPixels(bits, reach!.window);
          const want = Array.from((made as tf.Tensor).dataSync(), (v) => (v ? 1 : 0));
          expect(reach!.window.slice(0, 5), 'mask and output sizes').to.deep.equal([n, h, w, ...made!.shape.slice(1)]);
          expect(Array.from(counted), `${name}, density ${density}, seed ${seed}`).to.deep.equal(want);
        });
      }
      delta.dispose();
      dense.dispose();
    });
  }

  it('a layer that does not truncate describes nothing (its output mask says what it computed)', () => {
    const input = tfl.input({shape: [8, 9, 2]});
    const conv = tfl.layers.conv2d({filters: 2, kernelSize: 3, padding: 'same'}); // linear
    const delta = toDelta(tfl.model({inputs: input, outputs: conv.apply(input) as tfl.SymbolicTensor}));
    const layer = delta.layers.find((l) => l.getClassName() === 'DeltaConv2D') as unknown as ComputedPixels;
    tf.tidy(() => {
      const x = withMask(tf.ones([1, 8, 9, 2]), tf.ones([1, 8, 9], 'bool'));
      expect(layer.computedReach([x], x)).to.equal(undefined);
      expect(layer.computedMask([x], x)).to.equal(undefined);
    });
    delta.dispose();
  });
});
