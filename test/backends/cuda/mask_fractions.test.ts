/**
 * The native maskFractions entry (native/cuda/reduce.cu), which counts every delta layer's output mask of a
 * compiled stream, and each truncating conv's reach (the output pixels whose window holds an active input), at the
 * end of its graph: against host counts on fresh random masks of many lengths (empty, shorter than a word, odd,
 * longer than a block's stride), at every byte offset from 4-byte alignment, with nonzero bytes other than 1, more
 * masks than one launch takes, and a poisoned output so that an unwritten slot shows; reaches over windows of several
 * sizes, strides (asymmetric 'same' pads), dilations, 'valid' pads, batch > 1 and masks larger than one block takes.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import type {CudaBackend} from '../../../src/backends/cuda/backend';
import {describeCuda} from '../../support/cuda';
import {freshSeed, seededRandom, windowPixels} from '../../support/util';

describeCuda('cuda maskFractions', () => {
  let backend: CudaBackend;
  before(async () => {
    await tf.setBackend('cuda');
    backend = tf.backend() as CudaBackend;
  });

  it('equals the host count of nonzero bytes for every mask, length and alignment', () => {
    const seed = freshSeed();
    const next = seededRandom(seed);
    const n = backend.n;
    const lengths = [0, 1, 2, 3, 4, 5, 7, 255, 256, 1023, 1025, 4099, 300001];
    // 13 lengths x 4 offsets x 2 densities = 104 masks: four batches of at most 32.
    const cases: Array<{length: number; offset: number; bytes: Uint8Array}> = [];
    for (const length of lengths)
      for (let offset = 0; offset < 4; offset++)
        for (const density of [0.07, 0.6]) {
          const bytes = new Uint8Array(length);
          for (let i = 0; i < length; i++)
            if (next() < density) bytes[i] = next() < 0.5 ? 1 : 1 + Math.floor(next() * 255);
          cases.push({length, offset, bytes});
        }
    const blocks = cases.map((c) => n.alloc({bytes: c.length + c.offset + 4}));
    const out = n.alloc({bytes: 4 * cases.length});
    try {
      cases.forEach((c, i) => {
        // Poison around the mask too: bytes outside [offset, offset + length) must not be counted.
        const padded = new Uint8Array(c.length + c.offset + 4).fill(7);
        padded.set(c.bytes, c.offset);
        n.upload({dst: blocks[i], values: padded});
      });
      n.upload({dst: out, values: new Float32Array(cases.length).fill(NaN)});
      n.maskFractions({masks: cases.map((c, i) => blocks[i] + c.offset), lengths: cases.map((c) => c.length), out});
      const got = new Float32Array(cases.length);
      n.download({src: out, out: got});
      cases.forEach((c, i) => {
        const count = c.bytes.reduce((s, b) => s + (b !== 0 ? 1 : 0), 0);
        const want = c.length > 0 ? Math.fround(count / c.length) : 0;
        expect(got[i], `mask ${i}: length ${c.length}, offset ${c.offset}, ${count} set, seed ${seed}`).to.equal(want);
      });
    } finally {
      blocks.forEach((ptr) => n.free({ptr}));
      n.free({ptr: out});
    }
  });

  it("counts a conv's reach: the output pixels whose window holds a nonzero byte of its input's mask", () => {
    const seed = freshSeed();
    const next = seededRandom(seed);
    const n = backend.n;
    type Pad = 'same' | 'valid';
    const geometries: Array<{shape: [number, number, number]; k: [number, number]; s: number; d: number; pad: Pad}> = [
      {shape: [2, 13, 17], k: [3, 3], s: 1, d: 1, pad: 'same'},
      {shape: [3, 16, 20], k: [3, 3], s: 2, d: 1, pad: 'same'}, // pads (0, 1): asymmetric
      {shape: [1, 15, 23], k: [3, 3], s: 1, d: 2, pad: 'same'},
      {shape: [2, 9, 11], k: [5, 5], s: 1, d: 1, pad: 'valid'},
      {shape: [2, 21, 19], k: [7, 7], s: 2, d: 1, pad: 'same'},
      {shape: [1, 8, 12], k: [1, 1], s: 1, d: 1, pad: 'valid'}, // the mask itself
      {shape: [4, 300, 301], k: [3, 3], s: 1, d: 1, pad: 'same'}, // more outputs than one block takes
      {shape: [1, 5, 6], k: [3, 2], s: 2, d: 1, pad: 'same'},
    ];
    const cases = geometries.flatMap((g) =>
      [0, 0.01, 0.1, 0.5, 1].map((density) => {
        const [b, h, w] = g.shape;
        const bytes = new Uint8Array(b * h * w);
        for (let i = 0; i < bytes.length; i++) if (next() < density) bytes[i] = 1 + Math.floor(next() * 255);
        const info = tf.backend_util.computeConv2DInfo([b, h, w, 1], [...g.k, 1, 1], g.s, g.d, g.pad);
        const {top, left} = info.padInfo;
        const window = [b, h, w, info.outHeight, info.outWidth, ...g.k, g.s, g.s, top, left, g.d, g.d];
        return {g, density, bytes, window};
      }),
    );
    const reach = (c: (typeof cases)[number]) => {
      const pixels = windowPixels(c.bytes, c.window);
      return Math.fround(pixels.reduce((sum, v) => sum + v, 0) / pixels.length);
    };
    const blocks = cases.map((c) => n.alloc({bytes: c.bytes.length + 8}));
    const out = n.alloc({bytes: 4 * cases.length});
    try {
      cases.forEach((c, i) => {
        const padded = new Uint8Array(c.bytes.length + 8).fill(9); // poisoned past the mask's end
        padded.set(c.bytes, 4);
        n.upload({dst: blocks[i], values: padded});
      });
      n.upload({dst: out, values: new Float32Array(cases.length).fill(NaN)});
      n.maskFractions({masks: blocks.map((ptr) => ptr + 4), windows: cases.flatMap((c) => c.window), out});
      const got = new Float32Array(cases.length);
      n.download({src: out, out: got});
      cases.forEach((c, i) => {
        const want = reach(c);
        expect(got[i], `${JSON.stringify(c.g)} density ${c.density}, seed ${seed}`).to.equal(want);
        if (c.density === 0) expect(want).to.equal(0);
        if (c.density === 1) expect(want).to.equal(1);
      });
    } finally {
      blocks.forEach((ptr) => n.free({ptr}));
      n.free({ptr: out});
    }
  });

  it('refuses mismatched lists and a null mask, naming the entry and the field', () => {
    const n = backend.n;
    expect(() => n.maskFractions({masks: [0], lengths: [], out: 0})).to.throw(
      /^tfjs-delta cuda\.maskFractions: field 'lengths' differs in length from 'masks'$/,
    );
    const out = n.alloc({bytes: 4});
    try {
      expect(() => n.maskFractions({masks: [0], lengths: [5], out})).to.throw(
        /^tfjs-delta cuda\.maskFractions: .*null mask pointer/,
      );
      expect(() => n.maskFractions({masks: [], lengths: [], out: 0})).not.to.throw();
      expect(() => n.maskFractions({masks: [0], windows: [1, 2, 3], out})).to.throw(
        /^tfjs-delta cuda\.maskFractions: field 'windows' must hold 13 integers a mask$/,
      );
      expect(() => n.maskFractions({masks: [out], windows: [1, 2, 2, 2, 2, 1, 1, 0, 1, 0, 0, 1, 1], out})).to.throw(
        /^tfjs-delta cuda\.maskFractions: .*strides and dilations must be at least 1/,
      );
    } finally {
      n.free({ptr: out});
    }
  });
});
