/**
 * The staged accumulator on 'cuda' (sparseAccumulateStagedKernel, native/cuda/delta_accumulate.cu): listed pixels wider
 * than 128 channels, their A, R and d copied into shared memory stages ahead of the pixel the block works on. Against
 * the 'cpu' reference bit for bit (deltas in multiples of 1/8, the state at full precision). The grid is capped at a
 * few blocks (TFJS_DELTA_CUDA_STAGED_ACCUMULATE_BLOCKS) so that each block cycles through its four stages many times;
 * channel counts at the group widths and at the stages' shared-memory limit (1000 float32 channels, 1504 half) and
 * past it (the register kernel then), half state, every activation, in-place sequences whose state carries from one
 * call to the next, and one case on the uncapped grid.
 */
import * as tf from '@tensorflow/tfjs-core';

import {sparseAccumulate, storeHalf, withMask} from '../../../src/index';
import type {Activation} from '../../../src/index';
import {
  ACTIVATIONS,
  accumulatorOutputs,
  describeCuda,
  exactValues,
  expectAccumulateParity,
  expectParity,
  flags,
  rand,
  withZeroWrites,
} from '../../support/cuda';
import type {Input} from '../../support/cuda';

const ACTIVATIONS_ALL: Activation[] = ['linear', ...ACTIVATIONS];

describeCuda('cuda staged accumulator: bit-exact parity with the cpu reference', () => {
  const capVar = 'TFJS_DELTA_CUDA_STAGED_ACCUMULATE_BLOCKS';
  let saved: string | undefined;
  before(() => {
    saved = process.env[capVar];
    process.env[capVar] = '5';
  });
  after(() => {
    if (saved == null) delete process.env[capVar];
    else process.env[capVar] = saved;
  });

  // Listed pixels: density x pixels, from a few to some hundred items a block.
  const cases: Array<{shape: number[]; density: number}> = [
    {shape: [2, 15, 21, 132], density: 0.9}, // 33 vectors: 64 lanes
    {shape: [3, 13, 17, 144], density: 0.7},
    {shape: [2, 11, 13, 576], density: 0.8}, // 160 lanes
    {shape: [1, 13, 19, 960], density: 0.5},
    {shape: [1, 9, 11, 1000], density: 0.6}, // the float32 stages' limit, 47 KiB
    {shape: [1, 7, 9, 1004], density: 0.6}, // past it: the register kernel
    {shape: [4, 9, 13, 388], density: 0.02}, // a few pixels: some blocks have none
  ];
  let n = 0;
  for (const c of cases) {
    const activation = ACTIVATIONS_ALL[n % ACTIVATIONS_ALL.length];
    const threshold = [0.05, 0, 0.5][n % 3];
    n++;
    const name = `sparseAccumulate [${c.shape}] density ${c.density}, lazy, in place, ${activation} threshold ${threshold}`;
    it(name, () =>
      withZeroWrites('lazy', () =>
        expectAccumulateParity(name, c.shape, c.density, {threshold, activation, alpha: 0.1}, true),
      ),
    );
  }

  // Half state in place (storeHalf: half storage on 'cuda', float32 rounded to half on 'cpu').
  const halfCases: Array<{shape: number[]; density: number; activation: Activation}> = [
    {shape: [2, 13, 17, 192], density: 0.8, activation: 'relu6'},
    {shape: [1, 9, 13, 1504], density: 0.4, activation: 'relu'}, // the half stages' limit
    {shape: [1, 7, 9, 1508], density: 0.5, activation: 'tanh'}, // past it
  ];
  for (const c of halfCases) {
    const name = `fp16 state [${c.shape}] density ${c.density}, lazy, in place, ${c.activation}`;
    it(name, () =>
      withZeroWrites('lazy', () =>
        expectParity(
          name,
          [
            exactValues(c.shape, 8),
            flags(c.shape.slice(0, 3), c.density),
            rand(c.shape, -3, 3),
            rand(c.shape, -0.1, 0.1),
          ],
          (d, m, a, r) =>
            accumulatorOutputs(
              sparseAccumulate(storeHalf(a), storeHalf(r), withMask(d, tf.greater(m, 0.5)), {
                threshold: 0.05,
                activation: c.activation,
                statePrecision: 'fp16',
                inPlace: true,
              }),
            ),
          0,
          0,
        ),
      ),
    );
  }

  // Five calls on one state in place, each with a fresh delta and mask: a stage left over from one call, or a pixel
  // written twice, would show in the later calls' outputs or the final state.
  for (const [shape, activation] of [
    [[2, 13, 11, 576], 'relu6'],
    [[1, 20, 25, 160], 'sigmoid'],
  ] as Array<[number[], Activation]>) {
    const name = `five in-place calls [${shape}], ${activation}: every call's delta and the final state`;
    it(name, () => {
      const steps = 5;
      const inputs: Input[] = [rand(shape, -3, 3), rand(shape, -0.1, 0.1)];
      for (let t = 0; t < steps; t++)
        inputs.push(exactValues(shape, 8), flags(shape.slice(0, 3), [0.9, 0.3, 0.6][t % 3]));
      return withZeroWrites('lazy', () =>
        expectParity(
          name,
          inputs,
          (a0, r0, ...rest) => {
            let [a, r] = [tf.add(a0, 0), tf.add(r0, 0)];
            const outs: tf.Tensor[] = [];
            for (let t = 0; t < steps; t++) {
              const out = sparseAccumulate(a, r, withMask(rest[2 * t], tf.greater(rest[2 * t + 1], 0.5)), {
                threshold: 0.1,
                activation,
                inPlace: true,
              });
              outs.push(...accumulatorOutputs(out).slice(0, 3));
              [a, r] = [out.accumulated, out.residual];
            }
            return [...outs, a, r];
          },
          0,
          0,
        ),
      );
    });
  }

  it('on the uncapped grid (as many blocks as the GPU holds): a wide layer of some 1900 listed pixels', async () => {
    const cap = process.env[capVar];
    delete process.env[capVar];
    try {
      const name = 'sparseAccumulate [1, 45, 53, 576] density 0.8, uncapped grid';
      await withZeroWrites('lazy', () =>
        expectAccumulateParity(name, [1, 45, 53, 576], 0.8, {threshold: 0.05, activation: 'relu6', alpha: 0.1}, true),
      );
    } finally {
      if (cap != null) process.env[capVar] = cap;
    }
  });
});
