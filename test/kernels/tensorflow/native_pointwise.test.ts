/**
 * The fused 1x1 delta conv block on 'tensorflow' with tfjs-delta's native ops (the active rows gathered, TF's MatMul,
 * the accumulator on the product's rows) against the same block as two ops on the same backend (deltaConv2d on the
 * native rows, then sparseAccumulate): the same product through the same accumulator arithmetic, so every output is
 * the same float. Fresh random inputs and masks, odd sizes, batch > 1, every truncating activation, channels from 1 to
 * 96, activity from none to past the crossover (where both take the dense conv); a stream of frames with the state in
 * place; and the ops' errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {deltaConv2d, fusedDeltaConv2d, getMask, sparseAccumulate, withMask} from '../../../src/index';
import type {Activation} from '../../../src/index';
import {lastDeltaConvCall, nativePixelCrossoverFor} from '../../../src/kernels/tensorflow/delta_conv_impl';
import {NodeBackend, TfOps} from '../../../src/kernels/tensorflow/tf_ops';
import {describeNativeTensorflowOps} from '../../support/backends';
import {freshSeed, seededInt, seededRandom} from '../../support/util';

const read = (t: tf.Tensor) => Array.from(t.dataSync());

describeNativeTensorflowOps('tensorflow fused 1x1 delta conv on the native rows', () => {
  /** x (with a mask of `share` active pixels), filter, a, r as tensors. */
  function draw(shape: number[], cout: number, share: number, next: () => number) {
    const [b, h, w, c] = shape;
    const mask = Uint8Array.from({length: b * h * w}, () => (next() < share ? 1 : 0));
    const rand = (n: number, scale: number) => Float32Array.from({length: n}, () => (next() * 2 - 1) * scale);
    const xv = rand(b * h * w * c, 1);
    mask.forEach((on, p) => {
      if (!on) xv.fill(0, p * c, (p + 1) * c);
    });
    return {
      active: mask.reduce((n, v) => n + v, 0) / mask.length,
      x: withMask(
        tf.tensor4d(xv, shape as [number, number, number, number]),
        tf.tensor3d(mask, [b, h, w], 'bool'),
      ) as tf.Tensor4D,
      filter: tf.tensor4d(rand(c * cout, 0.5), [1, 1, c, cout]),
      a: tf.tensor4d(rand(b * h * w * cout, 3), [b, h, w, cout]),
      r: tf.tensor4d(rand(b * h * w * cout, 0.05), [b, h, w, cout]),
    };
  }

  const cases: Array<[number, number, Activation]> = [
    [1, 1, 'relu'],
    [3, 8, 'relu6'],
    [16, 24, 'relu6'],
    [33, 40, 'leakyRelu'],
    [96, 24, 'linear'],
    [24, 96, 'tanh'],
  ];
  for (const [cin, cout, activation] of cases) {
    for (const share of [0, 0.05, 0.3, 0.9]) {
      it(`${cin} -> ${cout} ${activation}, ${share * 100}% active: the same floats as the two ops`, () => {
        const seed = freshSeed();
        const next = seededRandom(seed);
        const int = seededInt(next);
        const shape = [int(1, 3), int(3, 17) | 1, int(2, 19), cin];
        const ctx = `shape [${shape}] seed ${seed}`;
        tf.tidy(() => {
          const {active, x, filter, a, r} = draw(shape, cout, share, next);
          const config = {threshold: 0.05, activation, alpha: 0.2};
          const fused = fusedDeltaConv2d({x, filter, strides: 1, pad: 'same', accumulated: a, residual: r, ...config});
          const native = active <= nativePixelCrossoverFor(cin);
          expect(lastDeltaConvCall.route, `${ctx}: route`).to.equal(native ? 'native' : 'dense');
          const two = sparseAccumulate(a, r, deltaConv2d(x, filter, 1, 'same'), config);
          for (const k of ['delta', 'accumulated', 'residual'] as const)
            expect(read(fused[k]), `${ctx}: ${k}`).to.deep.equal(read(two[k]));
          expect(read(getMask(fused.delta)!), `${ctx}: mask`).to.deep.equal(read(getMask(two.delta)!));
        });
      });
    }
  }

  it('a stream of 20 frames with the state in place equals the two ops frame by frame', () => {
    const seed = freshSeed();
    const next = seededRandom(seed);
    // 96 input channels at 20% activity: below the crossover (0.4), so every frame takes the native rows.
    const shape = [2, 13, 11, 96];
    const first = draw(shape, 24, 0.2, next);
    const copy = (t: tf.Tensor4D) => tf.add(t, 0) as tf.Tensor4D;
    let [fa, fr, ta, tr] = [copy(first.a), copy(first.r), copy(first.a), copy(first.r)];
    for (let t = 0; t < 20; t++) {
      const frame = draw(shape, 24, 0.2, next);
      const config = {threshold: 0.1, activation: 'relu6' as const, inPlace: true};
      const fused = fusedDeltaConv2d({
        x: frame.x,
        filter: first.filter,
        strides: 1,
        pad: 'same',
        accumulated: fa,
        residual: fr,
        ...config,
      });
      const ctx = `frame ${t} seed ${seed}`;
      expect(lastDeltaConvCall.route, `${ctx}: route`).to.equal('native');
      const y = deltaConv2d(frame.x, first.filter, 1, 'same');
      const two = sparseAccumulate(ta, tr, y, config);
      expect(read(fused.delta), `${ctx}: delta`).to.deep.equal(read(two.delta));
      // From the second frame on the state is the op's own, written where it lies: the old tensors show the new state.
      if (t > 0) expect(read(fa), `${ctx}: the state written in place`).to.deep.equal(read(fused.accumulated));
      tf.dispose([frame.x, frame.filter, frame.a, frame.r, y, fa, fr, ta, tr, fused.delta, two.delta]);
      [fa, fr, ta, tr] = [fused.accumulated, fused.residual, two.accumulated, two.residual];
    }
    expect(read(fa), `seed ${seed}: accumulated`).to.deep.equal(read(ta));
    expect(read(fr), `seed ${seed}: residual`).to.deep.equal(read(tr));
    tf.dispose([fa, fr, ta, tr, first.x, first.filter, first.a, first.r]);
  });

  it('bad rows and indices reach JavaScript as errors naming the op and the sizes', () => {
    const backend = tf.findBackend('tensorflow') as unknown as NodeBackend;
    const ops = new TfOps(backend);
    tf.tidy(() => {
      const state = tf.zeros([1, 2, 3, 4]);
      const mask = tf.ones([1, 2, 3], 'bool');
      const scatter = (rows: tf.Tensor, index: number[]) => () =>
        backend.executeSingleOutput('TfjsDeltaScatterRows', [], [rows, tf.tensor1d(index, 'int32'), mask]);
      expect(scatter(tf.zeros([2, 4]), [0, 6])).to.throw(
        /TfjsDeltaScatterRows: index\[1\] = 6: the pixels must be increasing and below 6/,
      );
      expect(scatter(tf.zeros([2, 4]), [3, 3])).to.throw(/TfjsDeltaScatterRows: index\[1\] = 3: the pixels must be/);
      expect(scatter(tf.zeros([3, 4]), [0, 1])).to.throw(
        /TfjsDeltaScatterRows: rows must be \[2 \(the index's length\), channels\], got \[3,4\]/,
      );
      const accumulate = (rows: tf.Tensor, index: number[]) => () =>
        backend.executeMultipleOutputs(
          'TfjsDeltaScatterAccumulate',
          [ops.float('threshold', 0), ops.str('activation', 'relu'), ops.bool('in_place', false)],
          [rows, tf.tensor1d(index, 'int32'), state, state],
          4,
        );
      expect(accumulate(tf.zeros([2, 5]), [0, 1])).to.throw(
        /TfjsDeltaScatterAccumulate: rows has shape \[2,5\]: it must be \[2 \(the index's length\), 4\]/,
      );
      expect(accumulate(tf.zeros([1, 4]), [-1])).to.throw(/TfjsDeltaScatterAccumulate: index\[0\] = -1/);
      expect(() =>
        backend.executeMultipleOutputs('TfjsDeltaGatherRows', [], [tf.zeros([2, 3, 4]), tf.ones([2, 4], 'bool')], 2),
      ).to.throw(/TfjsDeltaGatherRows: mask has shape \[2,4\], x \[2,3,4\]: one value a pixel/);
    });
  });
});
