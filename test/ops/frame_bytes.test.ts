/**
 * framesFromBytes / framesToBytes on every backend: random bytes and random floats drawn fresh, sizes whose byte
 * count is and is not a multiple of 4, unaligned views, batch > 1, and the rounding and clamping edges.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {framesFromBytes, framesToBytes} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {expectThrowsNaming, randInt} from '../support/util';

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = randInt(0, 256);
  return out;
}

/** The reference conversion: round half away from zero, clamp to [0, 255], NaN to 0. */
function toByte(v: number): number {
  if (!(v > 0)) return 0;
  return Math.min(255, Math.round(v));
}

const SHAPES = [
  [1, 1, 3, 5, 3],
  [2, 1, 7, 9, 3],
  [1, 4, 16, 24, 3],
  [3, 2, 5, 4, 3],
  [1, 1, 1, 1, 1],
];

describeEachBackend('framesFromBytes / framesToBytes', () => {
  for (const shape of SHAPES) {
    it(`bytes -> frames -> bytes round trip, shape [${shape}]`, async () => {
      const size = shape.reduce((p, d) => p * d, 1);
      const bytes = randomBytes(size);
      const frames = framesFromBytes(bytes, shape);
      expect(frames.shape).to.deep.equal(shape);
      expect(frames.dtype).to.equal('float32');
      const values = await frames.data();
      for (let i = 0; i < size; i++) expect(values[i]).to.be.closeTo(bytes[i] / 255, 1e-7, `element ${i}`);
      expect(Array.from(await framesToBytes(frames))).to.deep.equal(Array.from(bytes));
      frames.dispose();
    });
  }

  it('reads an unaligned view of a larger buffer and a custom scale', async () => {
    const all = randomBytes(1 + 5 * 7 * 3 + 2);
    const view = all.subarray(1, 1 + 5 * 7 * 3);
    const frames = framesFromBytes(view, [5, 7, 3], 2);
    const values = await frames.data();
    for (let i = 0; i < view.length; i++) expect(values[i]).to.equal(view[i] * 2);
    frames.dispose();
  });

  it('rounds half away from zero and clamps, on random values and on the edges', async () => {
    const edges = [
      -3,
      -0.5,
      -0.49,
      0,
      0.49,
      0.5,
      0.51,
      1.5,
      2.5,
      254.49,
      254.5,
      255,
      255.5,
      300,
      NaN,
      Infinity,
      -Infinity,
    ];
    const random = Array.from({length: 997}, () => Math.random() * 320 - 30);
    const input = [...edges, ...random];
    const x = tf.tensor(input, [input.length]);
    const got = await framesToBytes(x, 1);
    expect(got.length).to.equal(input.length);
    // The reference rounds as the op does: the float32 value (as stored) times the scale, rounded to float32. A
    // double product lands on the other side of a half now and then (155.5 against 155.49999).
    input.forEach((v, i) => expect(got[i], `value ${v}`).to.equal(toByte(Math.fround(v))));
    // Scale 255 on [0, 1] frames, as the pipeline uses it.
    const frames = tf.randomUniform([2, 3, 5, 3], -0.1, 1.1, 'float32', randInt(0, 1e6));
    const values = await frames.data();
    const bytes = await framesToBytes(frames);
    values.forEach((v, i) => expect(bytes[i], `value ${v} x 255`).to.equal(toByte(Math.fround(v * 255))));
    tf.dispose([x, frames]);
  });

  it('leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    const frames = framesFromBytes(randomBytes(6 * 10 * 3), [1, 6, 10, 3]);
    await framesToBytes(frames);
    frames.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('names the argument on bad input', () => {
    expectThrowsNaming(() => framesFromBytes(new Uint8Array(10), [2, 2, 3]), 'framesFromBytes', 'bytes', '12');
    expectThrowsNaming(() => framesFromBytes(new Uint8Array(12), [2, 0, 3]), 'framesFromBytes', 'shape');
    expectThrowsNaming(() => framesFromBytes([1, 2, 3] as unknown as Uint8Array, [3]), 'framesFromBytes', 'bytes');
    expectThrowsNaming(() => framesToBytes(tf.tensor([1, 2], [2], 'int32')), 'framesToBytes', 'frames', 'int32');
  });
});
