/**
 * 1x1 delta convs as the tiled tensor-core kernel with the accumulator as its epilogue (native/cuda/delta_conv_tc.cu,
 * deltaConvMmaAccumulateKernel: every channel block of a tile into shared memory, then the accumulator's arithmetic
 * per active pixel) against the 'cpu' reference, bit for bit: inputs are multiples of 1/8 and filters of 1/16, so
 * every conv sum is exact in TF32 products and float32 sums in any order, while the state is drawn at full precision.
 * Input channels from 16 to 192 (one to three chunks), output channels from 28 (a part-empty channel block) to the
 * 256 cap, one to eight channel blocks, strides 1 and 2, 'same' and 'valid' pads, odd sizes, batch > 1, densities
 * from one pixel to dense, the activations it takes, lazy and eager zeros, a tile list; a 12-frame stream with the
 * state in place; float32 and half state against the two kernels (the tiled conv, then the accumulator) on
 * full-precision values, where only the same sums in the same order agree; shapes it does not take running the two
 * kernels; a delta model whose 1x1 convs take it equal to the dense model at threshold 0. Outputs start poisoned
 * (NaN), so an unwritten element fails.
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
  cudaBackend,
  describeCuda,
  expectBlockParity,
  expectStreamEqualsTwoKernels,
  expectStreamParity,
  sparselyChangingFrames,
  withZeroWrites,
} from '../../support/cuda';

/** The activations the kernel takes: those exact in float32 (native activationExactInFloat). */
const EXACT_ACTIVATIONS: Activation[] = ['linear', 'relu', 'relu6'];

interface Geometry {
  x: number[];
  s: number;
  pad: 'same' | 'valid';
  co: number;
}

function outShape(g: Geometry): [number, number, number, number] {
  const out = (n: number) => (g.pad === 'same' ? Math.ceil(n / g.s) : Math.floor((n - 1) / g.s) + 1);
  return [g.x[0], out(g.x[1]), out(g.x[2]), g.co];
}

function filterShape(g: Geometry): [number, number, number, number] {
  return [1, 1, g.x[3], g.co];
}

/** fusedDeltaConv2d (1x1) of geometry `g` with the accumulator's attributes. */
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
    pad: g.pad,
    accumulated,
    residual,
    alpha: 0.1,
    inPlace: true,
    ...attrs,
  });
}

/** Runs `f` and returns how many accumulating tiled kernels it launched on 'cuda', and over how many tile lists. */
async function launches(f: () => Promise<void>): Promise<{blocks: number; tileLists: number}> {
  const before = {...deltaConvStats};
  await f();
  return {
    blocks: deltaConvStats.mmaAccumulateBlocks - before.mmaAccumulateBlocks,
    tileLists: deltaConvStats.tileLists - before.tileLists,
  };
}

describeCuda(
  'cuda 1x1 delta convs with the accumulator in the tiled kernel: bit-exact parity with the cpu reference',
  () => {
    // The kernel on, the small-conv block off (it would take the 1x1 convs over 16-32 channels), the tile lists as
    // each case says, whatever TFJS_DELTA_CUDA_{FUSED,MMA_ACCUMULATE,SMALL_CONV_BLOCKS,TILE_LISTS} say.
    let saved: [boolean, boolean, boolean, number] = [true, false, true, -1];
    before(() => {
      const b = cudaBackend();
      saved = [b.fusedDeltaBlocks, b.mmaAccumulateBlocks, b.smallConvBlocks, b.tileListWaves];
      [b.fusedDeltaBlocks, b.mmaAccumulateBlocks, b.smallConvBlocks] = [true, true, false];
    });
    after(() => {
      const b = cudaBackend();
      [b.fusedDeltaBlocks, b.mmaAccumulateBlocks, b.smallConvBlocks, b.tileListWaves] = saved;
    });

    const cases: Array<Geometry & {density: number}> = [
      {x: [2, 11, 13, 16], s: 1, pad: 'valid', co: 96, density: 0.3}, // three channel blocks of 32
      {x: [1, 12, 14, 24], s: 1, pad: 'same', co: 144, density: 0.2}, // the last block half empty
      {x: [2, 9, 7, 32], s: 2, pad: 'same', co: 64, density: 0.5}, // a 15x31 footprint
      {x: [1, 17, 33, 64], s: 1, pad: 'valid', co: 64, density: 1}, // dense, three tiles across
      {x: [2, 10, 12, 96], s: 1, pad: 'valid', co: 96, density: 0.1}, // two input chunks
      {x: [1, 13, 17, 192], s: 1, pad: 'same', co: 192, density: 1e-9}, // one pixel, three chunks
      {x: [2, 8, 8, 16], s: 1, pad: 'valid', co: 64, density: 0}, // nothing active
      {x: [1, 20, 35, 24], s: 1, pad: 'valid', co: 256, density: 0.6}, // the 256 cap: two float4s a lane
      {x: [3, 9, 17, 16], s: 1, pad: 'same', co: 32, density: 0.4},
      {x: [1, 7, 9, 20], s: 1, pad: 'valid', co: 28, density: 0.5}, // one part-empty block
      {x: [2, 15, 17, 32], s: 2, pad: 'valid', co: 96, density: 0.3},
    ];
    const modes: Array<{zeros: 'lazy' | 'eager'; tileLists: boolean}> = [
      {zeros: 'lazy', tileLists: false},
      {zeros: 'eager', tileLists: false},
      {zeros: 'lazy', tileLists: true},
    ];
    let n = 0;
    for (const mode of modes)
      for (const c of cases) {
        const activation = EXACT_ACTIVATIONS[n % EXACT_ACTIVATIONS.length];
        const threshold = [0.05, 0, 0.5, 0.2][n % 4];
        n++;
        const name =
          `fusedDeltaConv2d x[${c.x}] 1x1 s${c.s} ${c.pad} -> ${c.co} density ${c.density}, ` +
          `${mode.zeros}${mode.tileLists ? ', over a tile list' : ''}, ${activation} threshold ${threshold}`;
        it(name, async () => {
          const b = cudaBackend();
          b.tileListWaves = mode.tileLists ? 0 : -1; // 0: a list wherever it can run, -1: never
          try {
            const ran = await launches(() =>
              withZeroWrites(mode.zeros, () =>
                expectBlockParity(name, c.x, filterShape(c), outShape(c), c.density, (x, f, a, r) =>
                  block(c, {threshold, activation}, x, f, a, r),
                ),
              ),
            );
            expect(ran.blocks, 'accumulating tiled kernels launched').to.equal(1);
            expect(ran.tileLists, 'launches over a tile list').to.equal(mode.tileLists ? 1 : 0);
          } finally {
            b.tileListWaves = saved[3];
          }
        });
      }

    it('shapes it does not take (3x3, 260 outputs, co % 4 != 0, sigmoid, c % 4 != 0, c < 16, too much shared memory) run the two kernels', async () => {
      const fallbacks: Array<{g: Geometry; k: number; activation: Activation}> = [
        {g: {x: [1, 9, 11, 16], s: 1, pad: 'same', co: 64}, k: 3, activation: 'relu6'},
        {g: {x: [1, 6, 7, 16], s: 1, pad: 'valid', co: 260}, k: 1, activation: 'relu6'},
        {g: {x: [2, 5, 9, 16], s: 1, pad: 'valid', co: 30}, k: 1, activation: 'relu'},
        {g: {x: [1, 8, 9, 32], s: 1, pad: 'valid', co: 64}, k: 1, activation: 'sigmoid'},
        {g: {x: [1, 8, 9, 18], s: 1, pad: 'valid', co: 64}, k: 1, activation: 'relu'},
        {g: {x: [2, 7, 9, 8], s: 1, pad: 'valid', co: 32}, k: 1, activation: 'relu'}, // c < 16: the direct kernel's
        {g: {x: [1, 9, 7, 64], s: 2, pad: 'same', co: 192}, k: 1, activation: 'relu6'}, // stages over the mma cap
      ];
      for (const {g, k, activation} of fallbacks) {
        const name = `fallback ${JSON.stringify(g)} k${k} ${activation}`;
        const out = outShape(g); // for the 3x3 too: 'same', stride 1
        const ran = await launches(() =>
          withZeroWrites('lazy', () =>
            expectBlockParity(name, g.x, [k, k, g.x[3], g.co], out, 0.3, (x, f, a, r) =>
              fusedDeltaConv2d({
                x,
                filter: f,
                strides: g.s,
                pad: g.pad,
                accumulated: a,
                residual: r,
                threshold: 0.05,
                activation,
                alpha: 0.1,
                inPlace: true,
              }),
            ),
          ),
        );
        expect(ran.blocks, `accumulating tiled kernels for ${name}`).to.equal(0);
      }
    });

    for (const g of [
      {x: [2, 21, 19, 24], s: 1, pad: 'valid', co: 144},
      {x: [1, 18, 30, 96], s: 1, pad: 'same', co: 192},
    ] as Geometry[]) {
      it(`a 12-frame stream x[${g.x}] 1x1 -> ${g.co}, the state in place, equals the cpu reference bit for bit`, async () => {
        const ran = await launches(() =>
          expectStreamParity(`stream ${JSON.stringify(g)}`, g.x, filterShape(g), outShape(g), (x, f, a, r) =>
            block(g, {threshold: 0.1, activation: 'relu6'}, x, f, a, r),
          ),
        );
        expect(ran.blocks, 'accumulating tiled kernels launched').to.equal(12);
      });
    }

    // Against the tiled conv and the accumulator (small grids not routed to cuDNN), on full-precision values: the
    // kernel's sums must be the tiled conv's, in the same order.
    for (const [g, zeros, precision] of [
      [{x: [2, 13, 15, 16], s: 1, pad: 'valid', co: 96}, 'lazy', 'fp16'],
      [{x: [1, 11, 9, 64], s: 1, pad: 'valid', co: 192}, 'lazy', 'fp16'],
      [{x: [1, 12, 14, 24], s: 1, pad: 'same', co: 144}, 'eager', 'fp16'],
      [{x: [2, 10, 12, 96], s: 1, pad: 'valid', co: 96}, 'lazy', 'fp32'],
      [{x: [1, 12, 14, 24], s: 1, pad: 'same', co: 144}, 'eager', 'fp32'],
    ] as Array<[Geometry, 'lazy' | 'eager', 'fp32' | 'fp16']>) {
      it(`with ${precision} state, a 12-frame stream x[${g.x}] 1x1 -> ${g.co} of random values, ${zeros} zeros, equals the two kernels bit for bit`, async () => {
        const b = cudaBackend();
        const attrs = {threshold: 0.2, activation: 'relu6' as const, statePrecision: precision};
        const [before, denseBelow] = [deltaConvStats.mmaAccumulateBlocks, b.denseBelowBlocks];
        b.denseBelowBlocks = 0;
        try {
          await expectStreamEqualsTwoKernels(
            g.x,
            filterShape(g),
            outShape(g),
            {zeros, precision, values: 'random'},
            (x, f, a, r) => block(g, attrs, x, f, a, r),
            (on) => (b.mmaAccumulateBlocks = on),
          );
        } finally {
          b.denseBelowBlocks = denseBelow;
        }
        expect(deltaConvStats.mmaAccumulateBlocks - before, 'accumulating tiled kernels launched').to.equal(12);
      });
    }

    it('a delta model whose 1x1 convs take the kernel equals the dense model at threshold 0', async () => {
      await tf.setBackend('cuda');
      // The kernel needs TF32, which rounds the operands of each frame's delta where the dense model rounds the frame's
      // input once: the delta model is held to the dense one within 1% of the output's scale (a wrong tile, channel
      // block or flush is off by the scale itself).
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
      const before = deltaConvStats.mmaAccumulateBlocks;
      setCudaOptions({allowTF32: true}); // the default, which another file's test may have turned off
      try {
        frames.forEach((frame, t) => {
          const [diff, scale] = tf.tidy(() => {
            const got = delta.predict(frame) as tf.Tensor;
            const want = dense.predict(frame) as tf.Tensor;
            return [tf.max(tf.abs(tf.sub(got, want))).dataSync()[0], tf.max(tf.abs(want)).dataSync()[0]];
          });
          expect(scale, `frame ${t}: the dense output is not all zeros`).to.be.greaterThan(0);
          expect(diff, `frame ${t}: max |delta - dense| (scale ${scale})`).to.be.lessThan(1e-2 * scale);
        });
        // The 1x1 expansions (the projection too where it accumulates: linear is exact in float32) of every frame
        // after the first, whose convs see a dense frame.
        expect(deltaConvStats.mmaAccumulateBlocks - before, 'accumulating tiled kernels launched')
          .to.be.at.least(2 * (frames.length - 1))
          .and.at.most(3 * frames.length);
      } finally {
        tf.dispose(frames);
        delta.dispose();
        dense.dispose();
      }
    });
  },
);
