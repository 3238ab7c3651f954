/**
 * Pixel lists on 'cuda' (native/cuda/pixel_list.cuh: a pass lists the active pixels, the pixel groups then run over
 * the list only), in sparseAccumulate and the fused depthwise block, against the 'cpu' reference bit for bit: inputs
 * are multiples of 1/8 and filters of 1/16, so every depthwise sum is exact in float32 in any order, and the
 * accumulator's float32 steps are the reference's. The lists run where a compiled stream runs these kernels (lazy
 * delta outputs, a mask, the accumulator's state in place), so every case here is lazy and in place and checks that a
 * list ran. Over channel counts on both sides of the pixel groups' widths (1 lane to several warps a pixel, scalar and
 * float4 rows, two vectors a lane past 512), pixel counts that are not multiples of a warp, batch > 1, densities from
 * nothing and one pixel to dense, kernel sizes with and without an unrolled window, strides, dilations, pads, every
 * truncating activation and thresholds; a dense input or state not in place runs without a list; and a delta model's
 * 12-frame compiled stream is the same, bit for bit, with the lists on and off, in float32 and half state.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {deltaConvStats} from '../../../src/backends/cuda/kernels/delta';
import {setCudaOptions} from '../../../src/backends/cuda/index';
import {fusedDeltaConv2d, fusedDeltaDepthwiseConv2d, sparseAccumulate, withMask} from '../../../src/index';
import {
  ACTIVATIONS,
  accumulatorOutputs,
  compiledStreamOutputs,
  cudaBackend,
  describeCuda,
  exactValues,
  expectAccumulateParity,
  expectBlockParity,
  expectParity,
  flags,
  ownState,
  rand,
  sparselyChangingFrames,
  withZeroWrites,
} from '../../support/cuda';

/** Runs `f` with lazy zeros and counts the launches over pixel lists it made on 'cuda'. */
async function listedLaunches(f: () => Promise<void>): Promise<number> {
  const before = deltaConvStats.pixelLists;
  await withZeroWrites('lazy', f);
  return deltaConvStats.pixelLists - before;
}

describeCuda('cuda pixel lists: bit-exact parity with the cpu reference', () => {
  let saved = false;
  before(() => {
    saved = cudaBackend().pixelLists;
    cudaBackend().pixelLists = true; // the default, unless TFJS_DELTA_CUDA_PIXEL_LISTS=0
  });
  after(() => {
    cudaBackend().pixelLists = saved;
  });

  const accumulateCases: Array<{shape: number[]; density: number}> = [
    {shape: [1, 1, 1, 1], density: 1},
    {shape: [3, 7, 9, 3], density: 0.3}, // scalar rows, 4 lanes a pixel
    {shape: [2, 5, 13, 8], density: 0.5}, // float4 rows, 2 lanes a pixel: 16 pixels at a time
    {shape: [1, 11, 17, 40], density: 0.05}, // 10 vectors: 16 lanes
    {shape: [2, 9, 7, 70], density: 0.7}, // scalar rows, 70 lanes: a warp twice and a part
    {shape: [1, 6, 16, 96], density: 1}, // every pixel of every warp
    {shape: [3, 5, 5, 132], density: 0.2}, // 33 vectors: a warp and one vector
    {shape: [1, 9, 13, 1280], density: 0.1}, // 320 vectors: a group of 512 lanes
    {shape: [2, 7, 6, 2052], density: 0.5}, // 513 vectors: two a lane
    {shape: [2, 8, 8, 64], density: 0}, // nothing active
    {shape: [1, 13, 19, 24], density: 1e-9}, // one pixel
  ];
  let n = 0;
  for (const c of accumulateCases) {
    const activation = ACTIVATIONS[n % ACTIVATIONS.length];
    const threshold = [0, 0.05, 0.5][n % 3];
    n++;
    const name = `sparseAccumulate [${c.shape}] density ${c.density}, ${activation} threshold ${threshold}`;
    it(name, async () => {
      const launches = await listedLaunches(() =>
        expectAccumulateParity(name, c.shape, c.density, {threshold, activation, alpha: 0.1}, true),
      );
      expect(launches, 'launches over a pixel list').to.equal(1);
    });
  }

  const depthwiseCases: Array<{x: number[]; k: number; s: number; d: number; pad: 'same' | 'valid'; density: number}> =
    [
      {x: [1, 9, 11, 3], k: 3, s: 1, d: 1, pad: 'same', density: 0.2}, // scalar rows
      {x: [3, 13, 17, 16], k: 3, s: 2, d: 1, pad: 'same', density: 0.1},
      {x: [2, 11, 9, 37], k: 3, s: 1, d: 2, pad: 'valid', density: 0.4}, // scalar rows, 2 a lane
      {x: [1, 15, 13, 96], k: 5, s: 1, d: 1, pad: 'same', density: 0.05}, // a window not unrolled
      {x: [2, 10, 14, 144], k: 3, s: 2, d: 1, pad: 'valid', density: 1},
      {x: [1, 7, 9, 960], k: 3, s: 1, d: 1, pad: 'same', density: 0.03}, // a group of 256 lanes
      {x: [1, 5, 6, 2052], k: 3, s: 1, d: 1, pad: 'same', density: 0.5}, // two vectors a lane
      {x: [2, 12, 12, 32], k: 3, s: 1, d: 1, pad: 'same', density: 0}, // nothing active
      {x: [1, 19, 23, 48], k: 3, s: 1, d: 1, pad: 'same', density: 1e-9}, // one pixel: exactly its window
    ];
  for (const c of depthwiseCases) {
    const activation = ACTIVATIONS[n % ACTIVATIONS.length];
    const threshold = [0, 0.05, 0.5][n % 3];
    n++;
    const name =
      `fusedDeltaDepthwiseConv2d x[${c.x}] k${c.k} s${c.s} d${c.d} ${c.pad} density ${c.density}, ` +
      `${activation} threshold ${threshold}`;
    it(name, async () => {
      const oh = c.pad === 'same' ? Math.ceil(c.x[1] / c.s) : Math.ceil((c.x[1] - (c.k - 1) * c.d) / c.s);
      const ow = c.pad === 'same' ? Math.ceil(c.x[2] / c.s) : Math.ceil((c.x[2] - (c.k - 1) * c.d) / c.s);
      const out = [c.x[0], oh, ow, c.x[3]];
      const launches = await listedLaunches(() =>
        expectBlockParity(name, c.x, [c.k, c.k, c.x[3], 1], out, c.density, (x, filter, accumulated, residual) =>
          fusedDeltaDepthwiseConv2d({
            x,
            filter,
            strides: c.s,
            pad: c.pad,
            dilations: c.d,
            accumulated,
            residual,
            threshold,
            activation,
            alpha: 0.1,
            inPlace: true,
          }),
        ),
      );
      expect(launches, 'launches over a pixel list').to.equal(1);
    });
  }

  // FusedDeltaConv2D: the conv writes the accumulator's list and the zeros of its output mask, the accumulator skips
  // its list pass. Every kernel the conv may run: the mma kernel (1x1 and 3x3, a part-empty channel block), WMMA
  // (c % 4 != 0), the strict-fp32 variant of the tiled kernel, and the direct kernel (co < 16) with a list pass after it.
  type ConvKernel = 'mma' | 'wmma' | 'cudaCores';
  const convCases: Array<{
    x: number[];
    k: number;
    s: number;
    co: number;
    density: number;
    tf32: boolean;
    kernel: ConvKernel;
  }> = [
    {x: [2, 13, 21, 16], k: 1, s: 1, co: 64, density: 0.2, tf32: true, kernel: 'mma'},
    {x: [1, 17, 19, 32], k: 3, s: 1, co: 32, density: 0.1, tf32: true, kernel: 'mma'},
    {x: [2, 11, 23, 8], k: 3, s: 2, co: 48, density: 0.3, tf32: true, kernel: 'mma'}, // part-empty last channel block
    {x: [1, 9, 13, 6], k: 3, s: 1, co: 20, density: 0.5, tf32: true, kernel: 'wmma'}, // c % 4 != 0
    {x: [2, 10, 12, 16], k: 3, s: 1, co: 32, density: 0.4, tf32: false, kernel: 'cudaCores'}, // the tiled FFMA variant
    {x: [1, 7, 9, 4], k: 3, s: 1, co: 8, density: 0.5, tf32: true, kernel: 'cudaCores'}, // the direct kernel
    {x: [3, 19, 17, 16], k: 1, s: 1, co: 32, density: 0, tf32: true, kernel: 'mma'}, // nothing active
    {x: [1, 23, 29, 16], k: 3, s: 1, co: 32, density: 1e-9, tf32: true, kernel: 'mma'}, // one pixel: its 3x3 window
    {x: [2, 8, 16, 16], k: 1, s: 1, co: 32, density: 1, tf32: true, kernel: 'mma'},
  ];
  for (const c of convCases) {
    const activation = ACTIVATIONS[n % ACTIVATIONS.length];
    const threshold = [0, 0.05, 0.5][n % 3];
    n++;
    const name =
      `fusedDeltaConv2d x[${c.x}] k${c.k} s${c.s} -> ${c.co} density ${c.density}${c.tf32 ? '' : ' strict fp32'}, ` +
      `${activation} threshold ${threshold}: the conv writes the list`;
    it(name, async () => {
      const out = [c.x[0], Math.ceil(c.x[1] / c.s), Math.ceil(c.x[2] / c.s), c.co];
      const b = cudaBackend();
      const saved = [b.denseBelowBlocks, b.pointwiseBlocks, b.mmaPartialChannels, b.smallConvBlocks] as const;
      b.denseBelowBlocks = 0; // the tiled kernel on these small grids, not cuDNN
      b.pointwiseBlocks = false; // whatever TFJS_DELTA_CUDA_POINTWISE says: the 1x1 cases on the tiled kernels
      b.smallConvBlocks = false; // the 1x1 convs over 16 channels too, not the pixel-group block
      b.mmaPartialChannels = true;
      setCudaOptions({allowTF32: c.tf32});
      const before = {...deltaConvStats};
      try {
        const launches = await listedLaunches(() =>
          expectBlockParity(name, c.x, [c.k, c.k, c.x[3], c.co], out, c.density, (x, filter, accumulated, residual) =>
            fusedDeltaConv2d({
              x,
              filter,
              strides: c.s,
              pad: 'same',
              accumulated,
              residual,
              threshold,
              activation,
              alpha: 0.1,
              inPlace: true,
            }),
          ),
        );
        expect(launches, 'launches over a pixel list').to.equal(1);
        expect(
          deltaConvStats.producedLists - before.producedLists,
          'accumulators over the list their conv wrote',
        ).to.equal(1);
        const ran = {
          mma: deltaConvStats.mma - before.mma,
          wmma: deltaConvStats.tensorCore - before.tensorCore - (deltaConvStats.mma - before.mma),
          cudaCores: deltaConvStats.cudaCores - before.cudaCores,
        };
        expect(ran, 'the conv kernel that wrote the list').to.deep.equal({
          mma: c.kernel === 'mma' ? 1 : 0,
          wmma: c.kernel === 'wmma' ? 1 : 0,
          cudaCores: c.kernel === 'cudaCores' ? 1 : 0,
        });
      } finally {
        [b.denseBelowBlocks, b.pointwiseBlocks, b.mmaPartialChannels, b.smallConvBlocks] = saved;
        setCudaOptions({allowTF32: true});
      }
    });
  }

  it('a dense input (no mask) or state not in place runs without a list, with the same results', async () => {
    const shape = [2, 9, 11, 24];
    const launches = await listedLaunches(async () => {
      await expectParity(
        'sparseAccumulate, dense delta',
        [exactValues(shape, 8), rand(shape, -3, 3), rand(shape)],
        (d, a, r) => {
          const [ownA, ownR] = ownState(a, r);
          return accumulatorOutputs(
            sparseAccumulate(ownA, ownR, d, {threshold: 0.05, activation: 'relu6', inPlace: true}),
          );
        },
        0,
        0,
      );
      await expectParity(
        'sparseAccumulate, state not in place',
        [exactValues(shape, 8), flags(shape.slice(0, 3), 0.3), rand(shape, -3, 3), rand(shape)],
        (d, m, a, r) =>
          accumulatorOutputs(
            sparseAccumulate(a, r, withMask(d, tf.greater(m, 0.5)), {threshold: 0.05, activation: 'relu6'}),
          ),
        0,
        0,
      );
      await expectParity(
        'fusedDeltaDepthwiseConv2d, dense input',
        [exactValues(shape, 8), exactValues([3, 3, 24, 1], 16), rand(shape, -3, 3), rand(shape)],
        (x, f, a, r) => {
          const [ownA, ownR] = ownState(a, r);
          return accumulatorOutputs(
            fusedDeltaDepthwiseConv2d({
              x: x as tf.Tensor4D,
              filter: f as tf.Tensor4D,
              strides: 1,
              pad: 'same',
              accumulated: ownA,
              residual: ownR,
              threshold: 0.05,
              activation: 'relu6',
              inPlace: true,
            }),
          );
        },
        0,
        0,
      );
    });
    expect(launches, 'launches over a pixel list').to.equal(0);
  });

  for (const statePrecision of ['fp32', 'fp16'] as const) {
    it(`a delta model's compiled stream is the same bit for bit with the lists on and off (${statePrecision} state)`, async () => {
      await tf.setBackend('cuda');
      const input = tfl.input({shape: [23, 29, 8]});
      let y = tfl.layers
        .conv2d({filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6'})
        .apply(input) as tfl.SymbolicTensor;
      y = tfl.layers
        .depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu6'})
        .apply(y) as tfl.SymbolicTensor;
      y = tfl.layers.conv2d({filters: 48, kernelSize: 1, activation: 'relu'}).apply(y) as tfl.SymbolicTensor;
      y = tfl.layers
        .depthwiseConv2d({kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'})
        .apply(y) as tfl.SymbolicTensor;
      const model = tfl.model({inputs: input, outputs: y});
      const frames = sparselyChangingFrames([2, 23, 29, 8], 12, 0.9, {still: 7, moved: 100, change: 200});
      const run = async (lists: boolean) => {
        const saved = cudaBackend().pixelLists;
        cudaBackend().pixelLists = lists;
        const before = deltaConvStats.pixelLists;
        try {
          return await withZeroWrites('lazy', async () => {
            const outs = compiledStreamOutputs(model, frames, {threshold: 0.02, inputThreshold: 0.05, statePrecision});
            return {outs, launches: deltaConvStats.pixelLists - before};
          });
        } finally {
          cudaBackend().pixelLists = saved;
        }
      };
      const off = await run(false);
      const on = await run(true);
      expect(off.launches, 'launches over a pixel list with the lists off').to.equal(0);
      expect(on.launches, 'launches over a pixel list with the lists on').to.be.greaterThan(0);
      on.outs.forEach((v, i) =>
        v.forEach((x, j) => {
          if (!Object.is(x, off.outs[i][j]))
            expect.fail(`frame ${i} element ${j}: ${x} with the lists, ${off.outs[i][j]} without`);
        }),
      );
      tf.dispose(frames);
      model.dispose();
    });
  }
});
