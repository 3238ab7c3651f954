/**
 * tfjs-delta's native input test on 'tensorflow' (TfjsDeltaSparsify) against the 'cpu' reference, float for float
 * (Object.is): fresh random frames and states with a share of the pixels changed, NaN and infinities among them,
 * thresholds 0 and above, dilations 1, 3 and 7 (windows past the frame's edges), odd sizes, batch > 1, frames large
 * enough for the dilation's passes to split over threads and column strips; a stream of
 * frames with the state written in place (and a caller's state tensor never written); and its errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {deltaSparsify, getMask} from '../../../src/index';
import {NodeBackend, TfOps} from '../../../src/kernels/tensorflow/tf_ops';
import {describeNativeTensorflowOps} from '../../support/backends';
import {freshSeed, seededInt, seededRandom} from '../../support/util';

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0];

/** A frame and a state of `shape`: the state, then the frame changed at `share` of the pixels. */
function draw(shape: number[], share: number, next: () => number) {
  const c = shape[shape.length - 1];
  const sent = Float32Array.from({length: shape.reduce((a, b) => a * b, 1)}, () => next() * 255);
  const frame = Float32Array.from(sent);
  for (let p = 0; p < sent.length / c; p++) {
    if (next() >= share) continue;
    for (let i = p * c; i < (p + 1) * c; i++)
      frame[i] = next() < 0.02 ? SPECIALS[Math.floor(next() * SPECIALS.length)] : frame[i] + (next() * 2 - 1) * 20;
  }
  return {frame, sent};
}

function run(
  backend: string,
  shape: number[],
  frames: Array<{frame: Float32Array}>,
  sent: Float32Array,
  config: object,
) {
  tf.setBackend(backend);
  const out: number[][] = [];
  let state = tf.tensor(sent, shape);
  const caller = state;
  for (const f of frames) {
    const x = tf.tensor(f.frame, shape);
    const r = deltaSparsify(x, state, config);
    out.push(Array.from(r.delta.dataSync()), Array.from(getMask(r.delta)!.dataSync()));
    tf.dispose([x, r.delta]);
    if (state !== caller) state.dispose();
    state = r.sent;
  }
  out.push(Array.from(state.dataSync()), Array.from(caller.dataSync()));
  tf.dispose([state, caller]);
  return out;
}

describeNativeTensorflowOps('tensorflow deltaSparsify native op', () => {
  for (const dilation of [1, 3, 7]) {
    for (const threshold of [0, 4.5]) {
      for (const inPlace of [false, true]) {
        // Small frames, and frames of several 64-pixel column strips split over threads (the dilation's passes).
        for (const size of ['small', 'large']) {
          it(`${size} frames, dilation ${dilation}, threshold ${threshold}, inPlace ${inPlace}: 6 frames equal 'cpu' float for float`, () => {
            const seed = freshSeed();
            const next = seededRandom(seed);
            const int = seededInt(next);
            const shape =
              size === 'small'
                ? [int(1, 3), int(1, 40) | 1, int(1, 50), int(1, 4)]
                : [2, int(257, 300) | 1, int(257, 330), int(1, 3)];
            const share = [0, 0.02, 0.3, 1][int(0, 3)];
            const first = draw(shape, share, next);
            const frames = [first, ...Array.from({length: 5}, () => draw(shape, share, next))];
            const config = {threshold, dilation, inPlace};
            const want = run('cpu', shape, frames, first.sent, config);
            const got = run('tensorflow', shape, frames, first.sent, config);
            const ctx = `shape [${shape}] share ${share} seed ${seed}`;
            expect(
              got.map((v) => v.length),
              `${ctx}: output sizes`,
            ).to.deep.equal(want.map((v) => v.length));
            got.forEach((values, k) => {
              const what =
                k < 12 ? `frame ${k >> 1} ${k % 2 ? 'mask' : 'delta'}` : k === 12 ? 'state' : "caller's state";
              for (let i = 0; i < values.length; i++)
                if (!Object.is(values[i], want[k][i]))
                  expect.fail(`${ctx}: ${what}[${i}] is ${values[i]}, cpu ${want[k][i]}`);
            });
            expect(got[13], `${ctx}: the caller's state tensor is never written`).to.deep.equal(Array.from(first.sent));
          });
        }
      }
    }
  }

  it('bad inputs reach JavaScript as errors naming the op and the shapes', () => {
    const backend = tf.findBackend('tensorflow') as unknown as NodeBackend;
    const ops = new TfOps(backend);
    tf.tidy(() => {
      const call = (frame: tf.Tensor, sent: tf.Tensor, dilation: number) => () =>
        backend.executeMultipleOutputs(
          'TfjsDeltaSparsify',
          [ops.float('threshold', 0), ops.int('dilation', dilation), ops.bool('in_place', false)],
          [frame, sent],
          3,
        );
      expect(call(tf.zeros([1, 2, 3, 3]), tf.zeros([1, 2, 4, 3]), 1)).to.throw(
        /TfjsDeltaSparsify: sent has shape \[1,2,4,3\], frame \[1,2,3,3\]: they must be equal/,
      );
      expect(call(tf.zeros([6, 3]), tf.zeros([6, 3]), 3)).to.throw(
        /TfjsDeltaSparsify: a dilated test needs an NHWC frame, got shape \[6,3\]/,
      );
      expect(call(tf.zeros([1, 2, 3, 3]), tf.zeros([1, 2, 3, 3]), 4)).to.throw(
        /TfjsDeltaSparsify: dilation must be an odd number >= 1, got 4/,
      );
    });
  });
});
