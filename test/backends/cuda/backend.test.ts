/**
 * The 'cuda' backend: availability without a GPU (runs everywhere), and on a GPU machine the parity of every
 * native kernel against 'cpu' on fresh random inputs, the CPU fallback, errors, memory and timing.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import type {CudaBackend} from '../../../src/backends/cuda/backend';
import {cudaAvailability, cudaNativeKernelNames, setCudaOptions} from '../../../src/backends/cuda/index';
import {poolStats} from '../../../src/backends/cuda/kernels/reduce_pool';
import {storeHalf} from '../../../src/index';
import {cudaBackend, describeCuda, expectParity, rand} from '../../support/cuda';

describe('cuda backend: loading', () => {
  it('reports availability with a reason and never crashes, GPU or not', async () => {
    const a = cudaAvailability();
    if (!a.available) {
      console.log(`      'cuda' unavailable here (expected without a GPU): ${a.reason}`);
      expect(a.reason, 'reason')
        .to.be.a('string')
        .and.match(/addon|GPU|CUDA|cuda|lib/);
      const previous = tf.getBackend();
      const warn = console.warn;
      console.warn = () => {}; // tfjs prints the factory's error; the assertion below is what matters
      try {
        expect(await tf.setBackend('cuda')).to.equal(false);
      } finally {
        console.warn = warn;
        await tf.setBackend(previous); // tfjs keeps the failed name selected; useCudaIfAvailable() avoids that
      }
    } else {
      expect(a.device!.name).to.be.a('string');
      console.log(
        `      'cuda' available: ${a.device!.name}, cc ${a.device!.computeCapability}, cuDNN ${a.device!.cudnnVersion}`,
      );
    }
  });

  it('registers native kernels for the standard model kernels', () => {
    const names = cudaNativeKernelNames();
    for (const k of [
      'FusedConv2D',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNative',
      'Conv3D',
      'Conv3DBackpropInputV2',
      '_FusedMatMul',
      'FusedBatchNorm',
      'Add',
      'AddN',
      'Sub',
      'Multiply',
      'RealDiv',
      'Relu',
      'Relu6',
      'LeakyRelu',
      'Sigmoid',
      'Tanh',
      'Mean',
      'Sum',
      'Max',
      'MaxPool',
      'AvgPool',
      'MaxPool3D',
      'AvgPool3D',
      'Concat',
      'Slice',
      'Reshape',
      'Identity',
      'Transpose',
      'PadV2',
      'MirrorPad',
      'ResizeNearestNeighbor',
      'ResizeBilinear',
      'Cast',
      'Fill',
      'ZerosLike',
    ])
      expect(names, k).to.include(k);
  });
});

const TF32 = {rtol: 5e-3, atol: 1e-4}; // TF32 tensor cores: 10-bit mantissa products
const FP32 = {rtol: 2e-5, atol: 1e-5}; // strict fp32: accumulation order only

describeCuda('cuda backend: convolution parity', () => {
  const cases2d: Array<{
    x: number[];
    f: number[];
    s: number | [number, number];
    p: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
    d?: number;
  }> = [
    {x: [1, 9, 11, 3], f: [3, 3, 3, 5], s: 1, p: 'same'},
    {x: [2, 10, 12, 4], f: [3, 3, 4, 8], s: 2, p: 'same'}, // asymmetric 'same' padding
    {x: [1, 13, 7, 5], f: [3, 3, 5, 6], s: 1, p: 'valid'},
    {x: [2, 12, 12, 3], f: [3, 3, 3, 4], s: 1, p: 'same', d: 2},
    {x: [3, 8, 8, 16], f: [1, 1, 16, 7], s: 1, p: 'valid'},
    {x: [1, 16, 15, 3], f: [7, 7, 3, 8], s: 2, p: 'same'},
    {
      x: [1, 11, 10, 2],
      f: [5, 5, 2, 3],
      s: [2, 1],
      p: [
        [0, 0],
        [1, 2],
        [2, 1],
        [0, 0],
      ],
    },
  ];
  for (const [mode, tol] of [
    ['strict fp32', FP32],
    ['tf32', TF32],
  ] as const) {
    for (const c of cases2d) {
      it(`conv2d ${mode} x${c.x} f${c.f} s${c.s} ${JSON.stringify(c.p)} d${c.d ?? 1}`, async () => {
        setCudaOptions({allowTF32: mode === 'tf32'});
        const x = rand(c.x),
          f = rand(c.f),
          b = rand([c.f[3]]);
        await expectParity(
          'conv2d',
          [x, f],
          (xt, ft) => tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, c.s, c.p, 'NHWC', c.d ?? 1),
          tol.rtol,
          tol.atol,
        );
        await expectParity(
          'fused conv2d bias relu',
          [x, f, b],
          (xt, ft, bt) =>
            tf.fused.conv2d({
              x: xt as tf.Tensor4D,
              filter: ft as tf.Tensor4D,
              strides: c.s,
              pad: c.p,
              dilations: c.d ?? 1,
              bias: bt,
              activation: 'relu',
            }),
          tol.rtol,
          tol.atol,
        );
      });
    }
  }

  // Pads that differ before and after go to cuDNN's graph API as pre- and post-paddings (no padded copy of x), or,
  // with backend.asymmetricConvPads off (TFJS_DELTA_CUDNN_ASYMMETRIC_PADS=0), through the copy: both against 'cpu',
  // on shapes of their own (a plan is cached per shape: key nd, f(orward), s(trict fp32): n,c,k,groups, then per
  // spatial dim x,y,filter,pad before,pad after,stride,dilation), and the plan cache shows which way each conv went.
  it('conv2d with asymmetric pads on the graph API and through the padded copy', async function () {
    if (process.env.TFJS_DELTA_CUDNN_LEGACY === '1') this.skip(); // the legacy API takes symmetric pads only
    setCudaOptions({allowTF32: false});
    const b = cudaBackend();
    const saved = b.asymmetricConvPads;
    const planned = (key: string) => b.n.convPlans().some((p) => p.key === key);
    try {
      for (const [on, n] of [
        [true, 5],
        [false, 6],
      ] as const) {
        b.asymmetricConvPads = on;
        // 3 channels, stride 2, 'same' on even sizes: (0, 1) pads, as MobileNetV2's first conv; then explicit pads
        // larger before than after on one axis and only after on the other.
        const x = rand([n, 14, 18, 3]),
          f = rand([3, 3, 3, 8]),
          x2 = rand([n, 11, 9, 5]),
          f2 = rand([5, 3, 5, 4]);
        const explicit: [[number, number], [number, number], [number, number], [number, number]] = [
          [0, 0],
          [3, 1],
          [0, 2],
          [0, 0],
        ];
        await expectParity(
          `conv2d 'same' stride 2, asymmetric pads ${on ? 'on' : 'off'}`,
          [x, f],
          (xt, ft) => tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, 2, 'same'),
          FP32.rtol,
          FP32.atol,
        );
        await expectParity(
          `conv2d explicit pads, asymmetric pads ${on ? 'on' : 'off'}`,
          [x2, f2],
          (xt, ft) => tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, [2, 1], explicit),
          FP32.rtol,
          FP32.atol,
        );
        // The (0, 1) pads as cuDNN got them, or (off) the padded copy's symmetric pads on the enlarged x. The second
        // conv's pads, larger before than after, may find no engine: then the copy (its parity is what matters).
        const sameAsym = `2fs:${n},3,8,1|14,7,3,0,1,2,1|18,9,3,0,1,2,1`,
          sameCopy = `2fs:${n},3,8,1|15,7,3,0,0,2,1|19,9,3,0,0,2,1`,
          explicitAsym = `2fs:${n},5,4,1|11,6,5,3,1,2,1|9,9,3,0,2,1,1`,
          explicitCopy = `2fs:${n},5,4,1|13,6,5,1,1,2,1|11,9,3,0,0,1,1`;
        expect(planned(on ? sameAsym : sameCopy), `'same' conv: a plan ${on ? sameAsym : sameCopy}`).to.equal(true);
        expect(planned(sameAsym), `'same' conv: a plan with asymmetric pads`).to.equal(on);
        expect(planned(explicitAsym) || planned(explicitCopy), 'explicit pads: a plan either way').to.equal(true);
        if (!on) expect(planned(explicitAsym), 'explicit pads: no plan with asymmetric pads').to.equal(false);
      }
    } finally {
      b.asymmetricConvPads = saved;
    }
  });

  for (const act of ['linear', 'relu6', 'leakyrelu', 'sigmoid', 'elu', 'prelu'] as const) {
    it(`fused conv2d activation ${act}`, async () => {
      setCudaOptions({allowTF32: false});
      const x = rand([2, 7, 9, 3]),
        f = rand([3, 3, 3, 4]),
        b = rand([4]),
        a = rand([4], 0, 0.5);
      await expectParity(
        `fused ${act}`,
        [x, f, b, a],
        (xt, ft, bt, at) =>
          tf.fused.conv2d({
            x: xt as tf.Tensor4D,
            filter: ft as tf.Tensor4D,
            strides: 1,
            pad: 'same',
            bias: bt,
            activation: act,
            preluActivationWeights: act === 'prelu' ? at : undefined,
            leakyreluAlpha: 0.15,
          }),
        FP32.rtol,
        FP32.atol,
      );
    });
  }

  // Channel multiplier 1 runs on depthwise.cu (bias and activation in its epilogue), other multipliers and
  // ownDepthwise = false on cuDNN; both against 'cpu'. Odd sizes, channels that do and do not divide by 4, strides,
  // dilations, 'same' pads that are asymmetric (even input, stride 2), a numeric pad and an uneven window, batches > 1,
  // and images of 1-2 rows or columns (several taps clamped onto the same pixel).
  for (const c of [
    {x: [1, 9, 10, 4], f: [3, 3, 4, 1], s: 1, p: 'same', d: 1},
    {x: [2, 12, 11, 3], f: [3, 3, 3, 2], s: 2, p: 'same', d: 1},
    {x: [1, 8, 8, 6], f: [5, 5, 6, 1], s: 1, p: 'valid', d: 1},
    {x: [3, 12, 16, 8], f: [3, 3, 8, 1], s: 2, p: 'same', d: 1},
    {x: [2, 13, 9, 5], f: [3, 3, 5, 1], s: 1, p: 'same', d: 2},
    {x: [1, 19, 25, 512], f: [3, 3, 512, 1], s: 1, p: 'same', d: 1},
    {x: [2, 1, 2, 8], f: [3, 3, 8, 1], s: 1, p: 'same', d: 1},
    {x: [1, 2, 1, 4], f: [3, 3, 4, 1], s: 2, p: 'same', d: 1},
    {
      x: [2, 10, 7, 12],
      f: [2, 3, 12, 1],
      s: [2, 1],
      p: [
        [0, 0],
        [1, 0],
        [0, 2],
        [0, 0],
      ],
      d: 1,
    },
  ] as const) {
    for (const own of [true, false]) {
      it(`depthwiseConv2d x${c.x} f${c.f} s${c.s} ${JSON.stringify(c.p)} d${c.d} on ${own ? 'depthwise.cu' : 'cuDNN'}`, async () => {
        setCudaOptions({allowTF32: false});
        const backend = tf.findBackend('cuda') as CudaBackend;
        const before = backend.ownDepthwise;
        backend.ownDepthwise = own;
        try {
          const x = rand([...c.x]),
            f = rand([...c.f]),
            channels = c.f[2] * c.f[3],
            b = rand([channels]),
            a = rand([channels], 0, 0.5);
          const [pad, strides] = [c.p as 'same' | 'valid' | number, c.s as number | [number, number]];
          await expectParity(
            'depthwise',
            [x, f],
            (xt, ft) => tf.depthwiseConv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, strides, pad, 'NHWC', c.d),
            FP32.rtol,
            FP32.atol,
          );
          for (const activation of ['relu6', 'linear', 'leakyrelu', 'sigmoid', 'prelu'] as const) {
            await expectParity(
              `fused depthwise ${activation}`,
              [x, f, b, a],
              (xt, ft, bt, at) =>
                tf.fused.depthwiseConv2d({
                  x: xt as tf.Tensor4D,
                  filter: ft as tf.Tensor4D,
                  strides,
                  pad,
                  dilations: c.d,
                  bias: activation === 'linear' ? undefined : bt,
                  activation,
                  preluActivationWeights: activation === 'prelu' ? at : undefined,
                  leakyreluAlpha: 0.15,
                }),
              FP32.rtol,
              FP32.atol,
            );
          }
        } finally {
          backend.ownDepthwise = before;
        }
      });
    }
  }

  for (const c of [
    {x: [1, 4, 9, 10, 3], f: [3, 3, 3, 3, 6], s: 1, p: 'same'},
    {x: [2, 5, 8, 9, 4], f: [3, 3, 3, 4, 5], s: 2, p: 'same'},
    {x: [1, 4, 7, 6, 2], f: [2, 3, 3, 2, 4], s: [1, 2, 1], p: 'valid'},
  ] as const) {
    it(`conv3d x${c.x} f${c.f} s${c.s} ${c.p}`, async () => {
      for (const [mode, tol] of [
        ['fp32', FP32],
        ['tf32', TF32],
      ] as const) {
        setCudaOptions({allowTF32: mode === 'tf32'});
        await expectParity(
          `conv3d ${mode}`,
          [rand([...c.x]), rand([...c.f])],
          (xt, ft) => tf.conv3d(xt as tf.Tensor5D, ft as tf.Tensor5D, c.s as [number, number, number], c.p),
          tol.rtol,
          tol.atol,
        );
      }
    });
  }

  for (const c of [
    {x: [1, 5, 6, 4], f: [3, 3, 3, 4], out: [1, 10, 12, 3], s: 2, p: 'same'},
    {x: [2, 5, 6, 4], f: [3, 3, 2, 4], out: [2, 11, 13, 2], s: 2, p: 'valid'},
    {x: [1, 7, 7, 3], f: [4, 4, 5, 3], out: [1, 14, 14, 5], s: 2, p: 'same'},
    {x: [1, 6, 5, 3], f: [3, 3, 4, 3], out: [1, 6, 5, 4], s: 1, p: 'same'},
  ] as const) {
    it(`conv2dTranspose x${c.x} f${c.f} -> ${c.out} s${c.s} ${c.p}`, async () => {
      setCudaOptions({allowTF32: false});
      await expectParity(
        'conv2dTranspose',
        [rand([...c.x]), rand([...c.f])],
        (xt, ft) =>
          tf.conv2dTranspose(
            xt as tf.Tensor4D,
            ft as tf.Tensor4D,
            [...c.out] as [number, number, number, number],
            c.s,
            c.p,
          ),
        FP32.rtol,
        FP32.atol,
      );
    });
  }

  for (const c of [
    {x: [1, 3, 4, 5, 6], f: [3, 4, 4, 2, 6], out: [1, 3, 8, 10, 2], s: [1, 2, 2], p: 'same'},
    {x: [2, 2, 3, 3, 4], f: [2, 2, 2, 3, 4], out: [2, 4, 6, 6, 3], s: [2, 2, 2], p: 'valid'},
  ] as const) {
    it(`conv3dTranspose x${c.x} f${c.f} -> ${c.out} s${c.s} ${c.p}`, async () => {
      setCudaOptions({allowTF32: false});
      await expectParity(
        'conv3dTranspose',
        [rand([...c.x]), rand([...c.f])],
        (xt, ft) =>
          tf.conv3dTranspose(
            xt as tf.Tensor5D,
            ft as tf.Tensor5D,
            [...c.out] as [number, number, number, number, number],
            c.s as unknown as [number, number, number],
            c.p,
          ),
        FP32.rtol,
        FP32.atol,
      );
    });
  }
});

describeCuda('cuda backend: matmul, elementwise, normalisation parity', () => {
  for (const c of [
    {a: [7, 13], b: [13, 5], ta: false, tb: false},
    {a: [13, 7], b: [5, 13], ta: true, tb: true},
    {a: [3, 4, 6], b: [3, 6, 9], ta: false, tb: false},
    {a: [3, 4, 6], b: [6, 9], ta: false, tb: false},
    {a: [1, 64, 33], b: [2, 33, 17], ta: false, tb: false},
    {a: [2, 6, 4], b: [2, 5, 6], ta: true, tb: true},
  ]) {
    it(`matMul ${c.a}${c.ta ? 'ᵀ' : ''} x ${c.b}${c.tb ? 'ᵀ' : ''} (+ fused bias relu)`, async () => {
      setCudaOptions({allowTF32: false});
      const n = c.tb ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
      const a = rand(c.a),
        b = rand(c.b),
        bias = rand([n]);
      await expectParity('matMul', [a, b], (at, bt) => tf.matMul(at, bt, c.ta, c.tb), FP32.rtol, FP32.atol);
      await expectParity(
        'fused matMul',
        [a, b, bias],
        (at, bt, biast) =>
          tf.fused.matMul({a: at, b: bt, transposeA: c.ta, transposeB: c.tb, bias: biast, activation: 'relu'}),
        FP32.rtol,
        FP32.atol,
      );
      setCudaOptions({allowTF32: true});
      await expectParity('matMul tf32', [a, b], (at, bt) => tf.matMul(at, bt, c.ta, c.tb), TF32.rtol, TF32.atol);
    });
  }

  const binaries: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', tf.div],
    ['maximum', tf.maximum],
    ['minimum', tf.minimum],
    ['squaredDifference', tf.squaredDifference],
  ];
  const shapes: Array<[number[], number[]]> = [
    [
      [2, 3, 4, 5],
      [2, 3, 4, 5],
    ],
    [[2, 3, 4, 5], [5]],
    [
      [2, 1, 4, 1],
      [1, 3, 1, 5],
    ],
    [[7], []],
    [[], [3, 2]],
    [
      [4, 1],
      [4, 6],
    ],
    [
      [2, 3, 1, 2, 3, 2],
      [3, 2, 1, 1],
    ],
  ];
  for (const [name, f] of binaries) {
    it(`${name} with broadcasting`, async () => {
      for (const [sa, sb] of shapes)
        await expectParity(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, [rand(sa), rand(sb, 0.5, 2)], f);
    });
  }
  it('int32 add / mul / maximum', async () => {
    const ints = (shape: number[]) => ({
      shape,
      values: Int32Array.from(rand(shape, -100, 100).values, (v) => Math.round(v)),
    });
    for (const f of [tf.add, tf.mul, tf.maximum]) await expectParity('int32', [ints([3, 4]), ints([4])], f);
  });
  it('pow, prelu, addN', async () => {
    await expectParity('pow', [rand([3, 5], 0.1, 2), rand([5], -2, 2)], tf.pow, 1e-5);
    await expectParity('prelu', [rand([2, 4, 4, 3]), rand([3], 0, 0.5)], (x, a) => tf.prelu(x, a));
    await expectParity('addN', [rand([4, 5]), rand([4, 5]), rand([4, 5])], (a, b, c) => tf.addN([a, b, c]));
  });

  const unaries: Array<[string, (x: tf.Tensor) => tf.Tensor, number, number]> = [
    ['relu', tf.relu, -3, 3],
    ['relu6', tf.relu6, -3, 9],
    ['leakyRelu', (x) => tf.leakyRelu(x, 0.13), -3, 3],
    ['sigmoid', tf.sigmoid, -8, 8],
    ['tanh', tf.tanh, -4, 4],
    ['elu', tf.elu, -3, 3],
    ['exp', tf.exp, -4, 4],
    ['neg', tf.neg, -3, 3],
    ['abs', tf.abs, -3, 3],
    ['sqrt', tf.sqrt, 0.01, 9],
    ['rsqrt', tf.rsqrt, 0.01, 9],
    ['square', tf.square, -3, 3],
    ['log', tf.log, 0.01, 9],
    ['floor', tf.floor, -5, 5],
    ['ceil', tf.ceil, -5, 5],
    ['reciprocal', tf.reciprocal, 0.2, 4],
    ['selu', tf.selu, -3, 3],
    ['softplus', tf.softplus, -20, 20],
    ['round', tf.round, -5, 5],
    ['sign', tf.sign, -2, 2],
    ['step', (x) => tf.step(x, 0.3), -2, 2],
  ];
  for (const [name, f, lo, hi] of unaries) {
    it(`${name}`, async () => {
      await expectParity(name, [rand([3, 7, 11], lo, hi)], f, 2e-6, 1e-6);
    });
  }

  it('batchNorm (4-D with channel params, with / without scale and offset)', async () => {
    const x = rand([2, 5, 6, 7]),
      m = rand([7]),
      v = rand([7], 0.1, 2),
      o = rand([7]),
      s = rand([7]);
    await expectParity('batchNorm', [x, m, v, o, s], (xt, mt, vt, ot, st) => tf.batchNorm(xt, mt, vt, ot, st, 1e-3));
    await expectParity('batchNorm bare', [x, m, v], (xt, mt, vt) => tf.batchNorm(xt, mt, vt));
  });

  it('softmax along the last axis', async () => {
    await expectParity('softmax', [rand([4, 10], -5, 5)], (x) => tf.softmax(x));
    await expectParity('softmax 3-D', [rand([2, 3, 1000], -5, 5)], (x) => tf.softmax(x));
  });
});

describeCuda('cuda backend: reductions and pooling parity', () => {
  const reductions: Array<[string, (x: tf.Tensor, axis?: number | number[], keepDims?: boolean) => tf.Tensor]> = [
    ['mean', tf.mean],
    ['sum', tf.sum],
    ['max', tf.max],
    ['min', tf.min],
    ['prod', tf.prod],
  ];
  const axesCases: Array<[number[], number | number[] | undefined, boolean]> = [
    [[2, 5, 6, 7], [1, 2], false],
    [[2, 5, 6, 7], 3, true],
    [[2, 5, 6, 7], [0, 2], false],
    [[2, 5, 6, 7], undefined, false],
    [[3, 9], 0, false],
    [[1, 64, 64, 32], [1, 2], true],
    [[1, 100003], 1, false],
    [[2, 3, 4, 5, 6], [1, 3, 4], false],
  ];
  for (const [name, f] of reductions) {
    it(`${name} over several axes`, async () => {
      for (const [shape, axis, keep] of axesCases) {
        const lo = name === 'prod' ? 0.9 : -1,
          hi = name === 'prod' ? 1.1 : 1;
        await expectParity(
          `${name} ${shape} axis ${JSON.stringify(axis)} keepDims ${keep}`,
          [rand(shape, lo, hi)],
          (x) => f(x, axis, keep),
          2e-5,
          1e-5,
        );
      }
    });
  }

  for (const c of [
    {x: [1, 9, 11, 3], k: 3, s: 2, p: 'same'},
    {x: [2, 8, 8, 5], k: 2, s: 2, p: 'valid'},
    {x: [1, 7, 10, 4], k: 3, s: 1, p: 'same'},
    {x: [1, 12, 12, 2], k: [3, 2], s: [2, 3], p: 'valid'},
  ] as const) {
    it(`maxPool / avgPool x${c.x} k${c.k} s${c.s} ${c.p}`, async () => {
      const x = rand([...c.x]);
      await expectParity('maxPool', [x], (t) =>
        tf.maxPool(t as tf.Tensor4D, c.k as [number, number], c.s as [number, number], c.p),
      );
      await expectParity('avgPool', [x], (t) =>
        tf.avgPool(t as tf.Tensor4D, c.k as [number, number], c.s as [number, number], c.p),
      );
    });
  }
  for (const c of [
    {x: [1, 4, 8, 8, 3], k: 2, s: 2, p: 'valid'},
    {x: [2, 5, 7, 6, 2], k: 3, s: 1, p: 'same'},
    {x: [1, 4, 9, 9, 3], k: [1, 3, 3], s: [1, 2, 2], p: 'same'},
  ] as const) {
    it(`maxPool3d / avgPool3d x${c.x} k${c.k} s${c.s} ${c.p}`, async () => {
      const x = rand([...c.x]);
      const k = c.k as [number, number, number],
        s = c.s as [number, number, number];
      await expectParity('maxPool3d', [x], (t) => tf.maxPool3d(t as tf.Tensor5D, k, s, c.p));
      await expectParity('avgPool3d', [x], (t) => tf.avgPool3d(t as tf.Tensor5D, k, s, c.p));
    });
  }

  describe('large windows on the split kernel (poolSplit)', () => {
    let saved = false;
    before(() => {
      saved = cudaBackend().poolSplit;
    });
    after(() => {
      cudaBackend().poolSplit = saved;
    });
    // Global pools (MobileNetV2's head at 576x768, batch 8, at 1080x1920, and a pooled mask), windows past the image's
    // edges, strides, channel counts below, at and above a warp, channels in vectors of 4 (a vector past the channels,
    // windows smaller than the block's rows, 3-D); with the option off the same pools run one thread per output.
    const cases: Array<{x: number[]; k: number[]; s: number | number[]; p: 'same' | 'valid'}> = [
      {x: [8, 18, 24, 1280], k: [18, 24], s: 1, p: 'valid'},
      {x: [2, 34, 60, 1280], k: [34, 60], s: 1, p: 'valid'},
      {x: [8, 18, 24, 1], k: [18, 24], s: 1, p: 'valid'},
      {x: [3, 6, 7, 12], k: [6, 7], s: 1, p: 'valid'},
      {x: [2, 9, 11, 8], k: [8, 5], s: [1, 3], p: 'same'},
      {x: [2, 4, 9, 9, 4], k: [4, 3, 3], s: 1, p: 'valid'},
      {x: [2, 7, 9, 3], k: [7, 9], s: 1, p: 'valid'},
      {x: [1, 12, 13, 37], k: [7, 7], s: 1, p: 'same'},
      {x: [3, 11, 10, 20], k: [6, 6], s: [5, 4], p: 'same'},
      {x: [2, 4, 9, 9, 5], k: [4, 3, 3], s: 1, p: 'valid'},
    ];
    for (const c of cases) {
      it(`maxPool / avgPool x${c.x} k${c.k} s${c.s} ${c.p} equal the cpu reference, split and not`, async () => {
        const x = rand(c.x);
        const pools = (t: tf.Tensor) =>
          c.x.length === 5
            ? [
                tf.maxPool3d(t as tf.Tensor5D, c.k as [number, number, number], c.s as number, c.p),
                tf.avgPool3d(t as tf.Tensor5D, c.k as [number, number, number], c.s as number, c.p),
              ]
            : [
                tf.maxPool(t as tf.Tensor4D, c.k as [number, number], c.s as [number, number], c.p),
                tf.avgPool(t as tf.Tensor4D, c.k as [number, number], c.s as [number, number], c.p),
              ];
        for (const split of [true, false]) {
          cudaBackend().poolSplit = split;
          const before = poolStats.splitWindow;
          await expectParity(`pools split ${split}`, [x], pools);
          expect(poolStats.splitWindow - before, `split launches with poolSplit ${split}`).to.equal(split ? 2 : 0);
        }
      });
    }
    // Half storage (a compiled fp16 stream's tensors): 8-byte vectors of 4 halves, and a channel a lane for 6 channels;
    // the 'cpu' side pools the same half values in float32, so the results differ by the output's half rounding: at
    // most 2^-11 of a value, within 5e-4 of the output's largest.
    for (const shape of [
      [2, 18, 24, 64],
      [3, 9, 11, 6],
    ]) {
      it(`maxPool / avgPool of half-stored x${shape} over the whole frame equal the cpu reference to half precision`, async () => {
        cudaBackend().poolSplit = true;
        const before = poolStats.splitWindow;
        const k: [number, number] = [shape[1], shape[2]];
        await expectParity(
          `half pools x${shape}`,
          [rand(shape)],
          (t) => {
            const h = storeHalf(t) as tf.Tensor4D;
            return [tf.maxPool(h, k, 1, 'valid'), tf.avgPool(h, k, 1, 'valid')];
          },
          5e-4,
          0,
        );
        expect(poolStats.splitWindow - before, 'split launches').to.equal(2);
      });
    }
  });
});

describeCuda('cuda backend: data movement parity', () => {
  it('concat along each axis, several inputs, int32 too', async () => {
    await expectParity('concat axis 0', [rand([2, 3, 4]), rand([1, 3, 4]), rand([3, 3, 4])], (a, b, c) =>
      tf.concat([a, b, c], 0),
    );
    await expectParity('concat axis 1', [rand([2, 3, 4]), rand([2, 5, 4])], (a, b) => tf.concat([a, b], 1));
    await expectParity('concat axis -1', [rand([1, 4, 4, 3]), rand([1, 4, 4, 5]), rand([1, 4, 4, 1])], (a, b, c) =>
      tf.concat([a, b, c], -1),
    );
    await expectParity('concat 5-D', [rand([1, 2, 3, 4, 2]), rand([1, 2, 3, 4, 6])], (a, b) => tf.concat([a, b], 4));
    await expectParity(
      'concat int32',
      [
        {shape: [2, 2], values: new Int32Array([1, 2, 3, 4])},
        {shape: [2, 1], values: new Int32Array([5, 6])},
      ],
      (a, b) => tf.concat([a, b], 1),
    );
  });
  it('slice, transpose, reshape', async () => {
    await expectParity('slice', [rand([4, 5, 6, 7])], (x) => tf.slice(x, [1, 0, 2, 3], [2, 5, 3, -1]));
    await expectParity('slice batch', [rand([3, 8, 8, 2])], (x) => tf.slice(x, [2, 0, 0, 0], [1, -1, -1, -1]));
    await expectParity('transpose 4-D', [rand([2, 3, 4, 5])], (x) => tf.transpose(x, [0, 3, 1, 2]));
    await expectParity('transpose 5-D', [rand([2, 3, 4, 5, 6])], (x) => tf.transpose(x, [4, 2, 0, 3, 1]));
    await expectParity('transpose 2-D', [rand([17, 33])], (x) => tf.transpose(x));
    await expectParity('reshape', [rand([2, 3, 4])], (x) => tf.add(tf.reshape(x, [6, 4]), 1));
  });
  it('pad (constant) and mirrorPad (reflect, symmetric)', async () => {
    await expectParity('pad 0', [rand([2, 3, 4, 5])], (x) =>
      tf.pad(x, [
        [0, 0],
        [1, 2],
        [3, 0],
        [0, 1],
      ]),
    );
    await expectParity('pad 1.5', [rand([3, 4])], (x) =>
      tf.pad(
        x,
        [
          [2, 1],
          [1, 3],
        ],
        1.5,
      ),
    );
    await expectParity('pad 5-D', [rand([1, 2, 3, 4, 2])], (x) =>
      tf.pad(x, [
        [0, 0],
        [1, 1],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
    );
    await expectParity('mirrorPad reflect', [rand([1, 6, 7, 2])], (x) =>
      tf.mirrorPad(
        x,
        [
          [0, 0],
          [3, 3],
          [3, 2],
          [0, 0],
        ],
        'reflect',
      ),
    );
    await expectParity('mirrorPad symmetric', [rand([2, 5, 4])], (x) =>
      tf.mirrorPad(
        x,
        [
          [1, 1],
          [2, 3],
          [4, 0],
        ],
        'symmetric',
      ),
    );
  });
  it('resizeNearestNeighbor and resizeBilinear (alignCorners, halfPixelCenters)', async () => {
    for (const [size, align, half] of [
      [[16, 18], false, false],
      [[7, 5], false, false],
      [[16, 18], true, false],
      [[9, 13], false, true],
      [[24, 24], false, true],
    ] as Array<[[number, number], boolean, boolean]>) {
      const x = rand([2, 8, 9, 3]);
      await expectParity(`nearest ${size} ${align} ${half}`, [x], (t) =>
        tf.image.resizeNearestNeighbor(t as tf.Tensor4D, size, align, half),
      );
      await expectParity(`bilinear ${size} ${align} ${half}`, [x], (t) =>
        tf.image.resizeBilinear(t as tf.Tensor4D, size, align, half),
      );
    }
  });
  it('cast, fill, zerosLike, onesLike', async () => {
    await expectParity('cast float->int32->float', [rand([5, 6], -10, 10)], (x) =>
      tf.cast(tf.cast(x, 'int32'), 'float32'),
    );
    await expectParity('cast float->bool->int32', [rand([5, 6], -1, 1)], (x) =>
      tf.cast(tf.cast(tf.round(x), 'bool'), 'int32'),
    );
    await expectParity('cast int32 identity', [{shape: [3], values: new Int32Array([1, -2, 3])}], (x) =>
      tf.cast(x, 'int32'),
    );
    await expectParity('fill', [], () => tf.fill([3, 4], 2.5));
    await expectParity('fill int32', [], () => tf.fill([3, 4], 7, 'int32'));
    await expectParity('zerosLike / onesLike', [rand([4, 3])], (x) => [tf.zerosLike(x), tf.onesLike(x)]);
  });
});

describeCuda('cuda backend: storage, fallback, errors, memory, timing', () => {
  it('moves tensors between cpu and cuda both ways, keeps values exact', async () => {
    await tf.setBackend('cpu');
    const r = rand([3, 1000]);
    const t = tf.tensor(r.values, r.shape);
    await tf.setBackend('cuda');
    const u = tf.add(t, 0); // t moves to cuda
    expect(Array.from(await u.data())).to.deep.equal(Array.from(r.values));
    await tf.setBackend('cpu');
    expect(Array.from(t.dataSync())).to.deep.equal(Array.from(r.values)); // and back
    tf.dispose([t, u]);
  });

  it('falls back to the CPU with one warning per kernel, or throws under TFJS_DELTA_STRICT_KERNELS', async () => {
    await tf.setBackend('cuda');
    const x = tf.tensor([1, 2, 3, 4]);
    expect(() => tf.cumsum(x)).to.throw(/Cumsum.*TFJS_DELTA_STRICT_KERNELS/);
    const warnings: string[] = [];
    const warn = console.warn;
    process.env.TFJS_DELTA_STRICT_KERNELS = '0';
    console.warn = (m: string) => warnings.push(String(m));
    try {
      expect(Array.from(tf.cumsum(x).dataSync())).to.deep.equal([1, 3, 6, 10]);
      expect(Array.from(tf.cumsum(x).dataSync())).to.deep.equal([1, 3, 6, 10]);
    } finally {
      console.warn = warn;
      process.env.TFJS_DELTA_STRICT_KERNELS = '1';
    }
    expect(warnings.filter((w) => w.includes('Cumsum'))).to.have.length(1);
    x.dispose();
  });

  it('turns native failures into JS errors naming the kernel and the call', async () => {
    await tf.setBackend('cuda');
    const n = (tf.backend() as CudaBackend).n;
    expect(() =>
      n.conv({
        nd: 2,
        backwardData: false,
        n: 1,
        c: 3,
        k: 4,
        groups: 2,
        xs: [5, 5],
        ys: [5, 5],
        ws: [3, 3],
        pad: [1, 1],
        stride: [1, 1],
        dil: [1, 1],
        x: 0,
        w: 0,
        y: 0,
      }),
    ).to.throw(/tfjs-delta cuda\.conv: conv: channels not divisible by groups/);
    expect(() =>
      n.binary({op: 99, dtype: 0, a: 0, b: 0, out: 0, outShape: [1], aStrides: [1], bStrides: [1]}),
    ).to.throw(/cuda\.binary: binary: unknown binary op 99/);
    expect(() => n.alloc({bytes: 'x' as unknown as number})).to.throw(/cuda\.alloc: field 'bytes' must be a number/);
    expect(() => n.alloc({bytes: 1e15})).to.throw(/cudaMalloc failed: cudaErrorMemoryAllocation/);
    // still usable afterwards
    expect(Array.from(tf.add(tf.tensor([1, 2]), 1).dataSync())).to.deep.equal([2, 3]);
  });

  it('keeps numTensors and GPU bytes flat over many kernel calls', async () => {
    await tf.setBackend('cuda');
    const x = tf.tensor4d(rand([1, 16, 16, 8]).values, [1, 16, 16, 8]);
    const f = tf.tensor4d(rand([3, 3, 8, 8]).values, [3, 3, 8, 8]);
    const step = () =>
      tf.tidy(() => tf.mean(tf.maxPool(tf.relu(tf.conv2d(x, f, 1, 'same')), 2, 2, 'same'), [1, 2]).dataSync());
    step();
    const before = tf.memory() as tf.MemoryInfo & {numBytesInGPU: number};
    for (let i = 0; i < 300; i++) step();
    const after = tf.memory() as tf.MemoryInfo & {numBytesInGPU: number};
    expect(after.numTensors).to.equal(before.numTensors);
    expect(after.numBytesInGPU).to.equal(before.numBytesInGPU);
    tf.dispose([x, f]);
  });

  it('reports the peak of GPU bytes in use since resetPeakMemory', async () => {
    await tf.setBackend('cuda');
    const backend = tf.backend() as unknown as CudaBackend;
    backend.resetPeakMemory();
    const start = backend.memory();
    expect(start.peakBytesInGPU, 'a reset peak is the bytes in use').to.equal(start.numBytesInGPU);
    const elements = 1 + Math.floor(Math.random() * (1 << 22));
    const big = tf.fill([elements], 1.5);
    big.dataSync();
    big.dispose();
    const after = backend.memory();
    expect(after.numBytesInGPU, 'freed').to.equal(start.numBytesInGPU);
    expect(after.peakBytesInGPU, `${elements} float32 were held`).to.be.at.least(start.numBytesInGPU + 4 * elements);
    expect(after.peakBytesInGPU).to.be.at.most(start.numBytesInGPU + 4 * elements + (1 << 20));
    backend.resetPeakMemory();
    expect(backend.memory().peakBytesInGPU).to.equal(after.numBytesInGPU);
  });

  it('times kernels with CUDA events', async () => {
    await tf.setBackend('cuda');
    const a = tf.tensor2d(rand([512, 512]).values, [512, 512]);
    const t = await tf.time(() => tf.tidy(() => tf.matMul(a, a)));
    expect(t.kernelMs).to.be.a('number').and.greaterThan(0);
    a.dispose();
  });
});
