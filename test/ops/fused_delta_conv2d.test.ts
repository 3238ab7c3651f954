/**
 * fusedDeltaConv2d against dense tf ops: tf.conv2d of the delta, its output mask from the input mask convolved with
 * ones, then the truncating accumulator written as tf ops; over pointwise and 3x3 kernels, strides, dilations, pads,
 * odd sizes, channel counts around the fused kernel's slices (32, 64) and chunks (32), pixel counts around its
 * groups of 32, batch > 1, every truncating activation, thresholds that flush nothing, some or everything, dense and
 * sparse inputs; plus a stream of frames equal to the two ops in sequence, the state in place or not, and argument
 * errors. (The 'cuda' pointwise kernel itself, with TF32 on, is held to the 'cpu' reference bit for bit in
 * test/backends/cuda/pointwise.test.ts.)
 */
import * as tf from '@tensorflow/tfjs-core';

import {deltaConv2d, fusedDeltaConv2d} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import type {Pad2D} from '../support/dense_reference';
import {expectFusedParity, fusedConvSharedTests, TRUNCATING_ACTIVATIONS} from '../support/fused_conv';
import type {FusedConvOp} from '../support/fused_conv';
import {freshSeed, pick, randInt, randn, randomDelta} from '../support/util';

const OP: FusedConvOp = {
  name: 'fusedDeltaConv2d',
  fused: fusedDeltaConv2d,
  conv: (x, filter, strides, pad) => deltaConv2d(x, filter, strides, pad),
  filterShape: (k, c, co) => [k, k, c, co],
  depthwise: false,
};

describeEachBackend('fusedDeltaConv2d parity with tf.conv2d and the dense accumulator', () => {
  const cases: Array<{k: number; strides: number; dilation: number; pad: Pad2D}> = [
    {k: 1, strides: 1, dilation: 1, pad: 'valid'},
    {k: 1, strides: 1, dilation: 1, pad: 'same'},
    {k: 1, strides: 2, dilation: 1, pad: 'same'},
    {k: 3, strides: 1, dilation: 1, pad: 'same'},
    {k: 3, strides: 2, dilation: 1, pad: 'valid'},
    {k: 3, strides: 1, dilation: 2, pad: 1},
  ];
  let n = 0;
  for (const {k, strides, dilation, pad} of cases) {
    for (const fraction of [1, 0.3, 0.02]) {
      const [activation, alpha] = TRUNCATING_ACTIVATIONS[n % TRUNCATING_ACTIVATIONS.length];
      const threshold = [0, 0.05, 0.5][Math.floor(n / 2) % 3];
      n++;
      const name =
        `k${k} s${strides} d${dilation} pad ${JSON.stringify(pad)} ${fraction} active, ` +
        `${activation} threshold ${threshold}`;
      it(name, () => {
        const seed = freshSeed();
        const eff = (k - 1) * dilation + 1;
        const [b, h, w] = [pick([1, 2, 3]), randInt(eff, eff + 12) | 1, randInt(eff, eff + 14)];
        const [c, co] = [pick([4, 12, 24, 36, 68, 7]), pick([32, 64, 96, 160, 24])];
        const ctx = `${name} x[${b},${h},${w},${c}] -> ${co} seed ${seed}`;
        tf.tidy(() => {
          const x = (
            fraction === 1 ? randn([b, h, w, c], seed) : randomDelta([b, h, w, c], fraction, seed)
          ) as tf.Tensor4D;
          const filter = randn([k, k, c, co], seed + 3, 0.3) as tf.Tensor4D;
          expectFusedParity(OP, x, filter, {k, strides, pad, dilation}, {threshold, activation, alpha}, seed + 5, ctx);
        });
      });
    }
  }

  fusedConvSharedTests(OP);
});
