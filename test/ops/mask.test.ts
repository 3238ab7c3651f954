/**
 * The update mask: how far a single changed pixel reaches through convolutions and pooling, how
 * masks live and die with their tensors, and that the data outside the delta kernels reads as
 * exact zeros at inactive pixels.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {
  activeFraction,
  deltaConv2d,
  deltaConv2dTranspose,
  deltaDepthwiseConv2d,
  deltaMaxPool,
  getMask,
  isDense,
  withMask,
} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {freshSeed, maskFlags, randn} from '../support/util';

/** A delta with exactly one active pixel (b, y, x), random channel values. */
function onePixel(shape: number[], b: number, y: number, x: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const flags = tf.buffer(shape.slice(0, 3), 'bool');
    flags.set(true, b, y, x);
    return withMask(randn(shape, seed), flags.toTensor()) as tf.Tensor4D;
  });
}

/** Output pixels whose receptive field (oh*s - pad + k*d) contains input pixel (y, x). */
function footprint(
  outH: number,
  outW: number,
  y: number,
  x: number,
  k: number,
  s: number,
  padTop: number,
  padLeft: number,
  d = 1,
): Set<string> {
  const set = new Set<string>();
  for (let oh = 0; oh < outH; oh++) {
    for (let ow = 0; ow < outW; ow++) {
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          if (oh * s - padTop + i * d === y && ow * s - padLeft + j * d === x) set.add(`${oh},${ow}`);
        }
      }
    }
  }
  return set;
}

function activeSet(t: tf.Tensor, batch: number): Set<string> {
  const flags = maskFlags(t);
  const [, h, w] = t.shape;
  const set = new Set<string>();
  for (let i = 0; i < h! * w!; i++) if (flags[batch * h! * w! + i]) set.add(`${Math.floor(i / w!)},${i % w!}`);
  return set;
}

function expectOnlyBatchActive(t: tf.Tensor, batch: number): void {
  const [n, h, w] = t.shape;
  const flags = maskFlags(t);
  for (let b = 0; b < n; b++) {
    if (b === batch) continue;
    for (let i = 0; i < h! * w!; i++) expect(flags[b * h! * w! + i], `batch row ${b} must stay inactive`).to.equal(0);
  }
}

describeEachBackend('mask footprint of a single changed pixel', () => {
  const cases = [
    {k: 3, s: 1, d: 1, pad: 'same', y: 6, x: 4},
    {k: 3, s: 2, d: 1, pad: 'same', y: 5, x: 8},
    {k: 5, s: 1, d: 1, pad: 'valid', y: 7, x: 7},
    {k: 3, s: 1, d: 2, pad: 'same', y: 4, x: 9},
    {k: 7, s: 2, d: 1, pad: 'same', y: 0, x: 10},
    {k: 1, s: 2, d: 1, pad: 'valid', y: 6, x: 3},
  ] as const;
  for (const c of cases) {
    it(`conv k${c.k} s${c.s} d${c.d} ${c.pad}: pixel (${c.y},${c.x}) reaches exactly its receptive-field footprint`, () => {
      const seed = freshSeed();
      tf.tidy(() => {
        const shape = [2, 13, 11, 3];
        const x = onePixel(shape, 1, c.y, c.x, seed);
        const filter = randn([c.k, c.k, 3, 4], seed + 1) as tf.Tensor4D;
        const out = deltaConv2d(x, filter, c.s, c.pad, 'NHWC', c.d);
        const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, c.s, c.d, c.pad);
        const want = footprint(
          info.outHeight,
          info.outWidth,
          c.y,
          c.x,
          c.k,
          c.s,
          info.padInfo.top,
          info.padInfo.left,
          c.d,
        );
        expect([...activeSet(out, 1)].sort()).to.deep.equal([...want].sort());
        expectOnlyBatchActive(out, 1);
        // Depthwise shares the footprint.
        const dw = deltaDepthwiseConv2d(x, randn([c.k, c.k, 3, 2], seed + 2) as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d);
        expect([...activeSet(dw, 1)].sort()).to.deep.equal([...want].sort());
      });
    });
  }

  it('two stacked 3x3 convs grow one pixel into a 5x5 block; a 2x2 max pool then covers a 3x3 block', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = onePixel([1, 16, 16, 2], 0, 7, 8, seed);
      const w1 = randn([3, 3, 2, 4], seed + 1) as tf.Tensor4D;
      const w2 = randn([3, 3, 4, 4], seed + 2) as tf.Tensor4D;
      const y = deltaConv2d(deltaConv2d(x, w1, 1, 'same'), w2, 1, 'same');
      const block = (y0: number, y1: number, x0: number, x1: number) => {
        const s: string[] = [];
        for (let i = y0; i <= y1; i++) for (let j = x0; j <= x1; j++) s.push(`${i},${j}`);
        return s.sort();
      };
      expect([...activeSet(y, 0)].sort()).to.deep.equal(block(5, 9, 6, 10));
      const pooled = deltaMaxPool(tf.zerosLike(y) as tf.Tensor4D, y);
      expect([...activeSet(pooled.delta, 0)].sort()).to.deep.equal(block(2, 4, 3, 5));
    });
  });

  it('a 4x4 stride-2 transposed conv spreads one pixel over the outputs it reaches', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = onePixel([1, 6, 6, 3], 0, 2, 3, seed);
      const out = deltaConv2dTranspose(x, randn([4, 4, 5, 3], seed + 1) as tf.Tensor4D, [1, 12, 12, 5], 2, 'same');
      // Forward conv from 12x12, k4 s2 'same': pad top/left 1. Output o reaches input i iff i = o*... inverted:
      // the transposed conv writes rows 2*2-1+kh for kh 0..3 = 3..6, columns 2*3-1+kw = 5..8.
      const want: string[] = [];
      for (let i = 3; i <= 6; i++) for (let j = 5; j <= 8; j++) want.push(`${i},${j}`);
      expect([...activeSet(out, 0)].sort()).to.deep.equal(want.sort());
    });
  });
});

describeEachBackend('mask lifetime and reads', () => {
  it('values at inactive pixels read as exact zeros through data(), dataSync() and standard ops', async () => {
    const seed = freshSeed();
    const x = onePixel([1, 9, 9, 4], 0, 4, 4, seed);
    const out = deltaConv2d(x, randn([3, 3, 4, 6], seed + 1) as tf.Tensor4D, 1, 'same');
    const flags = maskFlags(out);
    const values = await out.data();
    for (let p = 0; p < flags.length; p++) {
      for (let c = 0; c < 6; c++) if (!flags[p]) expect(values[p * 6 + c]).to.equal(0);
    }
    const sumOutside = tf.tidy(() => tf.sum(tf.abs(tf.slice(out, [0, 0, 0, 0], [1, 3, 9, 6]))).dataSync()[0]);
    expect(sumOutside).to.equal(0);
    tf.dispose([x, out]);
  });

  it('masks are freed with their tensors: no tensor is left behind', () => {
    const seed = freshSeed();
    const before = tf.memory().numTensors;
    const x = onePixel([2, 8, 8, 3], 1, 2, 2, seed);
    const w = randn([3, 3, 3, 3], seed + 1) as tf.Tensor4D;
    const y = deltaConv2d(x, w, 1, 'same');
    const state = tf.zerosLike(y) as tf.Tensor4D;
    const pooled = deltaMaxPool(state, y);
    expect(isDense(y)).to.equal(false);
    expect(isDense(pooled.delta)).to.equal(false);
    // Masks are tensors too: the count includes them while their owners live.
    expect(tf.memory().numTensors - before).to.be.greaterThan(6);
    tf.dispose([x, w, y, state, pooled.delta, pooled.accumulated]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('getMask returns an independent copy; activeFraction counts active pixels', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const flags = tf.tensor3d(
        [
          [
            [1, 0, 0, 1],
            [0, 0, 0, 1],
          ],
        ],
        [1, 2, 4],
        'bool',
      );
      const x = withMask(randn([1, 2, 4, 3], seed), flags);
      const copy = getMask(x)!;
      expect(Array.from(copy.dataSync())).to.deep.equal([1, 0, 0, 1, 0, 0, 0, 1]);
      copy.dispose();
      expect(getMask(x)).to.not.equal(null);
      expect(activeFraction(x)).to.be.closeTo(3 / 8, 1e-7);
      expect(activeFraction(randn([1, 2, 2, 1], seed))).to.equal(1);
    });
  });

  it('a reshape that changes the pixel grid drops the mask (the data stays correct)', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const x = withMask(
        randn([1, 4, 4, 2], seed),
        tf.greater(tf.randomUniform([1, 4, 4], 0, 1, 'float32', seed), 0.5),
      );
      const r = tf.reshape(x, [1, 2, 8, 2]);
      expect(isDense(r)).to.equal(true);
      expect(isDense(x)).to.equal(false);
    });
  });
});
