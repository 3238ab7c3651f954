/**
 * The delta ops on 'cuda', beyond the shared parity suites: every delta kernel against the 'cpu'
 * reference on fresh random inputs with poisoned output buffers (unwritten elements read NaN), output masks
 * included; each deltaConv2d path (TF32 tensor cores / fp32 CUDA cores / dense cuDNN); single active pixels at
 * the borders of the kernels' tiles; empty masks; lazily zeroed outputs read by non-delta ops; odd sizes and
 * batch 3; and no allocation growth over a 200-frame stream. Skipped with the reason on machines without a GPU.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {setCudaOptions} from '../../../src/backends/cuda/index';
import {deltaConvStats} from '../../../src/backends/cuda/kernels/delta';
import {
  conv3dGated,
  deltaAdd,
  deltaAvgPool,
  deltaConv2d,
  deltaGlobalAvgPool,
  deltaPad2d,
  deltaScaleShift,
  deltaConv2dTranspose,
  deltaDepthwiseConv2d,
  deltaMaxPool,
  getMask,
  sparseAccumulate,
  withMask,
} from '../../../src/index';
import type {Activation, PadSpec2D} from '../../../src/index';
import {
  cudaBackend,
  describeCuda,
  expectParity,
  flags,
  Input,
  ownState,
  rand,
  withFlags,
  withZeroWrites,
} from '../../support/cuda';
import {resnet} from '../../../src/models/resnet';
import {toDelta} from '../../../src/delta/to_delta';

const FP32 = {rtol: 2e-5, atol: 1e-5};
const TF32 = {rtol: 5e-3, atol: 1e-4};

function onePixel(shape: number[], b: number, y: number, x: number): Input {
  const m = flags(shape, 0);
  m.values[(b * shape[1] + y) * shape[2] + x] = 1;
  return m;
}

function delta(x: tf.Tensor, m: tf.Tensor): tf.Tensor4D {
  return withMask(x, tf.greater(m, 0.5)) as tf.Tensor4D;
}

type Pad = PadSpec2D;
type Pad2 = number | [number, number] | [[number, number], [number, number]];

/** Runs the suite's tests on the tiled kernel (small frames would route to cuDNN); restores the setting after. */
function onTiledKernel(): void {
  let saved = 0;
  before(() => {
    saved = cudaBackend().denseBelowBlocks;
    cudaBackend().denseBelowBlocks = 0;
  });
  after(() => {
    cudaBackend().denseBelowBlocks = saved;
  });
}

describeCuda('cuda delta kernels: deltaConv2d parity with the cpu reference', () => {
  onTiledKernel();
  const cases: Array<{
    x: number[];
    k: number;
    co: number;
    s: number;
    d: number;
    pad: Pad;
    density: number;
    mma?: boolean;
  }> = [
    {x: [1, 17, 35, 16], k: 3, co: 64, s: 1, d: 1, pad: 'same', density: 0.1},
    {x: [3, 13, 19, 24], k: 3, co: 40, s: 1, d: 1, pad: 'same', density: 0.3},
    {x: [1, 20, 33, 64], k: 1, co: 64, s: 1, d: 1, pad: 'valid', density: 0.2},
    {x: [2, 15, 21, 12], k: 3, co: 24, s: 2, d: 1, pad: 'same', density: 0.25},
    {x: [1, 19, 23, 9], k: 5, co: 20, s: 1, d: 1, pad: 2, density: 0.05},
    {x: [1, 21, 18, 8], k: 3, co: 17, s: 1, d: 2, pad: 'same', density: 0.2},
    {x: [1, 23, 29, 3], k: 7, co: 16, s: 2, d: 1, pad: 'same', density: 0.1},
    {
      x: [3, 11, 9, 5],
      k: 3,
      co: 7,
      s: 1,
      d: 1,
      pad: [
        [0, 0],
        [1, 0],
        [0, 2],
        [0, 0],
      ],
      density: 0.4,
    },
    {x: [1, 9, 40, 256], k: 1, co: 64, s: 1, d: 1, pad: 'valid', density: 0.5},
    {x: [2, 16, 32, 32], k: 3, co: 70, s: 1, d: 1, pad: 'valid', density: 1},
    // the mma.sync kernel (TF32, c % 4 == 0, co % 32 == 0, the footprint and filter chunk within its shared memory):
    // several double-buffered chunks, partial last chunks, several channel blocks, stride and a runtime filter size
    {x: [2, 14, 37, 48], k: 3, co: 96, s: 1, d: 1, pad: 'same', density: 0.3, mma: true},
    {x: [1, 18, 27, 36], k: 3, co: 32, s: 2, d: 1, pad: 'same', density: 0.5, mma: true},
    {x: [1, 14, 23, 20], k: 5, co: 32, s: 1, d: 1, pad: 'same', density: 0.2, mma: true},
    {x: [2, 10, 19, 100], k: 1, co: 64, s: 1, d: 1, pad: 'valid', density: 0.4, mma: true},
    // a 5x5 window dilated 2: its footprint is too large for the mma kernel's shared memory, the WMMA kernel takes it
    {x: [2, 12, 21, 20], k: 5, co: 32, s: 1, d: 2, pad: 'same', density: 0.2, mma: false},
  ];
  for (const [mode, tol] of [
    ['tf32', TF32],
    ['strict fp32', FP32],
  ] as const) {
    for (const c of cases) {
      it(`${mode}: x[${c.x}] k${c.k} -> ${c.co} s${c.s} d${c.d} pad ${JSON.stringify(c.pad)} density ${c.density}`, async () => {
        setCudaOptions({allowTF32: mode === 'tf32'});
        const before = {...deltaConvStats};
        await expectParity(
          `deltaConv2d ${mode} ${JSON.stringify(c)}`,
          [rand(c.x), flags(c.x.slice(0, 3), c.density), rand([c.k, c.k, c.x[3], c.co], -0.3, 0.3)],
          (x, m, f) => withFlags(deltaConv2d(delta(x, m), f as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d)),
          tol.rtol,
          tol.atol,
        );
        const ran = deltaConvStats.tensorCore - before.tensorCore;
        if (mode === 'tf32' && c.co >= 16 && c.k <= 5) expect(ran, 'tensor-core kernel used').to.be.greaterThan(0);
        if (mode !== 'tf32') expect(ran, 'no tensor cores under strict fp32').to.equal(0);
        if (mode === 'tf32' && c.mma !== undefined)
          expect(deltaConvStats.mma - before.mma, 'mma kernel launches').to.equal(c.mma ? 1 : 0);
      });
    }
  }

  it('dense input (no mask) goes to cuDNN and still gets its output mask; bias gives a dense output', async () => {
    setCudaOptions({allowTF32: false});
    const before = deltaConvStats.cudnnDense;
    await expectParity(
      'dense input',
      [rand([2, 11, 13, 8]), rand([3, 3, 8, 16])],
      (x, f) => withFlags(deltaConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')),
      FP32.rtol,
      FP32.atol,
    );
    await expectParity(
      'bias',
      [rand([2, 11, 13, 8]), flags([2, 11, 13], 0.2), rand([3, 3, 8, 16]), rand([16])],
      (x, m, f, b) =>
        withFlags(deltaConv2d(delta(x, m), f as tf.Tensor4D, 2, 'same', 'NHWC', 1, undefined, b as tf.Tensor1D)),
      FP32.rtol,
      FP32.atol,
    );
    expect(deltaConvStats.cudnnDense - before).to.be.greaterThan(0);
  });
});

describeCuda('cuda delta kernels: the mma kernel with a part-empty last channel block (mmaPartialChannels)', () => {
  onTiledKernel();
  let saved = false;
  before(() => {
    saved = cudaBackend().mmaPartialChannels;
    setCudaOptions({allowTF32: true});
  });
  after(() => {
    cudaBackend().mmaPartialChannels = saved;
  });
  // Output channels that are multiples of 4 but not of 32 (4 to 28 channels past the last full block of 32), 1x1 and
  // multi-tap windows, strides, dilation, batch > 1, odd sizes, densities from one pixel to dense; with the option
  // off the same convs run on the WMMA kernel.
  const cases: Array<{x: number[]; k: number; co: number; s: number; d: number; pad: Pad; density: number}> = [
    {x: [2, 19, 37, 32], k: 1, co: 16, s: 1, d: 1, pad: 'valid', density: 0.3}, // MobileNetV2's first projection
    {x: [1, 17, 23, 96], k: 1, co: 24, s: 1, d: 1, pad: 'valid', density: 0.1},
    {x: [3, 13, 21, 24], k: 1, co: 144, s: 1, d: 1, pad: 'valid', density: 0.5}, // 4 blocks of 32 channels and one of 16
    {x: [1, 21, 29, 24], k: 1, co: 48, s: 1, d: 1, pad: 'valid', density: 1}, // PoseNet's Conv2d_1 pointwise
    {x: [2, 15, 18, 20], k: 3, co: 44, s: 1, d: 1, pad: 'same', density: 0.2},
    {x: [1, 23, 27, 12], k: 3, co: 20, s: 2, d: 1, pad: 'same', density: 0.4},
    {x: [2, 14, 19, 8], k: 3, co: 100, s: 1, d: 2, pad: 'valid', density: 0.05},
    {x: [1, 9, 31, 36], k: 4, co: 28, s: 1, d: 1, pad: 'same', density: 1e-9}, // one pixel; a runtime window size
  ];
  for (const c of cases) {
    for (const zeros of ['eager', 'lazy'] as const) {
      it(`x[${c.x}] k${c.k} -> ${c.co} s${c.s} d${c.d} density ${c.density}, ${zeros} zeros: equals the cpu reference on the mma kernel`, async () => {
        const inputs = [rand(c.x), flags(c.x.slice(0, 3), c.density), rand([c.k, c.k, c.x[3], c.co], -0.3, 0.3)];
        for (const partial of [true, false]) {
          cudaBackend().mmaPartialChannels = partial;
          const before = deltaConvStats.mma;
          // the output, its flags and a dense read of it (the channels of the part-empty block past co untouched)
          await withZeroWrites(zeros, () =>
            expectParity(
              `deltaConv2d mmaPartial ${partial} ${zeros} ${JSON.stringify(c)}`,
              inputs,
              (x, m, f) => {
                const y = deltaConv2d(delta(x, m), f as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d);
                return [...withFlags(y), tf.relu(y)];
              },
              TF32.rtol,
              TF32.atol,
            ),
          );
          expect(deltaConvStats.mma - before, `mma launches with mmaPartialChannels ${partial}`).to.equal(
            partial ? 1 : 0,
          );
        }
      });
    }
  }
});

describeCuda('cuda delta kernels: tiles, empty masks, lazy zeros', () => {
  onTiledKernel();
  // Tensor-core tiles are 8 x 16 output pixels, the direct kernel's 8 x 8: pixels on both sides of their borders.
  const pixels: Array<[number, number]> = [
    [0, 0],
    [7, 15],
    [8, 16],
    [7, 16],
    [8, 15],
    [15, 31],
    [16, 32],
    [19, 36],
  ];
  for (const mode of ['tf32', 'strict fp32']) {
    for (const [k, s, d] of [
      [3, 1, 1],
      [3, 2, 1],
      [5, 1, 2],
      [1, 1, 1],
    ]) {
      it(`${mode}: single active pixels at tile borders reach exactly their footprint (k${k} s${s} d${d})`, async () => {
        setCudaOptions({allowTF32: mode === 'tf32'});
        for (const [py, px] of pixels) {
          await expectParity(
            `pixel (${py},${px}) k${k} s${s} d${d}`,
            [rand([2, 20, 37, 16]), onePixel([2, 20, 37], 1, py, px), rand([k, k, 16, 32], -0.3, 0.3)],
            (x, m, f) => withFlags(deltaConv2d(delta(x, m), f as tf.Tensor4D, s, 'same', 'NHWC', d)),
            mode === 'tf32' ? TF32.rtol : FP32.rtol,
            mode === 'tf32' ? TF32.atol : FP32.atol,
          );
        }
      });
    }
  }

  it('an empty mask costs nothing and reads as exact zeros through every op', async () => {
    setCudaOptions({allowTF32: true});
    await expectParity(
      'empty',
      [
        rand([1, 24, 40, 32]),
        flags([1, 24, 40], 0),
        rand([3, 3, 32, 64]),
        rand([1, 24, 40, 32]),
        rand([1, 24, 40, 64]),
      ],
      (x, m, f, a, a2) => {
        const dx = delta(x, m);
        const conv = deltaConv2d(dx, f as tf.Tensor4D, 1, 'same');
        const acc = sparseAccumulate(a2, tf.zerosLike(a2), conv, {activation: 'relu'});
        const pool = deltaMaxPool(a as tf.Tensor4D, dx, 2);
        return [
          ...withFlags(conv),
          tf.add(conv, 1),
          ...withFlags(acc.delta),
          acc.accumulated,
          ...withFlags(pool.delta),
          pool.accumulated,
        ];
      },
    );
  });

  it('deltaAdd and deltaScaleShift (native at active pixels): masked, dense and mixed inputs, batch 3, odd sizes, channels % 4 == 0 and not', async () => {
    for (const zeros of ['lazy', 'eager'] as const) {
      await withZeroWrites(zeros, async () => {
        for (const [shape, da, db] of [
          [[3, 13, 17, 16], 0.1, 0.3],
          [[1, 9, 11, 70], 0.5, 1],
          [[2, 7, 5, 3], 1, 0.2],
          [[2, 11, 9, 24], 0.05, 1], // a vector a thread (channels % 4 == 0), one input dense
          [[1, 5, 7, 160], 0.4, 0.4],
          [[17, 40], 0.3, 0.6],
        ] as Array<[number[], number, number]>) {
          const px = shape.slice(0, -1);
          const maybe = (x: tf.Tensor, m: tf.Tensor, density: number) =>
            density < 1 ? withMask(x, tf.greater(m, 0.5)) : x;
          await expectParity(
            `deltaAdd / deltaScaleShift [${shape}] densities ${da}/${db}, ${zeros} zeros`,
            [
              rand(shape),
              flags(px, da),
              rand(shape),
              flags(px, db),
              rand([shape[shape.length - 1]]),
              rand([shape[shape.length - 1]]),
            ],
            (a, ma, b, mb, scale, offset) => {
              const x = maybe(a, ma, da),
                y = maybe(b, mb, db);
              const sum = deltaAdd(x, y);
              const scaled = deltaScaleShift(x, scale as tf.Tensor1D);
              return [
                ...withFlags(sum),
                ...withFlags(scaled),
                tf.mul(sum, 3),
                deltaAdd(sum, scaled),
                ...withFlags(deltaScaleShift(sum, scale as tf.Tensor1D, offset as tf.Tensor1D)),
              ];
            },
            FP32.rtol,
            FP32.atol,
          );
        }
      });
    }
  });

  it('deltaPad2d (native): masked and dense inputs, asymmetric pads, lazy and eager zeros', async () => {
    for (const zeros of ['lazy', 'eager'] as const) {
      await withZeroWrites(zeros, async () => {
        for (const [shape, density, padding] of [
          [
            [3, 9, 13, 16],
            0.2,
            [
              [1, 2],
              [0, 3],
            ],
          ],
          [[1, 7, 6, 70], 1, 2],
          [[2, 5, 11, 3], 0.5, [1, 0]],
          // Sparse over many warps of pixels, more channels than lanes.
          [
            [2, 40, 37, 33],
            0.05,
            [
              [1, 1],
              [0, 1],
            ],
          ],
        ] as Array<[number[], number, Pad2]>) {
          await expectParity(
            `deltaPad2d [${shape}] density ${density} padding ${JSON.stringify(padding)}, ${zeros} zeros`,
            [rand(shape), flags(shape.slice(0, 3), density)],
            (x, m) => {
              const padded = deltaPad2d(density < 1 ? delta(x, m) : (x as tf.Tensor4D), padding);
              return [...withFlags(padded), tf.mul(padded, 2)];
            },
            FP32.rtol,
            FP32.atol,
          );
        }
      });
    }
  });

  it('deltaGlobalAvgPool and a whole-map deltaAvgPool (native, CudaBackend.globalPoolMasked): the mean over active pixels of a lazily written delta and their OR', async () => {
    const saved = cudaBackend().globalPoolMasked;
    cudaBackend().globalPoolMasked = true;
    try {
      for (const zeros of ['lazy', 'eager'] as const) {
        await withZeroWrites(zeros, async () => {
          for (const [shape, density] of [
            [[3, 18, 24, 1280], 0.1], // MobileNetV2's head at 576x768: float4 lanes
            [[2, 9, 11, 6], 0.3], // a channel a lane
            [[2, 5, 7, 33], 0], // nothing active
            [[1, 40, 37, 20], 1], // every pixel of the frame (the pad's border stays inactive)
          ] as Array<[number[], number]>) {
            // Padded first: in lazy mode the pad leaves its border and every inactive pixel unwritten.
            const padded = (x: tf.Tensor, m: tf.Tensor) =>
              deltaPad2d(delta(x, m), [
                [0, 1],
                [1, 0],
              ]);
            const window: [number, number] = [shape[1] + 1, shape[2] + 1];
            for (const [name, kernel, composite, pool] of [
              ['deltaGlobalAvgPool', 'DeltaGlobalAvgPool', 'Mean', (x: tf.Tensor4D) => deltaGlobalAvgPool(x)],
              // A Keras head's average pool resized to the frame; its stride does not matter with one window.
              ['deltaAvgPool', 'DeltaAvgPool', 'AvgPool', (x: tf.Tensor4D) => deltaAvgPool(x, window, [2, 3], 'valid')],
            ] as Array<[string, string, string, (x: tf.Tensor4D) => tf.Tensor]>) {
              const run = (x: tf.Tensor, m: tf.Tensor) => pool(padded(x, m));
              const ctx = `${name} [${shape}] density ${density}, ${zeros} zeros`;
              const inputs = [rand(shape), flags(shape.slice(0, 3), density)];
              await expectParity(ctx, inputs, (x, m) => withFlags(run(x, m)), FP32.rtol, FP32.atol);
              // The native kernel ran, not the composite (a zero fill, the pool, the mask's OR).
              await tf.setBackend('cuda');
              const [x, m] = inputs.map((i) => tf.tensor(i.values, i.shape));
              const profile = await tf.profile(() => tf.tidy(() => run(x, m)));
              tf.dispose([x, m, profile.result as tf.Tensor]);
              expect(profile.kernelNames, ctx).to.include(kernel);
              expect(profile.kernelNames, ctx).to.not.include(composite);
            }
          }
        });
      }
    } finally {
      cudaBackend().globalPoolMasked = saved;
    }
  });

  it('sparseAccumulate inPlace: on cuda the state outputs are the state inputs, updated at active pixels only', async () => {
    for (const [activation, density] of [
      ['relu', 0.1],
      ['linear', 1],
      ['sigmoid', 0.4],
    ] as Array<[Activation, number]>) {
      const shape = [3, 9, 13, 40];
      await expectParity(
        `inPlace ${activation} density ${density}`,
        [rand(shape, -3, 3), rand(shape, -0.05, 0.05), rand(shape), flags(shape.slice(0, 3), density)],
        (a, r, d, m) => {
          const [ownA, ownR] = ownState(a, r);
          const out = sparseAccumulate(ownA, ownR, delta(d, m), {threshold: 0.3, activation, inPlace: true});
          if (tf.getBackend() === 'cuda') {
            expect(out.accumulated.dataId, 'accumulated aliases its input').to.equal(ownA.dataId);
            expect(out.residual.dataId, 'residual aliases its input').to.equal(ownR.dataId);
          }
          return [...withFlags(out.delta), out.accumulated, out.residual];
        },
        FP32.rtol,
        FP32.atol,
      );
    }
  });

  it('lazily written outputs are zeroed before a non-delta op reads them, and stay correct when reused', async () => {
    setCudaOptions({allowTF32: false});
    const inputs = (): Input[] => [rand([3, 13, 17, 16]), flags([3, 13, 17], 0.05), rand([3, 3, 16, 16], -0.3, 0.3)];
    const run = (x: tf.Tensor, m: tf.Tensor, f: tf.Tensor) => {
      const conv = deltaConv2d(delta(x, m), f as tf.Tensor4D, 1, 'same');
      if (tf.getBackend() === 'cuda') expect(cudaBackend().isLazy(conv), 'conv output is lazy').to.equal(true);
      const viaOp = tf.mul(conv, 2); // a standard kernel materialises the zeros
      const again = deltaConv2d(conv as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'); // a delta kernel reads it as is
      const added = deltaAdd(conv, conv); // native companion kernel: reads it as is
      return [viaOp, ...withFlags(again), ...withFlags(added)];
    };
    await withZeroWrites('lazy', () => expectParity('lazy', inputs(), run, FP32.rtol, FP32.atol));
    await withZeroWrites('eager', () =>
      expectParity(
        'eager zeros',
        inputs(),
        (x, m, f) => withFlags(deltaConv2d(delta(x, m), f as tf.Tensor4D, 1, 'same')),
        FP32.rtol,
        FP32.atol,
      ),
    );
  });

  it('by default delta outputs up to lazyZerosAbove elements are written whole, larger ones lazily', async () => {
    setCudaOptions({allowTF32: false});
    const b = cudaBackend();
    const shape = [3, 13, 17, 16];
    const size = shape.reduce((p, q) => p * q, 1);
    // The bound's own size is written whole, one element less and the output is left lazy.
    for (const [above, lazy] of [
      [size, false],
      [size - 1, true],
    ] as Array<[number, boolean]>) {
      await withZeroWrites('default', async () => {
        b.lazyZerosAbove = above;
        await expectParity(
          `lazyZerosAbove ${above}, output of ${size} elements`,
          [rand(shape), flags(shape.slice(0, 3), 0.1), rand([3, 3, 16, 16], -0.3, 0.3), rand(shape, -3, 3)],
          (x, m, f, state) => {
            const conv = deltaConv2d(delta(x, m), f as tf.Tensor4D, 1, 'same');
            const acc = sparseAccumulate(tf.add(state, 0), tf.mul(state, 0.01), conv, {
              threshold: 0.2,
              activation: 'relu',
            });
            if (tf.getBackend() === 'cuda') {
              expect(b.isLazy(conv), 'conv output lazy').to.equal(lazy);
              expect(b.isLazy(acc.delta), 'accumulator output lazy').to.equal(lazy);
            }
            return [conv, ...withFlags(acc.delta), acc.accumulated, acc.residual];
          },
          FP32.rtol,
          FP32.atol,
        );
      });
    }
  });
});

describeCuda('cuda delta kernels: regular delta convs on small grids routed to cuDNN', () => {
  let saved = 0;
  before(() => (saved = cudaBackend().denseBelowBlocks));
  after(() => (cudaBackend().denseBelowBlocks = saved));
  const cases: Array<{x: number[]; k: number; co: number; s: number; pad: Pad; density: number}> = [
    {x: [1, 19, 25, 96], k: 1, co: 96, s: 1, pad: 'valid', density: 0.3},
    {x: [2, 17, 23, 40], k: 1, co: 24, s: 1, pad: 'same', density: 0.1},
    {x: [1, 19, 25, 32], k: 1, co: 32, s: 2, pad: 'same', density: 0.3},
    {x: [3, 13, 11, 24], k: 3, co: 40, s: 1, pad: 'same', density: 0.2},
    {x: [2, 15, 21, 12], k: 3, co: 32, s: 2, pad: 'same', density: 0.05},
    {
      x: [1, 13, 11, 60],
      k: 5,
      co: 53,
      s: 1,
      pad: [
        [0, 0],
        [0, 2],
        [1, 2],
        [0, 0],
      ],
      density: 0.2,
    },
  ];
  for (const c of cases) {
    it(`x[${c.x}] k${c.k} -> ${c.co} s${c.s} pad ${JSON.stringify(c.pad)}: both routes equal the cpu reference`, async () => {
      setCudaOptions({allowTF32: false});
      const inputs = [rand(c.x), flags(c.x.slice(0, 3), c.density), rand([c.k, c.k, c.x[3], c.co], -0.3, 0.3)];
      for (const blocks of [0, 1e9]) {
        cudaBackend().denseBelowBlocks = blocks;
        const before = {...deltaConvStats};
        // the output itself, its flags, and a dense read of it (inactive pixels exactly zero)
        await expectParity(
          `deltaConv2d ${blocks === 0 ? 'tiled' : 'cuDNN'} ${JSON.stringify(c)}`,
          inputs,
          (x, m, f) => {
            const xd = delta(x, m);
            const y = deltaConv2d(xd, f as tf.Tensor4D, c.s, c.pad, 'NHWC');
            if (tf.getBackend() === 'cuda' && blocks > 0) {
              // cuDNN's route: a 1x1 stride-1 conv passes its input's mask on instead of computing it
              const shared = c.k === 1 && c.s === 1 && getMask(y)!.dataId === getMask(xd)!.dataId;
              expect(shared, 'output mask is the input mask').to.equal(c.k === 1 && c.s === 1);
            }
            return [...withFlags(y), tf.relu(y)];
          },
          FP32.rtol,
          FP32.atol,
        );
        const dense = deltaConvStats.cudnnDense - before.cudnnDense;
        expect(dense, `cuDNN launches with denseBelowBlocks ${blocks}`).to.equal(blocks === 0 ? 0 : 1);
      }
      setCudaOptions({allowTF32: true});
    });
  }

  it('a delta model whose convs switch route from frame to frame equals the dense model at threshold 0', () => {
    const dense = resnet({depth: 18, head: 'pose', width: 16, deconvChannels: 32, joints: 5});
    const model = toDelta(dense, {threshold: 0});
    setCudaOptions({allowTF32: false});
    let worst = 0;
    for (let t = 0; t < 12; t++) {
      cudaBackend().denseBelowBlocks = t % 3 === 0 ? 0 : t % 3 === 1 ? 1e9 : 24;
      const x = tf.tidy(() =>
        tf.add(
          tf.randomUniform([2, 48, 64, 3], 0, 1, 'float32', 7),
          tf.mul(
            tf.randomUniform([2, 48, 64, 3], 0, 0.2),
            tf.cast(tf.greater(tf.randomUniform([2, 48, 64, 1]), 0.9), 'float32'),
          ),
        ),
      );
      const [a, b] = [model.predict(x) as tf.Tensor, dense.predict(x) as tf.Tensor];
      const err = tf.tidy(
        () => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-3, tf.max(tf.abs(b)).dataSync()[0]),
      );
      worst = Math.max(worst, err);
      tf.dispose([x, a, b]);
    }
    setCudaOptions({allowTF32: true});
    expect(worst, 'max |delta - dense| / max |dense| over 12 frames').to.be.at.most(2e-5);
    model.dispose();
    dense.dispose();
  });
});

describeCuda('cuda delta kernels: depthwise, transposed, accumulate, max pool, gated conv3d', () => {
  for (const [k, s, d, mult, direct] of [
    [3, 1, 1, 1, 0],
    [3, 2, 1, 2, 0],
    [5, 1, 2, 1, 0],
    [1, 1, 1, 3, 0],
    [3, 1, 1, 1, 1],
    [3, 2, 1, 2, 1],
    [5, 1, 2, 1, 1],
    [1, 1, 1, 3, 1],
  ]) {
    it(`deltaDepthwiseConv2d k${k} s${s} d${d} multiplier ${mult} (${direct ? 'tile-skipping direct kernel' : 'cuDNN'}), batch 3, with and without bias`, async () => {
      cudaBackend().directDeltaConvs = direct === 1;
      setCudaOptions({allowTF32: false});
      const before = {...deltaConvStats};
      await expectParity(
        'depthwise',
        [rand([3, 15, 19, 12]), flags([3, 15, 19], 0.2), rand([k, k, 12, mult]), rand([12 * mult])],
        (x, m, f, b) => [
          ...withFlags(deltaDepthwiseConv2d(delta(x, m), f as tf.Tensor4D, s, 'same', 'NHWC', d)),
          ...withFlags(
            deltaDepthwiseConv2d(delta(x, m), f as tf.Tensor4D, s, 'same', 'NHWC', d, undefined, b as tf.Tensor1D),
          ),
        ],
        FP32.rtol,
        FP32.atol,
      );
      expect(deltaConvStats.cudnnDense - before.cudnnDense, 'cuDNN launches').to.equal(direct ? 0 : 2);
      cudaBackend().directDeltaConvs = false;
      setCudaOptions({allowTF32: true});
    });
  }
  for (const [k, s, pad, sparse] of [
    [4, 2, 'same', false],
    [3, 2, 'valid', false],
    [2, 2, 0, false],
    [5, 1, 2, false],
    [4, 2, 'same', true],
    [3, 2, 'valid', true],
    [2, 2, 0, true],
    [5, 1, 2, true],
  ] as Array<[number, number, Pad, boolean]>) {
    it(`deltaConv2dTranspose k${k} s${s} pad ${JSON.stringify(pad)} (${sparse ? 'tile-skipping direct kernel' : 'cuDNN'}), batch 3, with and without bias`, async () => {
      cudaBackend().directDeltaConvs = sparse;
      setCudaOptions({allowTF32: false});
      const before = {...deltaConvStats};
      const [h, w] = [7, 10];
      const p = typeof pad === 'number' ? pad : 0;
      const size = (n: number) => (pad === 'same' ? n * s : (n - 1) * s + k - 2 * p);
      const out: [number, number, number, number] = [3, size(h), size(w), 9];
      await expectParity(
        'transposed',
        [rand([3, h, w, 6]), flags([3, h, w], 0.2), rand([k, k, 9, 6]), rand([9])],
        (x, m, f, b) => [
          ...withFlags(deltaConv2dTranspose(delta(x, m), f as tf.Tensor4D, out, s, pad)),
          ...withFlags(deltaConv2dTranspose(delta(x, m), f as tf.Tensor4D, out, s, pad, undefined, b as tf.Tensor1D)),
        ],
        FP32.rtol,
        FP32.atol,
      );
      expect(deltaConvStats.cudnnDense - before.cudnnDense, 'cuDNN launches').to.equal(sparse ? 0 : 2);
      cudaBackend().directDeltaConvs = false;
      setCudaOptions({allowTF32: true});
    });
  }
  for (const activation of ['linear', 'relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh'] as const) {
    it(`sparseAccumulate ${activation}: masked, dense and rank-2 deltas`, async () => {
      for (const [shape, density] of [
        [[3, 9, 13, 40], 0.3],
        [[1, 5, 7, 3], 1],
        [[17, 70], 0.5],
      ] as Array<[number[], number]>) {
        await expectParity(
          `sparseAccumulate ${activation} [${shape}]`,
          [rand(shape, -3, 3), rand(shape, -0.05, 0.05), rand(shape), flags(shape.slice(0, -1), density)],
          (a, r, d, m) => {
            const dd = density === 1 ? d : withMask(d, tf.greater(m, 0.5));
            const out = sparseAccumulate(a, r, dd, {threshold: 0.3, activation, alpha: 0.1});
            return [...withFlags(out.delta), out.accumulated, out.residual];
          },
          1e-5,
          1e-6,
        );
      }
    });
  }
  for (const [pool, s, pad] of [
    [2, 2, 'valid'],
    [3, 2, 'same'],
    [3, 1, 1],
    [2, 2, 'same'],
  ] as Array<[number, number, Pad]>) {
    it(`deltaMaxPool ${pool}x${pool} s${s} pad ${JSON.stringify(pad)}, odd sizes, batch 3`, async () => {
      await expectParity(
        'maxPool',
        [rand([3, 11, 13, 10]), rand([3, 11, 13, 10]), flags([3, 11, 13], 0.2)],
        (a, d, m) => {
          const out = deltaMaxPool(a as tf.Tensor4D, withMask(d, tf.greater(m, 0.5)) as tf.Tensor4D, pool, s, pad);
          return [...withFlags(out.delta), out.accumulated];
        },
        1e-6,
        1e-6,
      );
    });
  }
  for (const transpose of [false, true]) {
    it(`conv3dGated ${transpose ? 'transposed' : 'regular'}, asymmetric pads, every activation path`, async () => {
      setCudaOptions({allowTF32: false});
      const k = transpose ? [3, 4, 4] : [3, 3, 3];
      const filter = transpose ? [...k, 6, 5] : [...k, 5, 6];
      await expectParity(
        'conv3dGated',
        [rand([2, 4, 9, 10, 5]), rand(filter, -0.3, 0.3), rand([6]), rand([6, 6]), rand([6])],
        (x, f, b, wg, bg) =>
          conv3dGated({
            x: x as tf.Tensor5D,
            filter: f as tf.Tensor5D,
            bias: b,
            gateKernel: wg,
            gateBias: bg,
            strides: transpose ? [1, 2, 2] : [1, 2, 1],
            transpose,
            activation: 'leakyRelu',
            alpha: 0.2,
            pad: transpose
              ? [
                  [0, 0],
                  [1, 1],
                  [1, 2],
                  [1, 1],
                  [0, 0],
                ]
              : [
                  [0, 0],
                  [1, 1],
                  [0, 1],
                  [1, 2],
                  [0, 0],
                ],
          }),
        FP32.rtol,
        FP32.atol,
      );
    });
  }
});

describeCuda('cuda delta kernels: a 200-frame stream', () => {
  it('threshold 0 matches the dense pipeline every frame, with no allocation growth', async () => {
    setCudaOptions({allowTF32: false});
    await tf.setBackend('cuda');
    const shape = [1, 24, 40, 16];
    const w = tf.randomNormal([3, 3, 16, 32], 0, 0.2) as tf.Tensor4D;
    let x = tf.randomNormal(shape);
    let inA = tf.zeros(shape),
      inR = tf.zeros(shape);
    let actA = tf.zeros([1, 24, 40, 32]),
      actR = tf.zeros([1, 24, 40, 32]);
    let poolA = tf.zeros([1, 24, 40, 32]),
      outA = tf.zeros([1, 12, 20, 32]),
      outR = tf.zeros([1, 12, 20, 32]);
    const b = cudaBackend();
    let mark: {tensors: number; blocks: number; bytes: number} | null = null;
    const usage = () => ({
      tensors: tf.memory().numTensors,
      blocks: b.n.memory().blocks,
      bytes: b.memory().numBytesInGPU,
    });
    for (let t = 0; t < 200; t++) {
      const next = tf.tidy(() => {
        // ~3% of the pixels move per frame.
        const moving = tf.cast(tf.less(tf.randomUniform(shape.slice(0, 3)), 0.03), 'float32');
        const xn = tf.add(x, tf.mul(tf.randomNormal(shape), tf.expandDims(moving, -1)));
        const inp = sparseAccumulate(inA, inR, tf.sub(xn, tf.add(inA, inR)));
        const conv = deltaConv2d(inp.delta as tf.Tensor4D, w, 1, 'same');
        const act = sparseAccumulate(actA, actR, conv, {activation: 'relu'});
        const pool = deltaMaxPool(poolA as tf.Tensor4D, act.delta as tf.Tensor4D, 2);
        const out = sparseAccumulate(outA, outR, pool.delta);
        if (t % 20 === 0 || t === 199) {
          const dense = tf.maxPool(tf.relu(tf.conv2d(xn as tf.Tensor4D, w, 1, 'same')), 2, 2, 'valid');
          const diff = tf.max(tf.abs(tf.sub(out.accumulated, dense))).dataSync()[0];
          const scale = tf.max(tf.abs(dense)).dataSync()[0];
          expect(diff, `frame ${t}: max |delta - dense|`).to.be.lessThan(1e-4 * scale + 1e-5);
        }
        return {
          x: xn,
          inA: inp.accumulated,
          inR: inp.residual,
          actA: act.accumulated,
          actR: act.residual,
          poolA: pool.accumulated,
          outA: out.accumulated,
          outR: out.residual,
        };
      });
      tf.dispose([x, inA, inR, actA, actR, poolA, outA, outR]);
      ({x, inA, inR, actA, actR, poolA, outA, outR} = next);
      if (t === 20) mark = usage();
    }
    const end = usage();
    tf.dispose([w, x, inA, inR, actA, actR, poolA, outA, outR]);
    expect(end.tensors, 'live tensors').to.equal(mark!.tensors);
    expect(end.blocks, 'live device allocations').to.equal(mark!.blocks);
    // The caching allocator hands out cached blocks of close sizes, so bytes in use move a little (0.05% seen on an H100).
    expect(Math.abs(end.bytes - mark!.bytes), 'GPU bytes in use').to.be.lessThan(0.01 * mark!.bytes);
  });
});
