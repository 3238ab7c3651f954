/**
 * The pixel groups of sparseAccumulate and the fused depthwise block on 'cuda' (native/cuda/pixel_group.cuh) for
 * pixels wider than a warp, whose groups are whole warps but not a power of two (160 lanes for 576 channels), against
 * the 'cpu' reference bit for bit: deltas are multiples of 1/8 and filters of 1/16, so every depthwise sum is exact in
 * float32 in any order, while the state is drawn at full precision, so the accumulator's float32 roundings and the
 * activation change (in float32 for linear, ReLU and ReLU6, in double for the others: the same bits as the reference)
 * are held to the reference's. Channel counts on both sides of the group widths (a warp and one vector, three warps
 * and one, the 512-lane cap and past it, scalar rows), with pixel lists (lazy, in place) and without (eager zeros,
 * state not in place), batch > 1, densities from one pixel to dense, every activation.
 */
import {fusedDeltaDepthwiseConv2d} from '../../../src/index';
import type {Activation} from '../../../src/index';
import {ACTIVATIONS, describeCuda, expectAccumulateParity, expectBlockParity, withZeroWrites} from '../../support/cuda';

const ACTIVATIONS_ALL: Activation[] = ['linear', ...ACTIVATIONS];

describeCuda('cuda pixel groups of whole warps: bit-exact parity with the cpu reference', () => {
  const accumulateCases: Array<{shape: number[]; density: number}> = [
    {shape: [2, 5, 7, 132], density: 0.4}, // 33 vectors: a warp and one
    {shape: [3, 4, 5, 144], density: 1}, // 36 vectors: 64 lanes
    {shape: [1, 7, 9, 388], density: 0.3}, // 97 vectors: four warps, the last with one vector
    {shape: [2, 6, 5, 576], density: 0.2}, // 144 vectors: 160 lanes
    {shape: [1, 5, 6, 1280], density: 0.5}, // 320 vectors
    {shape: [2, 3, 5, 2052], density: 0.6}, // 513 vectors: past the 512-lane cap
    {shape: [1, 9, 11, 514], density: 0.3}, // scalar rows: 512 lanes, two lanes twice
    {shape: [1, 13, 19, 384], density: 1e-9}, // one pixel
  ];
  let n = 0;
  for (const lazy of [true, false])
    for (const c of accumulateCases) {
      const activation = ACTIVATIONS_ALL[n % ACTIVATIONS_ALL.length];
      const threshold = [0, 0.05, 0.5][n % 3];
      n++;
      const name =
        `sparseAccumulate [${c.shape}] density ${c.density}, ` +
        `${lazy ? 'lazy, in place' : 'eager, new state'}, ${activation} threshold ${threshold}`;
      it(name, () =>
        withZeroWrites(lazy ? 'lazy' : 'eager', () =>
          expectAccumulateParity(name, c.shape, c.density, {threshold, activation, alpha: 0.1}, lazy),
        ),
      );
    }

  const depthwiseCases: Array<{x: number[]; s: number; density: number}> = [
    {x: [2, 9, 11, 144], s: 1, density: 0.3}, // 36 vectors
    {x: [1, 11, 9, 388], s: 2, density: 0.5}, // 97 vectors
    {x: [2, 7, 8, 576], s: 1, density: 0.1}, // 144 vectors
    {x: [1, 6, 7, 960], s: 2, density: 1},
    {x: [1, 5, 6, 3072], s: 1, density: 0.4}, // 768 vectors: two a lane, 384 lanes
    {x: [1, 7, 5, 514], s: 1, density: 0.5}, // scalar rows
  ];
  for (const lazy of [true, false])
    for (const c of depthwiseCases) {
      const activation = ACTIVATIONS_ALL[n % ACTIVATIONS_ALL.length];
      const threshold = [0, 0.05, 0.5][n % 3];
      n++;
      const name =
        `fusedDeltaDepthwiseConv2d x[${c.x}] s${c.s} density ${c.density}, ` +
        `${lazy ? 'lazy' : 'eager'}, ${activation} threshold ${threshold}`;
      it(name, () => {
        const out = [c.x[0], Math.ceil(c.x[1] / c.s), Math.ceil(c.x[2] / c.s), c.x[3]];
        return withZeroWrites(lazy ? 'lazy' : 'eager', () =>
          expectBlockParity(name, c.x, [3, 3, c.x[3], 1], out, c.density, (x, filter, accumulated, residual) =>
            fusedDeltaDepthwiseConv2d({
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
      });
    }
});
