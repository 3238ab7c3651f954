/**
 * The native maskFractions entry (native/cuda/reduce.cu), which counts every delta layer's output mask of a
 * compiled stream in one launch: against host counts on fresh random masks of many lengths (empty, shorter than a
 * word, odd, longer than a block's stride), at every byte offset from 4-byte alignment, with nonzero bytes other
 * than 1, more masks than one launch takes, and a poisoned output so that an unwritten slot shows.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import type {CudaBackend} from '../../../src/backends/cuda/backend';
import {describeCuda} from '../../support/cuda';
import {freshSeed, seededRandom} from '../../support/util';

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
    // 13 lengths x 4 offsets x 2 densities = 104 masks: two launches of at most 64.
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
    } finally {
      n.free({ptr: out});
    }
  });
});
