/**
 * The tests the fused delta conv ops (fusedDeltaConv2d, fusedDeltaDepthwiseConv2d) share, for one op: the state in
 * place or not, a 30-frame stream equal to the conv op then sparseAccumulate, and argument errors. Each op's own file
 * adds its parity grid against dense tf ops.
 */
import * as tf from '@tensorflow/tfjs-core';

import {getMask, sparseAccumulate, storeHalf, withMask} from '../../src/index';
import type {Activation} from '../../src/index';
import type {FusedConvAccumulateArgs} from '../../src/ops/fused_conv_accumulate';
import type {SparseAccumulateResult} from '../../src/ops/sparse_accumulate';
import {
  accumulateReference,
  accumulatorState,
  denseConv2d,
  expectAccumulated,
  expectedConvMask,
  Pad2D,
} from './dense_reference';
import {expectClose, expectMask, expectThrowsNaming, freshSeed, randn, randomDelta} from './util';

/** Every truncating activation, with an alpha for leakyRelu. */
export const TRUNCATING_ACTIVATIONS: Array<[Activation, number]> = [
  ['relu', 0.2],
  ['relu6', 0.2],
  ['leakyRelu', 0.1],
  ['sigmoid', 0.2],
  ['tanh', 0.2],
];

export interface FusedConvOp {
  /** The op's name, as its errors name it. */
  name: string;
  fused: (args: FusedConvAccumulateArgs) => SparseAccumulateResult<tf.Tensor4D>;
  /** The unfused conv op, (x, filter, strides, pad) as deltaConv2d takes them. */
  conv: (x: tf.Tensor4D, filter: tf.Tensor4D, strides: number, pad: 'same' | 'valid') => tf.Tensor4D;
  /** The filter shape for c input channels and co output channels (the depthwise op's co is c). */
  filterShape: (k: number, c: number, co: number) => [number, number, number, number];
  /** Whether the op's conv is depthwise (its dense reference is tf.depthwiseConv2d). */
  depthwise: boolean;
}

/**
 * One case of an op's parity grid: the fused op against the dense conv of x, masked as the delta conv's output
 * (the input mask convolved with ones), then the truncating accumulator as dense tf ops, on fresh state.
 */
export function expectFusedParity(
  op: FusedConvOp,
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  g: {k: number; strides: number; pad: Pad2D; dilation: number},
  acc: {threshold: number; activation: Activation; alpha: number},
  seed: number,
  ctx: string,
): void {
  const y = denseConv2d(x, filter, g.strides, g.pad, g.dilation, undefined, op.depthwise);
  const [a, r] = accumulatorState(y.shape, seed);
  const got = op.fused({
    x,
    filter,
    strides: g.strides,
    pad: g.pad as 'same',
    dilations: g.dilation,
    accumulated: a,
    residual: r,
    ...acc,
  });
  const convMask = expectedConvMask(x, g.k, g.strides, g.pad, g.dilation);
  const want = accumulateReference(a, r, withMask(y, convMask), acc.threshold, acc.activation, acc.alpha);
  expectAccumulated(got, want, ctx, {delta: [1e-5, 1e-5], state: [1e-5, 1e-5]});
}

/** Registers the shared tests of `op` inside the current describe. */
export function fusedConvSharedTests(op: FusedConvOp): void {
  it('inPlace false leaves the state inputs as they were; inPlace true gives the same results', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = randomDelta([3, 8, 7, 40], 0.3, seed) as tf.Tensor4D;
      const filter = randn(op.filterShape(1, 40, 40), seed + 1, 0.3) as tf.Tensor4D;
      const [a, r] = accumulatorState([3, 8, 7, 40], seed + 2);
      const [a0, r0] = [tf.clone(a), tf.clone(r)];
      const args = {x, filter, strides: 1, pad: 'same' as const, threshold: 0.1, activation: 'relu' as const};
      const copied = op.fused({...args, accumulated: a, residual: r});
      expectClose(a, a0, 'accumulated input after inPlace false', 0, 0);
      expectClose(r, r0, 'residual input after inPlace false', 0, 0);
      const inPlace = op.fused({...args, accumulated: a0, residual: r0, inPlace: true});
      expectClose(inPlace.delta, copied.delta, `delta in place seed ${seed}`, 0, 0);
      expectClose(inPlace.accumulated, copied.accumulated, `accumulated in place seed ${seed}`, 0, 0);
      expectClose(inPlace.residual, copied.residual, `residual in place seed ${seed}`, 0, 0);
    });
  });

  // Float32 state from fresh buffers; half state from half-stored ones, updated in place (on 'cuda' by the fused
  // kernel's half-state path). In half state the fused conv sums the same products in the same order as the conv op,
  // so the halves agree; a float32 conv result that differed in its last bit at a half's rounding boundary would move
  // one value by one half step (3.9e-3 below 8): the absolute tolerance.
  const streams = [
    {k: 1, half: false, atol: 1e-5},
    {k: 3, half: false, atol: 1e-5},
    {k: 3, half: true, atol: 4e-3},
  ];
  for (const {k, half, atol} of streams) {
    const title = half
      ? 'with fp16 state, over 30 frames of a stream equals the conv op then sparseAccumulate with fp16 state'
      : `over 30 frames of a stream (${k}x${k}) equals the conv op then sparseAccumulate`;
    it(title, () => {
      const seed = freshSeed();
      const shape: [number, number, number, number] = [2, 13, 17, 48];
      const filter = randn(op.filterShape(k, 48, 48), seed, 0.2) as tf.Tensor4D;
      const state = () => (half ? storeHalf(tf.zeros(shape)) : tf.zeros(shape)) as tf.Tensor4D;
      let fused = {a: state(), r: state()};
      let split = {a: state(), r: state()};
      const config = {threshold: 0.2, activation: 'relu6' as const, statePrecision: half ? 'fp16' : 'fp32'} as const;
      for (let t = 0; t < 30; t++) {
        const [nextFused, nextSplit] = tf.tidy(() => {
          const x = randomDelta(shape, 0.15, seed + 7 * t) as tf.Tensor4D;
          const f = op.fused({
            x,
            filter,
            strides: 1,
            pad: 'same',
            accumulated: fused.a,
            residual: fused.r,
            inPlace: half,
            ...config,
          });
          const s = sparseAccumulate<tf.Tensor4D>(split.a, split.r, op.conv(x, filter, 1, 'same'), config);
          expectClose(f.delta, s.delta, `frame ${t} delta seed ${seed}`, 1e-5, atol);
          expectMask(f.delta, getMask(s.delta) ?? tf.ones(shape.slice(0, 3), 'bool'), `frame ${t} mask seed ${seed}`);
          return [
            {a: f.accumulated, r: f.residual},
            {a: s.accumulated, r: s.residual},
          ];
        });
        tf.dispose([fused.a, fused.r, split.a, split.r]); // in place on 'cuda', the new tensors share the buffers
        [fused, split] = [nextFused, nextSplit];
      }
      expectClose(fused.a, split.a, `accumulated after 30 frames seed ${seed}`, 1e-5, atol);
      expectClose(fused.r, split.r, `residual after 30 frames seed ${seed}`, 1e-5, atol);
      tf.dispose([fused.a, fused.r, split.a, split.r, filter]);
    });
  }

  it('names the op, the argument and the shapes on bad input', () => {
    tf.tidy(() => {
      const x = tf.zeros([1, 5, 5, 4]) as tf.Tensor4D;
      const filter = tf.zeros(op.filterShape(3, 4, 4)) as tf.Tensor4D;
      const s = tf.zeros([1, 5, 5, 4]) as tf.Tensor4D;
      const base = {x, filter, strides: 1, pad: 'same' as const, accumulated: s, residual: s};
      expectThrowsNaming(
        () => op.fused({...base, accumulated: tf.zeros([1, 3, 3, 4]) as tf.Tensor4D}),
        op.name,
        'accumulated',
        '[1,5,5,4]',
      );
      expectThrowsNaming(
        () => op.fused({...base, residual: tf.zeros([1, 5, 5, 3]) as tf.Tensor4D}),
        op.name,
        'residual',
      );
      expectThrowsNaming(
        () => op.fused({...base, filter: tf.zeros(op.filterShape(3, 5, 4)) as tf.Tensor4D}),
        op.name,
        'filter',
      );
      expectThrowsNaming(() => op.fused({...base, threshold: -1}), op.name, 'threshold');
      expectThrowsNaming(() => op.fused({...base, activation: 'gelu' as Activation}), op.name, 'activation');
    });
  });
}
