/**
 * Regular delta convs of a small reduction as one fused block on pixel groups (native/cuda/delta_fused.cu: a lane per
 * output channel, its filter in registers; 3x3 over 3 input channels, 1x1 over 16, 24 or 32) against the 'cpu'
 * reference, bit for bit: inputs are multiples of 1/8 and filters of 1/16, so every conv sum is exact in float32 in
 * any order, while the state is drawn at full precision. Strides, dilations, 'same' and 'valid' pads, odd sizes,
 * batch > 1, output channels from 5 (scalar lanes) to the 512-lane cap, densities from one pixel to dense, every
 * accumulator activation, lazy zeros and eager ones (over a pixel list, eager also without it), a dense input; a
 * 12-frame stream with the state in place; half state against the two kernels for each instance; geometries the
 * block does not take, and convs above the pixel bound, running the two kernels; a delta model whose first conv and
 * 1x1 expansions take the block equal to the dense model at threshold 0. Outputs start poisoned (NaN), so an
 * unwritten element fails.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {setCudaOptions} from '../../../src/backends/cuda/index';
import {deltaConvStats} from '../../../src/backends/cuda/kernels/delta';
import {fusedDeltaConv2d} from '../../../src/index';
import type {Activation} from '../../../src/index';
import {toDelta} from '../../../src/delta/to_delta';
import {
  ACTIVATIONS,
  accumulatorOutputs,
  cudaBackend,
  describeCuda,
  exactValues,
  expectBlockParity,
  expectParity,
  expectStreamEqualsTwoKernels,
  expectStreamParity,
  ownState,
  rand,
  sparselyChangingFrames,
  withZeroWrites,
} from '../../support/cuda';

const ACTIVATIONS_ALL: Activation[] = ['linear', ...ACTIVATIONS];

interface Geometry {
  x: number[];
  k: number;
  s: number;
  d?: number;
  pad: 'same' | 'valid';
  co: number;
}

function outShape(g: Geometry): [number, number, number, number] {
  const eff = (g.k - 1) * (g.d ?? 1) + 1;
  const out = (n: number) => (g.pad === 'same' ? Math.ceil(n / g.s) : Math.floor((n - eff) / g.s) + 1);
  return [g.x[0], out(g.x[1]), out(g.x[2]), g.co];
}

/** fusedDeltaConv2d of geometry `g` with the accumulator's attributes. */
function block(
  g: Geometry,
  attrs: {threshold: number; activation: Activation; statePrecision?: 'fp32' | 'fp16'},
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  accumulated: tf.Tensor4D,
  residual: tf.Tensor4D,
) {
  return fusedDeltaConv2d({
    x,
    filter,
    strides: g.s,
    dilations: g.d ?? 1,
    pad: g.pad,
    accumulated,
    residual,
    alpha: 0.1,
    inPlace: true,
    ...attrs,
  });
}

/** Runs `f` and returns how many small-conv blocks and pixel lists it launched on 'cuda'. */
async function launches(f: () => Promise<void>): Promise<{blocks: number; lists: number}> {
  const before = {...deltaConvStats};
  await f();
  return {
    blocks: deltaConvStats.smallConvBlocks - before.smallConvBlocks,
    lists: deltaConvStats.pixelLists - before.pixelLists,
  };
}

describeCuda(
  'cuda small regular delta convs as fused pixel-group blocks: bit-exact parity with the cpu reference',
  () => {
    // The block on every grid, with its pixel lists, whatever TFJS_DELTA_CUDA_{FUSED,SMALL_CONV_BLOCKS,
    // SMALL_CONV_BLOCK_MAX_PIXELS,PIXEL_LISTS} say.
    let saved: [boolean, boolean, number, boolean] = [true, true, 0, true];
    before(() => {
      const b = cudaBackend();
      saved = [b.fusedDeltaBlocks, b.smallConvBlocks, b.smallConvBlockMaxPixels, b.pixelLists];
      [b.fusedDeltaBlocks, b.smallConvBlocks, b.smallConvBlockMaxPixels, b.pixelLists] = [true, true, 2 ** 31, true];
    });
    after(() => {
      const b = cudaBackend();
      [b.fusedDeltaBlocks, b.smallConvBlocks, b.smallConvBlockMaxPixels, b.pixelLists] = saved;
    });

    const cases: Array<Geometry & {density: number}> = [
      {x: [2, 17, 23, 3], k: 3, s: 2, pad: 'same', co: 32, density: 0.05}, // a first layer over RGB
      {x: [1, 19, 21, 3], k: 3, s: 1, pad: 'valid', co: 24, density: 0.4},
      {x: [3, 9, 11, 3], k: 3, s: 2, pad: 'valid', co: 5, density: 1}, // scalar lanes, 8 a group
      {x: [1, 13, 17, 3], k: 3, s: 1, pad: 'same', co: 48, density: 1e-9}, // one pixel: its 3x3 window
      {x: [2, 15, 14, 3], k: 3, s: 1, d: 2, pad: 'same', co: 16, density: 0.2}, // dilated
      {x: [2, 11, 13, 16], k: 1, s: 1, pad: 'valid', co: 96, density: 0.3},
      {x: [1, 12, 14, 24], k: 1, s: 1, pad: 'same', co: 144, density: 0.2}, // 160 lanes: whole warps
      {x: [2, 9, 7, 32], k: 1, s: 2, pad: 'same', co: 192, density: 0.5},
      {x: [1, 6, 8, 32], k: 1, s: 1, pad: 'valid', co: 512, density: 1}, // the 512-lane cap
      {x: [2, 8, 8, 16], k: 1, s: 1, pad: 'valid', co: 64, density: 0}, // nothing active
      {x: [1, 7, 9, 24], k: 1, s: 1, pad: 'valid', co: 7, density: 0.6},
    ];
    // Eager zeros run over the list too (a memset of the delta first); with the lists off, every output pixel's group.
    const modes: Array<{zeros: 'lazy' | 'eager'; lists: boolean}> = [
      {zeros: 'lazy', lists: true},
      {zeros: 'eager', lists: true},
      {zeros: 'eager', lists: false},
    ];
    let n = 0;
    for (const mode of modes)
      for (const c of cases) {
        const activation = ACTIVATIONS_ALL[n % ACTIVATIONS_ALL.length];
        const threshold = [0, 0.05, 0.5][n % 3];
        n++;
        const name =
          `fusedDeltaConv2d x[${c.x}] k${c.k} s${c.s} d${c.d ?? 1} ${c.pad} -> ${c.co} density ${c.density}, ` +
          `${mode.zeros}${mode.lists ? '' : ', lists off'}, ${activation} threshold ${threshold}`;
        it(name, async () => {
          const b = cudaBackend();
          b.pixelLists = mode.lists;
          try {
            const ran = await launches(() =>
              withZeroWrites(mode.zeros, () =>
                expectBlockParity(name, c.x, [c.k, c.k, c.x[3], c.co], outShape(c), c.density, (x, f, a, r) =>
                  block(c, {threshold, activation}, x, f, a, r),
                ),
              ),
            );
            expect(ran.blocks, 'small-conv blocks launched').to.equal(1);
            expect(ran.lists, 'launches over a pixel list').to.equal(mode.lists ? 1 : 0);
          } finally {
            b.pixelLists = true;
          }
        });
      }

    it('geometries the block does not take (5x5 over 3 channels, 3x3 over 4, 1x1 over 20, 513 outputs) run the two kernels', async () => {
      const fallbacks: Geometry[] = [
        {x: [1, 11, 13, 3], k: 5, s: 1, pad: 'same', co: 32},
        {x: [2, 9, 10, 4], k: 3, s: 2, pad: 'same', co: 32},
        {x: [1, 8, 9, 20], k: 1, s: 1, pad: 'valid', co: 64},
        {x: [1, 5, 6, 16], k: 1, s: 1, pad: 'valid', co: 513},
      ];
      for (const g of fallbacks) {
        const name = `fallback ${JSON.stringify(g)}`;
        const ran = await launches(() =>
          withZeroWrites('lazy', () =>
            expectBlockParity(name, g.x, [g.k, g.k, g.x[3], g.co], outShape(g), 0.3, (x, f, a, r) =>
              block(g, {threshold: 0.05, activation: 'relu6'}, x, f, a, r),
            ),
          ),
        );
        expect(ran.blocks, `small-conv blocks for ${name}`).to.equal(0);
      }
    });

    for (const g of [
      {x: [2, 21, 19, 3], k: 3, s: 2, pad: 'same', co: 32},
      {x: [2, 10, 12, 24], k: 1, s: 1, pad: 'valid', co: 144},
    ] as Geometry[]) {
      it(`a 12-frame stream x[${g.x}] k${g.k} -> ${g.co}, the state in place, equals the cpu reference bit for bit`, async () => {
        const ran = await launches(() =>
          expectStreamParity(`stream ${JSON.stringify(g)}`, g.x, [g.k, g.k, g.x[3], g.co], outShape(g), (x, f, a, r) =>
            block(g, {threshold: 0.1, activation: 'relu6'}, x, f, a, r),
          ),
        );
        expect(ran.blocks, 'small-conv blocks launched').to.equal(12);
      });
    }

    it('a conv of more output pixels than smallConvBlockMaxPixels runs the two kernels', async () => {
      const g: Geometry = {x: [2, 18, 24, 3], k: 3, s: 2, pad: 'same', co: 32}; // 2 x 9 x 12 = 216 output pixels
      const b = cudaBackend();
      const blocksWithBound = async (bound: number) => {
        b.smallConvBlockMaxPixels = bound;
        try {
          const ran = await launches(() =>
            withZeroWrites('lazy', () =>
              expectBlockParity(`bound ${bound}`, g.x, [3, 3, 3, 32], outShape(g), 0.3, (x, f, a, r) =>
                block(g, {threshold: 0.05, activation: 'relu6'}, x, f, a, r),
              ),
            ),
          );
          return ran.blocks;
        } finally {
          b.smallConvBlockMaxPixels = 2 ** 31;
        }
      };
      expect(await blocksWithBound(216), 'blocks at 216 output pixels, bound 216').to.equal(1);
      expect(await blocksWithBound(215), 'blocks at 216 output pixels, bound 215').to.equal(0);
    });

    it('a dense input (no mask) runs the block over every output pixel', async () => {
      for (const g of [
        {x: [2, 9, 12, 3], k: 3, s: 2, pad: 'same', co: 32},
        {x: [1, 7, 10, 32], k: 1, s: 1, pad: 'valid', co: 64},
      ] as Geometry[]) {
        const name = `dense x ${JSON.stringify(g)}`;
        const ran = await launches(() =>
          withZeroWrites('lazy', () =>
            expectParity(
              name,
              [
                exactValues(g.x, 8),
                exactValues([g.k, g.k, g.x[3], g.co], 16),
                rand(outShape(g), -3, 3),
                rand(outShape(g), -0.1, 0.1),
              ],
              (x, f, a, r) => {
                const [ownA, ownR] = ownState(a, r);
                return accumulatorOutputs(
                  block(g, {threshold: 0.05, activation: 'relu'}, x as tf.Tensor4D, f as tf.Tensor4D, ownA, ownR),
                );
              },
              0,
              0,
            ),
          ),
        );
        expect(ran, `${name}: one block, no pixel list`).to.deep.equal({blocks: 1, lists: 0});
      }
    });

    for (const [g, zeros] of [
      [{x: [2, 13, 15, 16], k: 1, s: 1, pad: 'valid', co: 96}, 'lazy'],
      [{x: [2, 17, 19, 3], k: 3, s: 2, pad: 'same', co: 24}, 'lazy'],
      [{x: [1, 11, 9, 32], k: 1, s: 1, pad: 'valid', co: 40}, 'lazy'],
      [{x: [2, 17, 19, 3], k: 3, s: 2, pad: 'same', co: 24}, 'eager'], // over the list after a memset
      [{x: [1, 11, 9, 32], k: 1, s: 1, pad: 'valid', co: 40}, 'eager'],
    ] as Array<[Geometry, 'lazy' | 'eager']>) {
      it(`with fp16 state, a 12-frame stream x[${g.x}] k${g.k} -> ${g.co}, ${zeros} zeros, equals the two kernels bit for bit`, async () => {
        const b = cudaBackend();
        const attrs = {threshold: 0.2, activation: 'relu6' as const, statePrecision: 'fp16' as const};
        const before = deltaConvStats.smallConvBlocks;
        await expectStreamEqualsTwoKernels(
          g.x,
          [g.k, g.k, g.x[3], g.co],
          outShape(g),
          {zeros, precision: 'fp16', values: 'exact'}, // the block's float32 sums against TF32 ones
          (x, f, a, r) => block(g, attrs, x, f, a, r),
          (on) => (b.smallConvBlocks = on),
        );
        expect(deltaConvStats.smallConvBlocks - before, 'small-conv blocks launched').to.equal(12);
      });
    }

    it('a delta model whose first conv and 1x1 expansions take the block equals the dense model at threshold 0', async () => {
      await tf.setBackend('cuda');
      setCudaOptions({allowTF32: false}); // float32 on both sides: the block's sums are float32
      const [h, w] = [37, 45];
      const input = tfl.input({shape: [h, w, 3]});
      let y = tfl.layers
        .conv2d({filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6'})
        .apply(input) as tfl.SymbolicTensor;
      y = tfl.layers.conv2d({filters: 96, kernelSize: 1, activation: 'relu6'}).apply(y) as tfl.SymbolicTensor;
      y = tfl.layers
        .depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu6'})
        .apply(y) as tfl.SymbolicTensor;
      y = tfl.layers.conv2d({filters: 24, kernelSize: 1}).apply(y) as tfl.SymbolicTensor;
      y = tfl.layers.conv2d({filters: 144, kernelSize: 1, activation: 'relu'}).apply(y) as tfl.SymbolicTensor;
      const dense = tfl.model({inputs: input, outputs: y});
      const delta = toDelta(dense, {threshold: 0});
      const frames = sparselyChangingFrames([2, h, w, 3], 10, 0.9, {still: 5, moved: 50, change: 70});
      const before = deltaConvStats.smallConvBlocks;
      try {
        frames.forEach((frame, t) => {
          const [diff, scale] = tf.tidy(() => {
            const got = delta.predict(frame) as tf.Tensor;
            const want = dense.predict(frame) as tf.Tensor;
            return [tf.max(tf.abs(tf.sub(got, want))).dataSync()[0], tf.max(tf.abs(want)).dataSync()[0]];
          });
          expect(scale, `frame ${t}: the dense output is not all zeros`).to.be.greaterThan(0);
          expect(diff, `frame ${t}: max |delta - dense| (scale ${scale})`).to.be.lessThan(1e-4 * scale + 1e-6);
        });
        // Three layers a frame after the first, whose convs see a dense frame (cuDNN).
        expect(deltaConvStats.smallConvBlocks - before, 'small-conv blocks launched')
          .to.be.at.least(3 * (frames.length - 1))
          .and.at.most(3 * frames.length);
      } finally {
        setCudaOptions({allowTF32: true});
        tf.dispose(frames);
        delta.dispose();
        dense.dispose();
      }
    });
  },
);
