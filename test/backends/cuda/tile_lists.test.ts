/**
 * Tile lists on 'cuda' (native/cuda/delta_conv_tc.cu): a pass lists a tiled delta conv's active 8x16 tiles and writes
 * the output masks of the others, and the mma or WMMA kernel runs a grid the size of the GPU over the list instead of
 * a block per tile. Against the 'cpu' reference bit for bit (inputs multiples of 1/8, filters of 1/16: every sum exact
 * in float32 and TF32, in any order), with the lists forced on every grid (tileListWaves 0) and each case checking
 * that a list ran: both kernels and the strict-fp32 variant, 1x1 and 3x3 windows, strides, a dilation, 'valid' and
 * 'same' pads, part-empty channel blocks and edge tiles, batch > 1, more listed tiles than the grid has blocks (a block
 * then takes several in turn), densities from nothing and one pixel to dense; the accumulator's list written by a
 * listed conv; eager zeros and small grids at the default threshold run without a list; and a delta model's compiled
 * stream (CUDA graphs) is the same, bit for bit, with the lists on and off.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {TILE_LIST_WAVES} from '../../../src/backends/cuda/backend';
import {deltaConvStats} from '../../../src/backends/cuda/kernels/delta';
import {setCudaOptions} from '../../../src/backends/cuda/index';
import {deltaConv2d, fusedDeltaConv2d, withMask} from '../../../src/index';
import type {PadSpec2D} from '../../../src/index';
import {
  compiledStreamOutputs,
  cudaBackend,
  describeCuda,
  exactValues,
  expectBlockParity,
  expectParity,
  flags,
  sparselyChangingFrames,
  withFlags,
  withZeroWrites,
  type ZeroWrites,
} from '../../support/cuda';

/** Runs `f` with the given zero writes and counts the convs that ran over a tile list. */
async function tileListed(f: () => Promise<void>, zeros: ZeroWrites = 'lazy'): Promise<number> {
  const before = deltaConvStats.tileLists;
  await withZeroWrites(zeros, f);
  return deltaConvStats.tileLists - before;
}

type Kernel = 'mma' | 'wmma' | 'cudaCores';

/**
 * Runs `f` with the tiled kernels on every grid (no cuDNN route) and for every regular conv (no pixel-group block for
 * the small ones), tile lists at `waves`, TF32 as asked.
 */
async function withTiles<T>(waves: number, tf32: boolean, f: () => Promise<T>): Promise<T> {
  const b = cudaBackend();
  const saved = [
    b.denseBelowBlocks,
    b.tileListWaves,
    b.pointwiseBlocks,
    b.mmaPartialChannels,
    b.smallConvBlocks,
  ] as const;
  b.denseBelowBlocks = 0;
  b.tileListWaves = waves;
  b.pointwiseBlocks = false; // whatever TFJS_DELTA_CUDA_POINTWISE says: 1x1 convs on the tiled kernels
  b.mmaPartialChannels = true;
  b.smallConvBlocks = false;
  setCudaOptions({allowTF32: tf32});
  try {
    return await f();
  } finally {
    [b.denseBelowBlocks, b.tileListWaves, b.pointwiseBlocks, b.mmaPartialChannels, b.smallConvBlocks] = saved;
    setCudaOptions({allowTF32: true});
  }
}

/** Which conv kernel ran since `before`. */
function ranKernel(before: typeof deltaConvStats): Kernel {
  if (deltaConvStats.mma > before.mma) return 'mma';
  if (deltaConvStats.tensorCore > before.tensorCore) return 'wmma';
  return 'cudaCores';
}

describeCuda('cuda tile lists: bit-exact parity with the cpu reference', () => {
  const cases: Array<{
    x: number[];
    k: number;
    s: number;
    d: number;
    pad: PadSpec2D;
    co: number;
    density: number;
    kernel: Kernel;
    tf32?: boolean;
  }> = [
    // 2 x 8 x 8 tiles in 3 channel blocks of 32: more listed tiles than the grid's 88 columns on 132 multiprocessors
    {x: [2, 64, 128, 16], k: 1, s: 1, d: 1, pad: 'valid', co: 96, density: 0.3, kernel: 'mma'},
    {x: [3, 37, 45, 32], k: 3, s: 1, d: 1, pad: 'same', co: 64, density: 0.05, kernel: 'mma'}, // edge tiles
    {x: [2, 33, 50, 8], k: 3, s: 2, d: 1, pad: 'same', co: 48, density: 0.2, kernel: 'mma'}, // part-empty block
    {x: [1, 40, 70, 16], k: 3, s: 1, d: 2, pad: 'valid', co: 32, density: 0.1, kernel: 'mma'},
    {x: [2, 65, 97, 3], k: 3, s: 2, d: 1, pad: 'same', co: 32, density: 0.04, kernel: 'wmma'}, // a first layer
    {x: [2, 20, 40, 16], k: 3, s: 1, d: 1, pad: 'same', co: 32, density: 0.3, kernel: 'cudaCores', tf32: false},
    {x: [2, 24, 48, 16], k: 1, s: 1, d: 1, pad: 'same', co: 64, density: 0, kernel: 'mma'}, // nothing active
    {x: [1, 31, 47, 16], k: 3, s: 1, d: 1, pad: 'same', co: 32, density: 1e-9, kernel: 'mma'}, // one pixel
    {x: [2, 16, 32, 16], k: 1, s: 1, d: 1, pad: 'same', co: 64, density: 1, kernel: 'mma'}, // every tile
  ];
  for (const c of cases) {
    const tf32 = c.tf32 ?? true;
    const name =
      `deltaConv2d x[${c.x}] k${c.k} s${c.s} d${c.d} ${JSON.stringify(c.pad)} -> ${c.co} density ${c.density}` +
      `${tf32 ? '' : ' strict fp32'} (${c.kernel})`;
    it(name, async () => {
      const before = {...deltaConvStats};
      const listed = await withTiles(0, tf32, () =>
        tileListed(() =>
          expectParity(
            name,
            [exactValues(c.x, 8), flags(c.x.slice(0, 3), c.density), exactValues([c.k, c.k, c.x[3], c.co], 16)],
            (x, m, f) =>
              withFlags(
                deltaConv2d(withMask(x, tf.greater(m, 0.5)) as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d),
              ),
            0,
            0,
          ),
        ),
      );
      expect(listed, 'convs over a tile list').to.equal(1);
      expect(ranKernel(before), 'the conv kernel').to.equal(c.kernel);
    });
  }

  for (const c of [
    {x: [2, 48, 96, 16], k: 1, co: 64, density: 0.1, kernel: 'mma' as Kernel},
    {x: [2, 40, 64, 3], k: 3, co: 32, density: 0.2, kernel: 'wmma' as Kernel},
  ]) {
    const name = `fusedDeltaConv2d x[${c.x}] k${c.k} -> ${c.co} density ${c.density}: a listed conv writes the accumulator's list`;
    it(name, async () => {
      const before = {...deltaConvStats};
      const listed = await withTiles(0, true, () =>
        tileListed(() =>
          expectBlockParity(
            name,
            c.x,
            [c.k, c.k, c.x[3], c.co],
            [c.x[0], c.x[1], c.x[2], c.co],
            c.density,
            (x, filter, accumulated, residual) =>
              fusedDeltaConv2d({
                x,
                filter,
                strides: 1,
                pad: 'same',
                accumulated,
                residual,
                threshold: 0.05,
                activation: 'relu6',
                inPlace: true,
              }),
          ),
        ),
      );
      expect(listed, 'convs over a tile list').to.equal(1);
      expect(deltaConvStats.producedLists - before.producedLists, "accumulators over their conv's list").to.equal(1);
      expect(ranKernel(before), 'the conv kernel').to.equal(c.kernel);
    });
  }

  it('eager zeros, and a small grid at the default threshold, run without a tile list', async () => {
    const conv = (shape: number[]) =>
      expectParity(
        `deltaConv2d x[${shape}]`,
        [exactValues(shape, 8), flags(shape.slice(0, 3), 0.2), exactValues([1, 1, shape[3], 64], 16)],
        (x, m, f) =>
          withFlags(deltaConv2d(withMask(x, tf.greater(m, 0.5)) as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')),
        0,
        0,
      );
    expect(await withTiles(0, true, () => tileListed(() => conv([2, 24, 48, 16]), 'eager')), 'eager').to.equal(0);
    expect(
      await withTiles(TILE_LIST_WAVES, true, () => tileListed(() => conv([2, 24, 48, 16]))),
      'a small grid at the default',
    ).to.equal(0);
    expect(await withTiles(-1, true, () => tileListed(() => conv([2, 64, 128, 16]))), 'lists off').to.equal(0);
  });

  it("a delta model's compiled stream is the same bit for bit with the tile lists on and off", async () => {
    await tf.setBackend('cuda');
    const [h, w] = [67, 131];
    const input = tfl.input({shape: [h, w, 3]});
    let y = tfl.layers
      .conv2d({filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6'})
      .apply(input) as tfl.SymbolicTensor;
    y = tfl.layers.conv2d({filters: 48, kernelSize: 1, activation: 'relu6'}).apply(y) as tfl.SymbolicTensor;
    y = tfl.layers
      .depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu6'})
      .apply(y) as tfl.SymbolicTensor;
    y = tfl.layers
      .conv2d({filters: 64, kernelSize: 3, padding: 'same', activation: 'relu'})
      .apply(y) as tfl.SymbolicTensor;
    const model = tfl.model({inputs: input, outputs: y});
    const frames = sparselyChangingFrames([2, h, w, 3], 10, 0.97, {still: 11, moved: 300, change: 400});
    const run = (waves: number) =>
      withTiles(waves, true, () =>
        withZeroWrites('lazy', async () => {
          const before = deltaConvStats.tileLists;
          const outs = compiledStreamOutputs(model, frames, {threshold: 0.02, inputThreshold: 0.05});
          return {outs, listed: deltaConvStats.tileLists - before};
        }),
      );
    const on = await run(0);
    const off = await run(-1);
    expect(on.listed, 'convs over a tile list with the lists on (eager frames and capture)').to.be.greaterThan(0);
    expect(off.listed, 'convs over a tile list with the lists off').to.equal(0);
    on.outs.forEach((v, i) =>
      v.forEach((x, j) => {
        if (!Object.is(x, off.outs[i][j]))
          expect.fail(`frame ${i} element ${j}: ${x} with the tile lists, ${off.outs[i][j]} without`);
      }),
    );
    tf.dispose(frames);
    model.dispose();
  });
});
