/**
 * The pixel route of the 'tensorflow' sparseAccumulate (the active pixels' rows gathered, the
 * formulas run on them, results scattered back) against the 'cpu' reference: emitted delta, its
 * mask, the new accumulated and residual, on fresh random state and fresh random masks (scattered
 * pixels, one block, a border row, nothing, everything), every activation, thresholds 0 / small /
 * large, rank 4 with batch > 1 and rank 2. Then 'auto' routing: which route a call takes either side of the
 * measured crossover.
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
import {describeIfBackend, runSuiteOn} from '../../support/backends';
import {freshSeed, seededRandom} from '../../support/util';

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

describeIfBackend('tensorflow', 'tensorflow sparseAccumulate pixel route', () => {
  let previous: ReturnType<typeof setTensorflowSparseAccumulateRoute>;
  before(() => {
    previous = setTensorflowSparseAccumulateRoute('pixel');
  });
  after(() => {
    setTensorflowSparseAccumulateRoute(previous);
  });

  for (const activation of ['linear', 'relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh'] as Activation[]) {
    for (const threshold of [0, 0.05, 0.5]) {
      for (const rank of [4, 2]) {
        const name = `${activation} threshold ${threshold} rank ${rank}, every mask kind`;
        it(name, () => {
          const seed = freshSeed();
          const next = seededRandom(seed);
          const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
          const shape = rank === 4 ? [int(1, 3), int(1, 9) | 1, int(2, 11), int(1, 20)] : [int(1, 40), int(1, 20)];
          const c = shape[shape.length - 1];
          for (const kind of KINDS) {
            const ctx = `${name}: ${kind}, shape [${shape}] seed ${seed}`;
            const mask = maskOfKind(kind, shape, next);
            const rand = (scale: number) =>
              Float32Array.from({length: mask.length * c}, () => (next() * 2 - 1) * scale);
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
            const pixelCalls = sparseAccumulateRouteCounts.pixel;
            const got = run('tensorflow');
            expect(sparseAccumulateRouteCounts.pixel, `${ctx}: pixel route taken`).to.equal(pixelCalls + 1);
            expect(Array.from(got.mask), `${ctx}: mask`).to.deep.equal(Array.from(want.mask));
            ['delta', 'accumulated', 'residual'].forEach((label, k) => {
              for (let i = 0; i < want.values[k].length; i++) {
                const [g, e] = [got.values[k][i], want.values[k][i]];
                if (!(Math.abs(g - e) <= 1e-6 + 1e-6 * Math.abs(e)))
                  expect.fail(`${ctx}: ${label}[${i}] is ${g}, cpu ${e}`);
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
});

describeIfBackend('tensorflow', "tensorflow sparseAccumulate: 'auto' picks the route by the measured crossover", () => {
  // [channels, active share, route]: the crossover is min(0.3, channels / 600): 0.04 at 24 channels, 0.3 at 384.
  runSuiteOn('tensorflow');
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
});
