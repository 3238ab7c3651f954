/**
 * The routes of the 'tensorflow' sparseAccumulate against the 'cpu' reference: the native op (tfjs-delta's
 * TfjsDeltaSparseAccumulate, bit for bit) and the pixel route (the active pixels' rows gathered, the formulas run on
 * them, results scattered back): emitted delta, its mask, the new accumulated and residual, on fresh random state and
 * fresh random masks (scattered pixels, one block, a border row, nothing, everything), every activation, thresholds
 * 0 / small / large, rank 4 with batch > 1 and rank 2. The native op's state written in place or copied, a stream
 * of frames, its errors. Then the TF-op routing: which route a call takes either side of the measured crossover.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {getMask, sparseAccumulate, withMask} from '../../../src/index';
import type {Activation} from '../../../src/index';
import {
  pixelCrossoverFor,
  setTensorflowSparseAccumulateRoute,
  sparseAccumulateRouteCounts,
} from '../../../src/kernels/tensorflow/SparseAccumulate';
import {NodeBackend, TfOps} from '../../../src/kernels/tensorflow/tf_ops';
import {describeIfBackend, describeNativeTensorflowOps, runSuiteOn} from '../../support/backends';
import {freshSeed, seededInt, seededRandom} from '../../support/util';

const KINDS = ['scattered pixels', 'one block', 'border row', 'all inactive', 'all active'] as const;

function maskOfKind(kind: (typeof KINDS)[number], shape: number[], next: () => number): Uint8Array {
  const pixels = shape.slice(0, -1).reduce((x, y) => x * y, 1);
  const m = new Uint8Array(pixels);
  const w = shape.length === 4 ? shape[2] : 1;
  switch (kind) {
    case 'scattered pixels':
      m.forEach((_, i) => {
        m[i] = next() < 0.1 ? 1 : 0;
      });
      break;
    case 'one block': {
      const start = Math.floor(next() * pixels);
      for (let i = start; i < Math.min(pixels, start + 3 * w); i++) m[i] = 1;
      break;
    }
    case 'border row':
      m.fill(1, pixels - w);
      break;
    case 'all inactive':
      break;
    case 'all active':
      m.fill(1);
      break;
  }
  return m;
}

interface Out {
  values: Float32Array[];
  mask: Uint8Array;
}

/**
 * Every activation, threshold and rank on `route`, each element within `tolerance` (relative and absolute); with
 * tolerance 0 each element is the same float (Object.is: -0, NaN), and a few values are NaN, infinite, signed zeros or
 * at the ends of the float range.
 * 'large' maps are big enough for the native op to split them over threads.
 */
function describeRouteParity(route: 'pixel' | 'native', tolerance: number): void {
  const exact = tolerance === 0;
  // Not subnormals: TF runs kernels with flush-to-zero, and one in a large map still came in flushed (see
  // docs/tensorflow-delta-convs.md), though the op computes them as the reference does.
  const SPECIALS = [NaN, Infinity, -Infinity, 1.2e-38, -3.4e38, 0, -0];
  let previous: ReturnType<typeof setTensorflowSparseAccumulateRoute>;
  before(() => {
    previous = setTensorflowSparseAccumulateRoute(route);
  });
  after(() => {
    setTensorflowSparseAccumulateRoute(previous);
  });

  for (const activation of ['linear', 'relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh'] as Activation[]) {
    for (const threshold of [0, 0.05, 0.5]) {
      for (const rank of [4, 2, 'large'] as const) {
        const name = `${activation} threshold ${threshold} ${rank === 'large' ? 'large map' : `rank ${rank}`}, every mask kind`;
        it(name, () => {
          const seed = freshSeed();
          const next = seededRandom(seed);
          const int = seededInt(next);
          const shape =
            rank === 'large'
              ? [int(2, 3), int(60, 70) | 1, int(60, 75), int(15, 24)]
              : rank === 4
                ? [int(1, 3), int(1, 9) | 1, int(2, 11), int(1, 20)]
                : [int(1, 40), int(1, 20)];
          const c = shape[shape.length - 1];
          for (const kind of KINDS) {
            const ctx = `${name}: ${kind}, shape [${shape}] seed ${seed}`;
            const mask = maskOfKind(kind, shape, next);
            const rand = (scale: number) =>
              Float32Array.from({length: mask.length * c}, () =>
                exact && next() < 0.01 ? SPECIALS[Math.floor(next() * SPECIALS.length)] : (next() * 2 - 1) * scale,
              );
            const [a, r, d] = [rand(2), rand(0.1), rand(1)];
            mask.forEach((on, p) => {
              if (!on) d.fill(0, p * c, (p + 1) * c);
            });
            const run = (backend: string): Out => {
              const before = tf.getBackend();
              tf.setBackend(backend);
              try {
                return tf.tidy(() => {
                  const delta = withMask(tf.tensor(d, shape), tf.tensor(mask, shape.slice(0, -1), 'bool'));
                  const res = sparseAccumulate(tf.tensor(a, shape), tf.tensor(r, shape), delta, {
                    threshold,
                    activation,
                    alpha: 0.2,
                  });
                  const m = getMask(res.delta);
                  return {
                    values: [res.delta, res.accumulated, res.residual].map((t) => Float32Array.from(t.dataSync())),
                    mask: m == null ? new Uint8Array(mask.length).fill(1) : Uint8Array.from(m.dataSync()),
                  };
                });
              } finally {
                tf.setBackend(before);
              }
            };
            const want = run('cpu');
            const calls = sparseAccumulateRouteCounts[route];
            const got = run('tensorflow');
            expect(sparseAccumulateRouteCounts[route], `${ctx}: ${route} route taken`).to.equal(calls + 1);
            expect(Array.from(got.mask), `${ctx}: mask`).to.deep.equal(Array.from(want.mask));
            ['delta', 'accumulated', 'residual'].forEach((label, k) => {
              for (let i = 0; i < want.values[k].length; i++) {
                const [g, e] = [got.values[k][i], want.values[k][i]];
                if (exact ? !Object.is(g, e) : !(Math.abs(g - e) <= tolerance + tolerance * Math.abs(e)))
                  expect.fail(`${ctx}: ${label}[${i}] is ${g}, cpu ${e} (a ${a[i]}, r ${r[i]}, d ${d[i]})`);
              }
            });
            got.mask.forEach((on, p) => {
              if (on) return;
              for (let i = p * c; i < (p + 1) * c; i++) {
                if (got.values[0][i] !== 0) expect.fail(`${ctx}: inactive pixel ${p} holds ${got.values[0][i]}`);
              }
            });
          }
        });
      }
    }
  }
}

describeIfBackend('tensorflow', 'tensorflow sparseAccumulate pixel route', () => describeRouteParity('pixel', 1e-6));

describeNativeTensorflowOps('tensorflow sparseAccumulate native op', () => {
  describeRouteParity('native', 0);

  /** a, r, d and mask of `shape` drawn from `next`, 30% of the pixels active. */
  function draw(shape: number[], next: () => number) {
    const c = shape[shape.length - 1];
    const pixels = shape.slice(0, -1).reduce((x, y) => x * y, 1);
    const mask = Uint8Array.from({length: pixels}, () => (next() < 0.3 ? 1 : 0));
    const rand = (scale: number) => Float32Array.from({length: pixels * c}, () => (next() * 2 - 1) * scale);
    const [a, r, d] = [rand(3), rand(0.1), rand(1)];
    mask.forEach((on, p) => {
      if (!on) d.fill(0, p * c, (p + 1) * c);
    });
    return {a, r, d, mask};
  }
  const read = (t: tf.Tensor) => Float32Array.from(t.dataSync());

  for (const inPlace of [true, false]) {
    it(`inPlace ${inPlace}: ${inPlace ? "the op's own state is written in place" : 'the state inputs stay as they were'}, a caller's tensors never`, () => {
      const seed = freshSeed();
      const next = seededRandom(seed);
      const shape = [2, 7, 5, 13];
      const [first, second] = [draw(shape, next), draw(shape, next)];
      const run = (backend: string) => {
        tf.setBackend(backend);
        return tf.tidy(() => {
          const [ta, tr] = [tf.tensor(first.a, shape), tf.tensor(first.r, shape)];
          const call = (f: typeof first, a: tf.Tensor, r: tf.Tensor) =>
            sparseAccumulate(a, r, withMask(tf.tensor(f.d, shape), tf.tensor(f.mask, shape.slice(0, -1), 'bool')), {
              threshold: 0.05,
              activation: 'relu6',
              inPlace,
            });
          // The first call's state comes from the caller (made from arrays): it is copied even with inPlace.
          const one = call(first, ta, tr);
          const oneState = [read(one.accumulated), read(one.residual)];
          const two = call(second, one.accumulated, one.residual);
          return {
            callerState: [read(ta), read(tr)],
            oneState,
            oneStateAfter: [read(one.accumulated), read(one.residual)],
            two: [two.delta, two.accumulated, two.residual].map(read),
          };
        });
      };
      const want = run('cpu');
      const got = run('tensorflow');
      const same = (g: Float32Array[], w: Float32Array[], what: string) =>
        g.forEach((o, k) => expect(Array.from(o), `seed ${seed}: ${what} ${k}`).to.deep.equal(Array.from(w[k])));
      same(got.two, want.two, 'second call, output');
      same(got.callerState, [first.a, first.r], "the caller's state tensors after both calls");
      same(got.oneState, want.oneState, 'first call, state');
      // In place, the second call wrote its state into the first call's state tensors.
      same(
        got.oneStateAfter,
        inPlace ? [want.two[1], want.two[2]] : want.oneState,
        "the first call's state after the second",
      );
    });
  }

  it('inPlace with one tensor as both state inputs copies instead, and equals the reference', () => {
    const seed = freshSeed();
    const next = seededRandom(seed);
    const shape = [3, 11, 6];
    const {a, d, mask} = draw(shape, next);
    const run = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const state = tf.tensor(a, shape);
        const delta = withMask(tf.tensor(d, shape), tf.tensor(mask, shape.slice(0, -1), 'bool'));
        const out = sparseAccumulate(state, state, delta, {threshold: 0.02, activation: 'tanh', inPlace: true});
        return [out.delta, out.accumulated, out.residual, state].map(read);
      });
    };
    const want = run('cpu');
    const got = run('tensorflow');
    got.forEach((o, k) => expect(Array.from(o), `seed ${seed}: value ${k}`).to.deep.equal(Array.from(want[k])));
    expect(Array.from(got[3]), `seed ${seed}: the shared input is untouched`).to.deep.equal(Array.from(a));
  });

  it('a stream of 30 frames with the state in place equals the reference frame by frame', () => {
    const seed = freshSeed();
    const shape = [2, 9, 7, 24];
    const frames = Array.from({length: 30}, (_, i) => draw(shape, seededRandom(seed + i)));
    const run = (backend: string) => {
      tf.setBackend(backend);
      let [a, r] = [tf.tensor(frames[0].a, shape), tf.zeros(shape)];
      const emitted: Float32Array[] = [];
      for (const f of frames) {
        const delta = withMask(tf.tensor(f.d, shape), tf.tensor(f.mask, shape.slice(0, -1), 'bool'));
        const out = sparseAccumulate(a, r, delta, {threshold: 0.1, activation: 'relu', inPlace: true});
        emitted.push(read(out.delta), Uint8Array.from(getMask(out.delta)!.dataSync()) as unknown as Float32Array);
        tf.dispose([a, r, delta, out.delta]);
        [a, r] = [out.accumulated, out.residual];
      }
      emitted.push(read(a), read(r));
      tf.dispose([a, r]);
      return emitted;
    };
    const want = run('cpu');
    const got = run('tensorflow');
    got.forEach((o, k) =>
      expect(Array.from(o), `seed ${seed}: frame ${Math.floor(k / 2)} ${k % 2 ? 'mask' : 'delta'}`).to.deep.equal(
        Array.from(want[k]),
      ),
    );
  });

  it('bad inputs reach JavaScript as errors naming the op, the argument and the shapes', () => {
    const backend = tf.findBackend('tensorflow') as unknown as NodeBackend;
    const ops = new TfOps(backend);
    tf.setBackend('tensorflow');
    tf.tidy(() => {
      const attrs = (hasMask: boolean) => [
        ops.float('threshold', 0),
        ops.str('activation', 'relu'),
        ops.bool('has_mask', hasMask),
        ops.bool('in_place', false),
      ];
      const call =
        (a: tf.Tensor, r: tf.Tensor, d: tf.Tensor, m: tf.Tensor, hasMask = true) =>
        () =>
          backend.executeMultipleOutputs('TfjsDeltaSparseAccumulate', attrs(hasMask), [a, r, d, m], 4);
      const x = tf.zeros([2, 3, 4]);
      const m = tf.ones([2, 3], 'bool');
      expect(call(x, tf.zeros([2, 3, 5]), x, m)).to.throw(
        /TfjsDeltaSparseAccumulate: residual has shape \[2,3,5\], delta \[2,3,4\]: they must be equal/,
      );
      expect(call(x, x, x, tf.ones([5], 'bool'))).to.throw(
        /TfjsDeltaSparseAccumulate: mask has 5 values, delta \[2,3,4\] has 6 pixels: one value a pixel/,
      );
      expect(call(x, x, tf.zeros([2, 3, 4], 'int32'), m)).to.throw(
        /TfjsDeltaSparseAccumulate as input #2\(zero-based\) was expected to be a float tensor but is a int32 tensor/,
      );
      expect(call(tf.zeros([]), tf.zeros([]), tf.zeros([]), m, false)).to.throw(
        /TfjsDeltaSparseAccumulate: delta must have a channel dimension, got shape \[\]/,
      );
    });
  });
});

describeIfBackend(
  'tensorflow',
  "tensorflow sparseAccumulate: 'ops' picks the TF-op route by the measured crossover",
  () => {
    // [channels, active share, route]: the crossover is min(0.3, channels / 600): 0.04 at 24 channels, 0.3 at 384.
    runSuiteOn('tensorflow');
    let previous: ReturnType<typeof setTensorflowSparseAccumulateRoute>;
    before(() => {
      previous = setTensorflowSparseAccumulateRoute('ops');
    });
    after(() => {
      setTensorflowSparseAccumulateRoute(previous);
    });
    const cases: Array<[number, number, 'pixel' | 'dense']> = [
      [24, 0.02, 'pixel'],
      [24, 0.1, 'dense'],
      [384, 0.2, 'pixel'],
      [384, 0.5, 'dense'],
    ];
    for (const [channels, share, route] of cases) {
      it(`${channels} channels, ${share * 100}% of the pixels active: the ${route} route`, () => {
        expect(pixelCrossoverFor(channels)).to.be.closeTo(Math.min(0.3, channels / 600), 1e-12);
        const seed = freshSeed();
        const next = seededRandom(seed);
        const pixels = 400;
        const mask = new Uint8Array(pixels);
        for (let i = 0; i < Math.round(share * pixels); i++) mask[i] = 1;
        const before = {...sparseAccumulateRouteCounts};
        tf.tidy(() => {
          const rand = () =>
            tf.tensor(
              Float32Array.from({length: pixels * channels}, () => next() * 2 - 1),
              [1, 20, 20, channels],
            );
          const flags = tf.tensor(mask, [1, 20, 20], 'bool');
          const delta = withMask(rand(), flags);
          const out = sparseAccumulate(rand(), rand(), delta, {threshold: 0.05, activation: 'relu6'});
          out.delta.dataSync();
        });
        expect(sparseAccumulateRouteCounts[route] - before[route], `seed ${seed}: ${route} route taken`).to.equal(1);
      });
    }
  },
);
