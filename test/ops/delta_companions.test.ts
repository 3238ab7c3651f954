/**
 * The companion delta ops against the standard tfjs op they must equal, per backend: fresh random
 * inputs (seeds in the messages), masks recomputed independently here with plain loops, exact
 * zeros at inactive pixels, dense outputs where an offset or a dense input reaches every pixel.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {
  deltaAdd,
  deltaAvgPool,
  deltaConcat,
  deltaDense,
  deltaGlobalAvgPool,
  deltaPad2d,
  deltaReshape,
  deltaScaleShift,
  deltaUpSampling2d,
  isDense,
  withMask,
} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {
  expectClose,
  expectMask,
  expectZerosWhereInactive,
  freshSeed,
  maskFlags,
  pick,
  randInt,
  randn,
  randomDelta,
} from '../support/util';

/** A delta input: dense (no mask) or sparse with a random mask. */
function input(shape: number[], dense: boolean, seed: number): tf.Tensor {
  return dense ? randn(shape, seed) : randomDelta(shape, pick([0.05, 0.3, 0.7]), seed);
}

function flagsTensor(flags: ArrayLike<number>, shape: number[]): tf.Tensor {
  return tf.tensor(Array.from(flags), shape, 'int32');
}

function checkDelta(got: tf.Tensor, want: tf.Tensor, expectedMask: ArrayLike<number> | null, ctx: string): void {
  expectClose(got, want, ctx, 1e-5, 1e-6);
  if (expectedMask == null) {
    expect(isDense(got), `${ctx}: output must be dense`).to.equal(true);
  } else {
    expect(isDense(got), `${ctx}: output must carry a mask`).to.equal(false);
    expectMask(got, flagsTensor(expectedMask, got.shape.slice(0, -1)), ctx);
    expectZerosWhereInactive(got, ctx);
  }
}

describeEachBackend('companion delta ops equal the standard op and propagate masks', () => {
  for (const dense of [false, true]) {
    const kind = dense ? 'dense' : 'sparse';

    it(`deltaAdd: a + b, mask = union (${kind} b)`, () => {
      const seed = freshSeed();
      // any channel count, and a multiple of 4 ('cuda' then adds a vector a thread)
      for (const channels of [randInt(1, 20), 4 * randInt(1, 12)]) {
        const shape = [randInt(1, 3), randInt(1, 9), randInt(1, 9), channels];
        tf.tidy(() => {
          const a = input(shape, false, seed);
          const b = input(shape, dense, seed + 2);
          const fa = maskFlags(a);
          const fb = maskFlags(b);
          const union = dense ? null : fa.map((v, i) => v | fb[i]);
          checkDelta(deltaAdd(a, b), tf.add(a, b), union, `deltaAdd [${shape}] seed ${seed}`);
        });
      }
    });

    it(`deltaConcat along channels and along height (${kind} second input)`, () => {
      const seed = freshSeed();
      const [B, H, W] = [randInt(1, 3), randInt(1, 8), randInt(1, 8)];
      tf.tidy(() => {
        const a = input([B, H, W, randInt(1, 7)], false, seed);
        const b = input([B, H, W, randInt(1, 7)], dense, seed + 2);
        const fa = maskFlags(a);
        const fb = maskFlags(b);
        const ctx = `deltaConcat channels B${B} H${H} W${W} seed ${seed}`;
        checkDelta(deltaConcat([a, b]), tf.concat([a, b], -1), dense ? null : fa.map((v, i) => v | fb[i]), ctx);
        const hc = randInt(1, 5);
        const c = input([B, hc, W, a.shape[3] as number], dense, seed + 4);
        const fc = maskFlags(c);
        const stacked: number[] = [];
        for (let n = 0; n < B; n++) {
          stacked.push(...fa.slice(n * H * W, (n + 1) * H * W));
          stacked.push(...fc.slice(n * hc * W, (n + 1) * hc * W));
        }
        checkDelta(deltaConcat([a, c], 1), tf.concat([a, c], 1), stacked, `${ctx} axis 1`);
      });
    });
  }

  it('deltaScaleShift: mask kept without offset, dense with one', () => {
    const seed = freshSeed();
    const shape = [randInt(1, 3), randInt(1, 9), randInt(1, 9), randInt(1, 20)];
    tf.tidy(() => {
      const x = input(shape, false, seed);
      const scale = randn([shape[3]], seed + 2) as tf.Tensor1D;
      const offset = randn([shape[3]], seed + 3) as tf.Tensor1D;
      const ctx = `deltaScaleShift [${shape}] seed ${seed}`;
      checkDelta(deltaScaleShift(x, scale), tf.mul(x, scale), maskFlags(x), ctx);
      checkDelta(deltaScaleShift(x, scale, offset), tf.add(tf.mul(x, scale), offset), null, `${ctx} with offset`);
    });
  });

  for (const rank of [2, 4]) {
    it(`deltaDense on rank ${rank}: equals tf.layers.dense's matMul, mask kept, bias dense`, () => {
      const seed = freshSeed();
      const shape =
        rank === 2 ? [randInt(1, 6), randInt(1, 40)] : [randInt(1, 3), randInt(1, 7), randInt(1, 7), randInt(1, 20)];
      tf.tidy(() => {
        const x = input(shape, false, seed);
        const cin = shape[rank - 1];
        const cout = randInt(1, 17);
        const kernel = randn([cin, cout], seed + 2) as tf.Tensor2D;
        const bias = randn([cout], seed + 3) as tf.Tensor1D;
        const want = tf.reshape(tf.matMul(tf.reshape(x, [-1, cin]), kernel), [...shape.slice(0, -1), cout]);
        const ctx = `deltaDense [${shape}]x[${cin},${cout}] seed ${seed}`;
        checkDelta(deltaDense(x, kernel), want, maskFlags(x), ctx);
        checkDelta(deltaDense(x, kernel, bias), tf.add(want, bias), null, `${ctx} with bias`);
      });
    });
  }

  for (const interpolation of ['nearest', 'bilinear'] as const) {
    it(`deltaUpSampling2d ${interpolation}: equals tf.image resize, mask from contributing pixels`, () => {
      const seed = freshSeed();
      const [B, H, W, C] = [randInt(1, 2), randInt(1, 7), randInt(1, 7), randInt(1, 9)];
      const size: [number, number] = [randInt(1, 3), randInt(1, 4)];
      tf.tidy(() => {
        const x = input([B, H, W, C], false, seed) as tf.Tensor4D;
        const f = maskFlags(x);
        const [OH, OW] = [H * size[0], W * size[1]];
        const want =
          interpolation === 'nearest'
            ? tf.image.resizeNearestNeighbor(x, [OH, OW])
            : tf.image.resizeBilinear(x, [OH, OW]);
        // Source rows/columns with a non-zero weight (tfjs defaults: no align corners, no half-pixel centres).
        const sources = (o: number, inSize: number, outSize: number): number[] => {
          const s = (o * inSize) / outSize;
          const lo = Math.floor(s);
          if (interpolation === 'nearest') return [Math.min(lo, inSize - 1)];
          return s > lo && lo + 1 < inSize ? [lo, lo + 1] : [lo];
        };
        const expected: number[] = [];
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < OH; i++) {
            for (let j = 0; j < OW; j++) {
              expected.push(
                sources(i, H, OH).some((si) => sources(j, W, OW).some((sj) => f[(b * H + si) * W + sj] === 1)) ? 1 : 0,
              );
            }
          }
        }
        checkDelta(
          deltaUpSampling2d(x, size, interpolation),
          want,
          expected,
          `deltaUpSampling2d ${interpolation} [${B},${H},${W},${C}] size ${size} seed ${seed}`,
        );
      });
    });
  }

  for (const dense of [false, true]) {
    it(`deltaPad2d: equals tf.pad, padding inactive (${dense ? 'dense' : 'sparse'} input)`, () => {
      const seed = freshSeed();
      const [B, H, W, C] = [randInt(1, 2), randInt(1, 7), randInt(1, 7), randInt(1, 9)];
      const p: [[number, number], [number, number]] = [
        [randInt(0, 2), randInt(0, 2)],
        [randInt(0, 2), randInt(0, 2)],
      ];
      tf.tidy(() => {
        const x = input([B, H, W, C], dense, seed) as tf.Tensor4D;
        const f = maskFlags(x);
        const [OH, OW] = [H + p[0][0] + p[0][1], W + p[1][0] + p[1][1]];
        const expected: number[] = [];
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < OH; i++) {
            for (let j = 0; j < OW; j++) {
              const [si, sj] = [i - p[0][0], j - p[1][0]];
              expected.push(si >= 0 && si < H && sj >= 0 && sj < W ? f[(b * H + si) * W + sj] : 0);
            }
          }
        }
        checkDelta(
          deltaPad2d(x, p),
          tf.pad(x, [[0, 0], p[0], p[1], [0, 0]]),
          expected,
          `deltaPad2d [${B},${H},${W},${C}] ${JSON.stringify(p)} seed ${seed}`,
        );
      });
    });
  }

  for (const pad of ['valid', 'same'] as const) {
    for (const strides of [null, 1]) {
      it(`deltaAvgPool pool 2-3 strides ${strides ?? 'default'} ${pad}: equals tf.avgPool, mask = window OR`, () => {
        const seed = freshSeed();
        const pool = randInt(2, 3);
        const [B, H, W, C] = [randInt(1, 2), randInt(3, 9), randInt(3, 9), randInt(1, 9)];
        tf.tidy(() => {
          const x = input([B, H, W, C], false, seed) as tf.Tensor4D;
          const f = maskFlags(x);
          const s = strides ?? pool;
          const info = tf.backend_util.computePool2DInfo([B, H, W, C], pool, s, 1, pad);
          const expected: number[] = [];
          for (let b = 0; b < B; b++) {
            for (let i = 0; i < info.outHeight; i++) {
              for (let j = 0; j < info.outWidth; j++) {
                let any = 0;
                for (let di = 0; di < pool; di++) {
                  for (let dj = 0; dj < pool; dj++) {
                    const [si, sj] = [i * s - info.padInfo.top + di, j * s - info.padInfo.left + dj];
                    if (si >= 0 && si < H && sj >= 0 && sj < W) any |= f[(b * H + si) * W + sj];
                  }
                }
                expected.push(any);
              }
            }
          }
          checkDelta(
            deltaAvgPool(x, pool, strides, pad),
            tf.avgPool(x, pool, s, pad),
            expected,
            `deltaAvgPool pool ${pool} strides ${s} ${pad} [${B},${H},${W},${C}] seed ${seed}`,
          );
        });
      });
    }
  }

  it('deltaGlobalAvgPool: mean over H and W, a row is active iff any pixel is', () => {
    const seed = freshSeed();
    const [B, H, W, C] = [randInt(2, 4), randInt(1, 6), randInt(1, 6), randInt(1, 9)];
    tf.tidy(() => {
      // Row 0 entirely inactive, the others random.
      const flags = tf.concat(
        [tf.zeros([1, H, W], 'bool'), tf.less(tf.randomUniform([B - 1, H, W], 0, 1, 'float32', seed), 0.2)],
        0,
      );
      const x = withMask(randn([B, H, W, C], seed + 1), flags) as tf.Tensor4D;
      const f = maskFlags(x);
      const expected = Array.from({length: B}, (_, b) =>
        f.slice(b * H * W, (b + 1) * H * W).some((v) => v === 1) ? 1 : 0,
      );
      expect(expected[0]).to.equal(0);
      checkDelta(
        deltaGlobalAvgPool(x),
        tf.mean(x, [1, 2]),
        expected,
        `deltaGlobalAvgPool [${B},${H},${W},${C}] seed ${seed}`,
      );
    });
  });

  it('deltaReshape: flatten and regroup channels, mask from the elements each output pixel holds', () => {
    const seed = freshSeed();
    const [B, H, W, C] = [randInt(1, 3), randInt(1, 5), randInt(1, 5), pick([2, 4, 6])];
    tf.tidy(() => {
      const x = input([B, H, W, C], false, seed);
      const f = maskFlags(x);
      for (const shape of [
        [B, -1],
        [B, H, (W * C) / 2, 2],
        [-1, C / 2],
        [B * H, W * C],
        [-1, C], // the last dimension stays: the pixels map one to one
        [B, H * W, C],
        [B * H, 1, W, C],
      ]) {
        const got = deltaReshape(x, shape);
        const last = got.shape[got.rank - 1];
        const expected = Array.from({length: got.size / last}, (_, p) => {
          for (let e = p * last; e < (p + 1) * last; e++) if (f[Math.floor(e / C)] === 1) return 1;
          return 0;
        });
        checkDelta(
          got,
          tf.reshape(x, shape),
          expected,
          `deltaReshape [${B},${H},${W},${C}] -> [${shape}] seed ${seed}`,
        );
        expectMask(x, flagsTensor(f, [B, H, W]), 'the input keeps its own mask');
      }
    });
  });

  it('does not leak tensors (masks included)', () => {
    const seed = freshSeed();
    const x = randomDelta([2, 6, 6, 4], 0.3, seed) as tf.Tensor4D;
    const scale = tf.ones([4]) as tf.Tensor1D;
    const kernel = tf.ones([4, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const outs = [
      deltaAdd(x, x),
      deltaConcat([x, x]),
      deltaScaleShift(x, scale),
      deltaDense(x, kernel),
      deltaUpSampling2d(x),
      deltaPad2d(x, 1),
      deltaAvgPool(x),
      deltaGlobalAvgPool(x),
      deltaReshape(x, [2, -1]),
      deltaReshape(x, [-1, 4]),
    ];
    expect(outs.filter(isDense), 'every output carries a mask').to.have.length(0);
    tf.dispose(outs);
    expect(tf.memory().numTensors, `tensors left (seed ${seed})`).to.equal(before);
    tf.dispose([x, scale, kernel]);
  });
});
