/** Helpers for the parity tests: fresh random inputs, tolerant comparisons, mask reads. */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {getMask, withMask} from '../../src/ops/mask';

/** A fresh seed per call, reported in failure messages so a failing case can be replayed. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** A seeded uniform generator on [0, 1) (mulberry32): host-side random data a seed can replay. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integers in [lo, hi] drawn from `next` (a seededRandom), so that a seed replays them. */
export function seededInt(next: () => number): (lo: number, hi: number) => number {
  return (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
}

export function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, scale, 'float32', seed);
}

export function randInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

export function pick<T>(values: readonly T[]): T {
  return values[Math.floor(Math.random() * values.length)];
}

/** A random delta with about `fraction` of its pixels active, carrying that mask. */
export function randomDelta(shape: number[], fraction: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const flags = tf.less(tf.randomUniform(shape.slice(0, -1), 0, 1, 'float32', seed + 1), fraction);
    return withMask(randn(shape, seed), flags);
  });
}

/**
 * Asserts max |actual - expected| <= atol + rtol * max |expected|, naming the worst element.
 */
export function expectClose(actual: tf.Tensor, expected: tf.Tensor, context: string, rtol = 1e-5, atol = 1e-6): void {
  expect(actual.shape, `${context}: shape`).to.deep.equal(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let scale = 0;
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]));
  let worst = -1;
  let worstDiff = 0;
  for (let i = 0; i < e.length; i++) {
    const diff = Math.abs(a[i] - e[i]);
    if (!(diff <= worstDiff) || Number.isNaN(a[i])) {
      worstDiff = Number.isNaN(a[i]) ? Infinity : diff;
      worst = i;
    }
  }
  const bound = atol + rtol * scale;
  if (worst >= 0 && !(worstDiff <= bound)) {
    expect.fail(
      `${context}: element ${worst} is ${a[worst]}, expected ${e[worst]} ` +
        `(|diff| ${worstDiff.toExponential(3)} > ${bound.toExponential(3)}; max |expected| ${scale})`,
    );
  }
}

/** The mask of a delta tensor as flags (a dense tensor reads as all ones). */
/**
 * The largest |got - want| and |want| over value pairs (several arrays, e.g. a model's outputs, together); a NaN in
 * `got` (a poisoned, unwritten element) makes the difference NaN, which fails any bound.
 */
export function maxDifference(pairs: Array<[ArrayLike<number>, ArrayLike<number>]>): {diff: number; scale: number} {
  let [diff, scale] = [0, 0];
  for (const [got, want] of pairs) {
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (!(d <= diff)) diff = d;
      scale = Math.max(scale, Math.abs(want[i]));
    }
  }
  return {diff, scale};
}

export function maskFlags(t: tf.Tensor): Uint8Array {
  const mask = getMask(t);
  if (mask == null) return new Uint8Array(t.size / t.shape[t.rank - 1]).fill(1);
  const flags = Uint8Array.from(mask.dataSync());
  mask.dispose();
  return flags;
}

export function expectMask(t: tf.Tensor, expected: tf.Tensor, context: string): void {
  const got = maskFlags(t);
  const want = expected.dataSync();
  expect(got.length, `${context}: mask size`).to.equal(want.length);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== (want[i] ? 1 : 0)) {
      expect.fail(
        `${context}: mask pixel ${i} is ${got[i]}, expected ${want[i] ? 1 : 0} ` +
          `(${got.reduce((n, v) => n + v, 0)} active, expected ${Array.from(want).filter((v) => v).length})`,
      );
    }
  }
}

/** Values at pixels whose mask flag is 0 must be exact zeros. */
export function expectZerosWhereInactive(t: tf.Tensor, context: string): void {
  const flags = maskFlags(t);
  const v = t.dataSync();
  const c = t.shape[t.rank - 1];
  for (let p = 0; p < flags.length; p++) {
    if (flags[p]) continue;
    for (let k = 0; k < c; k++) {
      if (v[p * c + k] !== 0) expect.fail(`${context}: inactive pixel ${p} channel ${k} holds ${v[p * c + k]}`);
    }
  }
}

/** Runs `fn` and asserts it throws an Error whose message contains every fragment. */
export function expectThrowsNaming(fn: () => unknown, ...fragments: string[]): void {
  let message: string | null = null;
  try {
    tf.tidy(() => {
      fn();
    });
  } catch (e) {
    message = (e as Error).message;
  }
  if (message == null) expect.fail(`expected an error naming ${fragments.join(', ')}, but nothing was thrown`);
  for (const f of fragments) expect(message, `error message`).to.include(f);
}

/**
 * The output pixels of a window over an n x h x w mask (13 integers: n, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw,
 * the native maskFractions' layout) whose taps hold a nonzero byte of `mask`, as 0/1 bytes in row-major order: a
 * conv's reach, counted on the host.
 */
export function windowPixels(mask: Uint8Array, window: number[]): Uint8Array {
  const [n, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw] = window;
  const out = new Uint8Array(n * oh * ow);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        let hit = false;
        for (let ky = 0; ky < kh && !hit; ky++)
          for (let kx = 0; kx < kw && !hit; kx++) {
            const iy = oy * sh - pt + ky * dh;
            const ix = ox * sw - pl + kx * dw;
            hit = iy >= 0 && iy < h && ix >= 0 && ix < w && mask[(b * h + iy) * w + ix] !== 0;
          }
        out[(b * oh + oy) * ow + ox] = hit ? 1 : 0;
      }
  return out;
}
