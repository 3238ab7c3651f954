/**
 * Dense FusedConv2D on the tiled TF32 kernel (native/cuda/delta_conv_tc.cu) with its bias and activation in the
 * kernel's store, the route CudaBackend.fusedConvMaxK opens for convs of small reduction. Against the 'cpu' reference
 * bit for bit where every sum is exact (inputs multiples of 1/8, filters and biases of 1/16: exact in float32 and TF32
 * in any order; relu, relu6, leaky ReLU and linear are exact too), to a few ulps for the transcendental activations,
 * and to TF32's rounding on full-precision values; each case checks that the route ran (its bounds opened to every
 * shape the kernel takes): 1x1, 2x2 and 3x3 windows, strides, a dilation, 'valid', 'same' and explicit pads (outputs
 * whose window lies wholly in the padding get act(bias)), odd sizes, batch > 1, channel counts that fill the mma
 * kernel's blocks or leave the last part empty, with and without a bias, and the direct kernel's epilogue (reductions
 * below 16, fewer than 16 output channels, where the tiled kernels decline). The default bounds route the shapes they
 * name; the convs the route leaves to cuDNN (prelu, 3 input channels, a reduction above the bound, the bound 0, a bias
 * that is not per channel, strict fp32) still match and do not take it; the native entry refuses what it cannot do.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {FUSED_CONV_MAX_K, FUSED_CONV_MIN_OUT_CHANNELS} from '../../../src/backends/cuda/backend';
import {fusedConvStats} from '../../../src/backends/cuda/kernels/conv';
import {UnaryOp} from '../../../src/backends/cuda/native';
import {setCudaOptions} from '../../../src/backends/cuda/index';
import {cudaBackend, describeCuda, exactValues, expectParity, rand} from '../../support/cuda';

type Act = 'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'sigmoid' | 'elu' | 'prelu';
type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  x: number[];
  k: number;
  co: number;
  s?: number;
  d?: number;
  pad?: Pad;
  act: Act;
  bias?: boolean;
}

/**
 * How many convs took the tiled route while `f` ran: with the route's bounds as given, or by default open to every
 * shape the kernel takes ('default': the backend's own bounds).
 */
async function tiledRuns(
  f: () => Promise<void>,
  bounds: {maxK: number; minOut: number} | 'default' = {maxK: Number.MAX_SAFE_INTEGER, minOut: 4},
): Promise<number> {
  const b = cudaBackend();
  const saved = [b.fusedConvMaxK, b.fusedConvMinOutChannels] as const;
  if (bounds !== 'default') [b.fusedConvMaxK, b.fusedConvMinOutChannels] = [bounds.maxK, bounds.minOut];
  const before = fusedConvStats.tiled;
  try {
    await f();
  } finally {
    [b.fusedConvMaxK, b.fusedConvMinOutChannels] = saved;
  }
  return fusedConvStats.tiled - before;
}

/** The conv of `c` as tf.fused.conv2d of (x, filter, bias, prelu weights). */
function fusedConv(c: Case) {
  return (x: tf.Tensor, filter: tf.Tensor, bias?: tf.Tensor, preluWeights?: tf.Tensor) =>
    tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: filter as tf.Tensor4D,
      strides: c.s ?? 1,
      pad: c.pad ?? 'same',
      dilations: c.d ?? 1,
      bias: c.bias === false ? undefined : bias,
      activation: c.act,
      leakyreluAlpha: 0.25,
      preluActivationWeights: preluWeights,
    });
}

function label(c: Case): string {
  const pad = Array.isArray(c.pad) ? `pad ${JSON.stringify(c.pad)}` : (c.pad ?? 'same');
  return (
    `x [${c.x}] ${c.k}x${c.k} -> ${c.co}, stride ${c.s ?? 1}, dilation ${c.d ?? 1}, ${pad}, ${c.act}` +
    `${c.bias === false ? ', no bias' : ''}`
  );
}

describeCuda('cuda dense fused convs on the tiled kernel: parity with the cpu reference', () => {
  const exact: Case[] = [
    {x: [2, 24, 40, 16], k: 1, co: 96, act: 'relu6'}, // MobileNetV2's expand, packed filter (co % 32 == 0)
    {x: [3, 13, 37, 24], k: 1, co: 16, act: 'linear'}, // project: one part-empty channel block, edge tiles
    {x: [1, 19, 21, 20], k: 3, co: 36, act: 'relu', s: 2}, // 3x3 stride 2, partial block
    {x: [2, 17, 33, 8], k: 3, co: 64, act: 'leakyrelu', d: 2}, // dilation, 'same'
    {x: [1, 16, 16, 32], k: 3, co: 32, act: 'relu', pad: 'valid'},
    {x: [2, 9, 11, 12], k: 2, co: 40, act: 'relu6', pad: 'same'}, // even window: asymmetric 'same'
    {
      x: [1, 6, 7, 16],
      k: 1,
      co: 32,
      act: 'relu6',
      pad: [
        [0, 0],
        [3, 2],
        [5, 4],
        [0, 0],
      ],
    }, // outputs in the padding
    {x: [2, 20, 20, 64], k: 1, co: 128, act: 'relu', bias: false}, // activation only
    {x: [1, 10, 30, 40], k: 1, co: 48, act: 'linear', s: 2}, // 1x1 stride 2, 40 channels: a part-empty chunk
    {x: [2, 9, 13, 4], k: 1, co: 32, act: 'relu6'}, // a reduction below 16: the direct kernel's epilogue
    {x: [1, 11, 7, 8], k: 3, co: 12, act: 'leakyrelu'}, // 12 output channels: the direct kernel too
  ];
  for (const c of exact)
    it(`bit for bit: ${label(c)}`, async () => {
      const ci = c.x[3];
      const ran = await tiledRuns(() =>
        expectParity(
          label(c),
          [exactValues(c.x, 8), exactValues([c.k, c.k, ci, c.co], 16), exactValues([c.co], 16)],
          fusedConv(c),
          0,
          0,
        ),
      );
      expect(ran, 'tiled route taken').to.equal(1);
    });

  for (const act of ['sigmoid', 'elu'] as const)
    it(`transcendental activation ${act}: within a few ulps`, async () => {
      const c: Case = {x: [2, 15, 23, 16], k: 3, co: 32, act, s: 1};
      const ran = await tiledRuns(() =>
        expectParity(
          label(c),
          [exactValues(c.x, 8), exactValues([3, 3, 16, 32], 16), exactValues([32], 16)],
          fusedConv(c),
          4e-7,
          1e-7,
        ),
      );
      expect(ran).to.equal(1);
    });

  it('full-precision random values: within TF32 rounding of the fp32 reference', async () => {
    const c: Case = {x: [2, 29, 31, 64], k: 3, co: 96, act: 'relu6'};
    const ran = await tiledRuns(() =>
      expectParity(label(c), [rand(c.x), rand([3, 3, 64, 96], -0.1, 0.1), rand([96])], fusedConv(c), 3e-3, 1e-5),
    );
    expect(ran).to.equal(1);
  });

  it('the tiled route and cuDNN with its bias-activation pass agree on the same inputs', async () => {
    await tf.setBackend('cuda');
    const x = tf.tensor(rand([2, 33, 47, 32]).values, [2, 33, 47, 32]) as tf.Tensor4D;
    const f = tf.tensor(rand([1, 1, 32, 64], -0.2, 0.2).values, [1, 1, 32, 64]) as tf.Tensor4D;
    const bias = tf.tensor(rand([64]).values, [64]);
    const run = () => tf.fused.conv2d({x, filter: f, strides: 1, pad: 'same', bias, activation: 'relu6'});
    let tiled: Float32Array | undefined, cudnn: Float32Array | undefined;
    expect(await tiledRuns(async () => void (tiled = (await run().data()) as Float32Array))).to.equal(1);
    expect(
      await tiledRuns(async () => void (cudnn = (await run().data()) as Float32Array), {maxK: 0, minOut: 4}),
    ).to.equal(0);
    let worst = 0;
    for (let i = 0; i < tiled!.length; i++) worst = Math.max(worst, Math.abs(tiled![i] - cudnn![i]));
    expect(worst, 'max |tiled - cuDNN|').to.be.below(5e-3);
    expect(tiled!.some((v) => v > 0 && v < 6)).to.equal(true);
    tf.dispose([x, f, bias]);
  });

  it('the default bounds: reductions up to 64 with 16 output channels or more', async () => {
    const b = cudaBackend();
    expect([b.fusedConvMaxK, b.fusedConvMinOutChannels]).to.deep.equal([FUSED_CONV_MAX_K, FUSED_CONV_MIN_OUT_CHANNELS]);
    const cases: Array<[Case, number]> = [
      [{x: [2, 18, 20, 64], k: 1, co: 32, act: 'relu6'}, 1],
      [{x: [1, 18, 20, 16], k: 2, co: 96, act: 'relu', pad: 'valid'}, 1],
      [{x: [2, 18, 20, 68], k: 1, co: 32, act: 'relu6'}, 0],
      [{x: [1, 18, 20, 8], k: 3, co: 32, act: 'relu'}, 0],
      [{x: [2, 18, 20, 32], k: 1, co: 16, act: 'linear'}, 1],
      [{x: [2, 18, 20, 32], k: 1, co: 12, act: 'linear'}, 0],
    ];
    for (const [c, want] of cases) {
      const inputs = [exactValues(c.x, 8), exactValues([c.k, c.k, c.x[3], c.co], 16), exactValues([c.co], 16)];
      const ran = await tiledRuns(() => expectParity(label(c), inputs, fusedConv(c), 2e-3, 1e-5), 'default');
      expect(ran, label(c)).to.equal(want);
    }
  });

  const leftToCudnn: Array<{why: string; c: Case; maxK?: number; biasShape?: number[]}> = [
    {why: '3 input channels', c: {x: [1, 16, 16, 3], k: 3, co: 32, act: 'relu6'}},
    {why: 'a reduction above the bound', c: {x: [1, 8, 16, 64], k: 3, co: 32, act: 'relu'}, maxK: 575},
    {why: 'the bound 0', c: {x: [1, 8, 16, 16], k: 1, co: 32, act: 'relu'}, maxK: 0},
    {why: 'no bias, linear', c: {x: [1, 8, 16, 16], k: 1, co: 32, act: 'linear', bias: false}},
    {why: 'prelu', c: {x: [1, 8, 16, 16], k: 1, co: 32, act: 'prelu'}},
    {why: 'a scalar bias', c: {x: [1, 8, 16, 16], k: 1, co: 32, act: 'relu'}, biasShape: []},
  ];
  for (const {why, c, maxK, biasShape} of leftToCudnn)
    it(`stays on cuDNN: ${why}`, async () => {
      const ci = c.x[3];
      const inputs = [exactValues(c.x, 8), exactValues([c.k, c.k, ci, c.co], 16), exactValues(biasShape ?? [c.co], 16)];
      if (c.act === 'prelu') inputs.push(exactValues([c.co], 16));
      const ran = await tiledRuns(() => expectParity(why, inputs, fusedConv(c), 2e-3, 1e-5), {
        maxK: maxK ?? Number.MAX_SAFE_INTEGER,
        minOut: 4,
      });
      expect(ran).to.equal(0);
    });

  it('the native entry refuses an activation on a masked delta without a bias, and an unknown activation', async () => {
    await tf.setBackend('cuda');
    const b = cudaBackend();
    const x = tf.ones([1, 4, 4, 4]);
    const f = tf.ones([1, 1, 4, 16]);
    const mask = tf.ones([1, 4, 4], 'bool');
    const y = tf.zeros([1, 4, 4, 16]);
    const call = (extra: {mask?: tf.Tensor; act: number}) =>
      b.n.deltaConv({
        geometry: {
          mode: 0,
          n: 1,
          h: 4,
          w: 4,
          c: 4,
          oh: 4,
          ow: 4,
          co: 16,
          kh: 1,
          kw: 1,
          sh: 1,
          sw: 1,
          dh: 1,
          dw: 1,
          pt: 0,
          pl: 0,
          mult: 1,
        },
        x: b.ptr(x),
        mask: extra.mask ? b.ptr(extra.mask) : 0,
        filter: b.ptr(f),
        bias: 0,
        packedFilter: 0,
        y: b.ptr(y),
        outMask: 0,
        writeZeros: true,
        act: extra.act,
      });
    try {
      expect(() => call({mask, act: UnaryOp.relu})).to.throw(/deltaConv: an activation needs a bias or a dense input/);
      expect(() => call({act: 99})).to.throw(/deltaConv: unknown activation code 99/);
      expect(() => call({act: UnaryOp.relu})).not.to.throw(); // a dense input takes it
    } finally {
      tf.dispose([x, f, mask, y]);
    }
  });

  it('stays on cuDNN under strict fp32', async () => {
    const c: Case = {x: [1, 8, 16, 16], k: 1, co: 32, act: 'relu'};
    setCudaOptions({allowTF32: false});
    try {
      const ran = await tiledRuns(() =>
        expectParity(
          'strict',
          [exactValues(c.x, 8), exactValues([1, 1, 16, 32], 16), exactValues([32], 16)],
          fusedConv(c),
          0,
          0,
        ),
      );
      expect(ran).to.equal(0);
    } finally {
      setCudaOptions({allowTF32: true});
    }
  });
});
