/**
 * Half storage on 'cuda' (the 'fp16' precision of compiled streams): with the backend's half storage on, the
 * convolution family computes on half data (fp32 accumulation) and writes half-stored float32 tensors, and the
 * elementwise, pooling, reduction, batch-norm and data-movement kernels keep half inputs in half. Each case chains a
 * half-precision convolution into the kernel under test and compares with the float32 'cpu' backend on fresh random
 * inputs; it also checks which results are half-stored, so a kernel that silently fell back to float32 (or wrote
 * half data read back as float) fails. Bounds: the convolution's inputs are rounded to half (2^-11 relative each), so
 * its outputs carry ~1e-3 of max |y|; 8e-3 leaves room for the chained kernels, while a storage or layout mistake
 * gives errors of order 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {setCudaOptions} from '../../../src/backends/cuda/index';
import {CudaBackend} from '../../../src/backends/cuda/backend';
import {conv3dGated} from '../../../src/index';
import {describeCuda, expectParity, Input, rand} from '../../support/cuda';

const RTOL = 8e-3;

/**
 * f run with half storage on when the backend is 'cuda'; `halfOutputs[i]`: whether output i must be half-stored
 * there (checked before it is read).
 */
function withHalf(halfOutputs: boolean[], f: (...ts: tf.Tensor[]) => tf.Tensor | tf.Tensor[]) {
  return (...ts: tf.Tensor[]) => {
    const backend = tf.backend();
    if (!(backend instanceof CudaBackend)) return f(...ts);
    backend.halfStorage = true;
    try {
      const out = f(...ts);
      const outs = Array.isArray(out) ? out : [out];
      outs.forEach((o, i) => expect(backend.isHalf(o), `output ${i} half-stored`).to.equal(halfOutputs[i]));
      return out;
    } finally {
      backend.halfStorage = false;
    }
  };
}

const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)];

describeCuda('half storage: the fp16 kernels against float32 cpu', () => {
  const n = pick([1, 2]),
    h = pick([7, 9, 12]),
    w = pick([8, 11]),
    c = pick([3, 5, 8]),
    k = pick([6, 8, 16]);
  const x = () => rand([n, h, w, c]);
  const filter = (kh: number, kw: number, ci: number, co: number) => rand([kh, kw, ci, co], -0.5, 0.5);
  const conv = (a: tf.Tensor, f: tf.Tensor, strides: 1 | 2 = 1, pad: 'same' | 'valid' = 'same') =>
    tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, strides, pad);
  const ctx = `x[${n},${h},${w},${c}] -> ${k} channels`;

  it(`conv2d (strides 1 and 2, same and valid), fused bias + relu / leakyRelu / prelu, depthwise: ${ctx}`, async () => {
    for (const strides of [1, 2] as const) {
      for (const pad of ['same', 'valid'] as const) {
        await expectParity(
          `conv2d s${strides} ${pad} ${ctx}`,
          [x(), filter(3, 3, c, k)],
          withHalf([true], (a, f) => conv(a, f, strides, pad)),
          RTOL,
          1e-4,
        );
      }
    }
    for (const activation of ['relu', 'leakyrelu', 'prelu'] as const) {
      await expectParity(
        `fused conv2d + bias + ${activation} ${ctx}`,
        [x(), filter(3, 3, c, k), rand([k]), rand([k])],
        withHalf([true], (a, f, b, alpha) =>
          tf.fused.conv2d({
            x: a as tf.Tensor4D,
            filter: f as tf.Tensor4D,
            strides: 1,
            pad: 'same',
            bias: b,
            activation,
            preluActivationWeights: alpha,
            leakyreluAlpha: 0.1,
          }),
        ),
        RTOL,
        1e-4,
      );
    }
    await expectParity(
      `depthwise ${ctx}`,
      [x(), rand([3, 3, c, 2], -0.5, 0.5)],
      withHalf([true], (a, f) => tf.depthwiseConv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')),
      RTOL,
      1e-4,
    );
    await expectParity(
      `conv2dTranspose stride 2 same ${ctx}`,
      [rand([n, h, w, k]), filter(4, 4, c, k)],
      withHalf([true], (dy, f) =>
        tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [n, 2 * h, 2 * w, c], 2, 'same'),
      ),
      RTOL,
      1e-4,
    );
  });

  it(`depthwise conv of multiplier 1 on depthwise.cu: half input and output, bias + relu6 fused: ${ctx}`, async () => {
    const backend = tf.findBackend('cuda') as CudaBackend;
    const before = backend.ownDepthwise;
    backend.ownDepthwise = true;
    try {
      for (const strides of [1, 2] as const) {
        await expectParity(
          `conv -> depthwise s${strides} (bias, relu6) ${ctx}`,
          [x(), filter(3, 3, c, k), rand([3, 3, k, 1], -0.5, 0.5), rand([k])],
          withHalf([true], (a, f, dw, b) =>
            tf.fused.depthwiseConv2d({
              x: conv(a, f) as tf.Tensor4D,
              filter: dw as tf.Tensor4D,
              strides,
              pad: 'same',
              bias: b as tf.Tensor1D,
              activation: 'relu6',
            }),
          ),
          RTOL,
          1e-4,
        );
      }
    } finally {
      backend.ownDepthwise = before;
    }
  });

  it(`3-D convolutions and conv3dGated (regular, transposed) on half data`, async () => {
    const d = pick([3, 4]);
    const x5 = () => rand([n, d, h, w, c]);
    await expectParity(
      `conv3d same x[${n},${d},${h},${w},${c}]`,
      [x5(), rand([3, 3, 3, c, k], -0.5, 0.5)],
      withHalf([true], (a, f) => tf.conv3d(a as tf.Tensor5D, f as tf.Tensor5D, 1, 'same')),
      RTOL,
      1e-4,
    );
    await expectParity(
      `conv3d stride [1,2,2] valid`,
      [x5(), rand([1, 3, 3, c, k], -0.5, 0.5)],
      withHalf([true], (a, f) => tf.conv3d(a as tf.Tensor5D, f as tf.Tensor5D, [1, 2, 2], 'valid')),
      RTOL,
      1e-4,
    );
    await expectParity(
      `conv3dTranspose stride [1,2,2]`,
      [rand([n, d, h, w, k]), rand([3, 4, 4, c, k], -0.5, 0.5)],
      withHalf([true], (dy, f) =>
        tf.conv3dTranspose(dy as tf.Tensor5D, f as tf.Tensor5D, [n, d, 2 * h, 2 * w, c], [1, 2, 2], 'same'),
      ),
      RTOL,
      1e-4,
    );
    const gate = (transpose: boolean) => (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor, wg: tf.Tensor, bg: tf.Tensor) =>
      conv3dGated({
        x: a as tf.Tensor5D,
        filter: f as tf.Tensor5D,
        bias: b as tf.Tensor1D,
        gateKernel: wg as tf.Tensor2D,
        gateBias: bg as tf.Tensor1D,
        strides: transpose ? [1, 2, 2] : [1, 1, 1],
        pad: 1,
        transpose,
        activation: 'leakyRelu',
      });
    for (const transpose of [false, true]) {
      const f: Input = transpose ? rand([3, 4, 4, k, c], -0.5, 0.5) : rand([3, 3, 3, c, k], -0.5, 0.5);
      await expectParity(
        `conv3dGated${transpose ? ' transposed' : ''} x[${n},${d},${h},${w},${c}]`,
        [x5(), f, rand([k]), rand([k, k], -0.5, 0.5), rand([k])],
        withHalf([true], gate(transpose)),
        RTOL,
        1e-4,
      );
    }
  });

  it("FLAVR's transposed 3-D convolutions (stride [1,2,2], kernel [kt,4,4]; the sub-pixel form) in float32 and half", async () => {
    const d = pick([3, 4]),
      kt = pick([1, 3]);
    const ctx3 = `x[${n},${d},${h},${w},${k}] kernel [${kt},4,4] -> ${c} channels`;
    const gated = (temporalPad: number) => (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor, wg: tf.Tensor, bg: tf.Tensor) =>
      conv3dGated({
        x: a as tf.Tensor5D,
        filter: f as tf.Tensor5D,
        bias: b as tf.Tensor1D,
        gateKernel: wg as tf.Tensor2D,
        gateBias: bg as tf.Tensor1D,
        strides: [1, 2, 2],
        transpose: true,
        activation: 'leakyRelu',
        pad: [
          [0, 0],
          [temporalPad, temporalPad],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
      });
    for (const half of [false, true]) {
      setCudaOptions({allowTF32: half}); // float32: strict (the sub-pixel form must be exact, not just close)
      const run = half
        ? (f: (...ts: tf.Tensor[]) => tf.Tensor) => withHalf([true], f)
        : (f: (...ts: tf.Tensor[]) => tf.Tensor) => f;
      const [rtol, label] = half ? [RTOL, 'half'] : [1e-5, 'float32'];
      for (const temporalPad of kt === 3 ? [0, 1, 2] : [0]) {
        await expectParity(
          `conv3dGated transposed, temporal pad ${temporalPad}, ${label}, ${ctx3}`,
          [rand([n, d, h, w, k]), rand([kt, 4, 4, c, k], -0.5, 0.5), rand([c]), rand([c, c], -0.5, 0.5), rand([c])],
          run(gated(temporalPad)),
          rtol,
          1e-5,
        );
      }
      await expectParity(
        `conv3dTranspose same, ${label}, ${ctx3}`,
        [rand([n, d, h, w, k]), rand([kt, 4, 4, c, k], -0.5, 0.5)],
        run((dy, f) =>
          tf.conv3dTranspose(dy as tf.Tensor5D, f as tf.Tensor5D, [n, d, 2 * h, 2 * w, c], [1, 2, 2], 'same'),
        ),
        rtol,
        1e-5,
      );
    }
    setCudaOptions({allowTF32: true});
  });

  it('elementwise, batch norm, pooling, reductions and data movement keep half inputs in half', async () => {
    // 16 channels: the 16-byte vector paths (8 halves a thread); 5 channels of 7x9 pixels (no size divides by 8):
    // the per-element ones
    const sizes = [
      [16, h, w],
      [5, 7, 9],
    ];
    for (const [k, h, w] of sizes) {
      const cases: Array<[string, boolean[], (y: tf.Tensor, o: tf.Tensor) => tf.Tensor | tf.Tensor[]]> = [
        ['relu', [true], (y) => tf.relu(y)],
        ['leakyRelu', [true], (y) => tf.leakyRelu(y, 0.2)],
        ['sigmoid', [true], (y) => tf.sigmoid(y)],
        ['add (both half)', [true], (y) => tf.add(y, tf.relu(y))],
        [
          'add (float32 [C] broadcast)',
          [true],
          (y, o) => tf.add(y, tf.reshape(tf.slice(o, [0, 0, 0, 0], [1, 1, 1, k]), [k])),
        ],
        ['sub (float32 first)', [true], (y, o) => tf.sub(tf.slice(o, [0, 0, 0, 0], [1, 1, 1, k]), y)],
        ['mul', [true], (y) => tf.mul(y, tf.sigmoid(y))],
        [
          'batchNorm',
          [true],
          (y, o) => {
            const v = tf.reshape(tf.slice(o, [0, 0, 0, 0], [1, 1, 1, k]), [k]);
            return tf.batchNorm(y, v, tf.add(tf.abs(v), 0.5), v, tf.mul(v, 2), 1e-3);
          },
        ],
        ['maxPool 3x3 s2 same', [true], (y) => tf.maxPool(y as tf.Tensor4D, 3, 2, 'same')],
        ['avgPool 2x2 s2 valid', [true], (y) => tf.avgPool(y as tf.Tensor4D, 2, 2, 'valid')],
        ['mean over H, W (float32 result)', [false], (y) => tf.mean(y, [1, 2])],
        ['sum over channels', [false], (y) => tf.sum(y, -1)],
        ['max over H, C (transposed first)', [false], (y) => tf.max(y, [1, 3])],
        ['slice', [true], (y) => tf.slice(y, [0, 1, 2, 1], [n, h - 2, w - 3, k - 2])],
        ['transpose', [true], (y) => tf.transpose(y, [0, 3, 1, 2])],
        ['concat (all half)', [true], (y) => tf.concat([y, tf.relu(y)], 3)],
        ['concat (mixed storage: float32)', [false], (y, o) => tf.concat([y, o], 3)],
        [
          'pad',
          [true],
          (y) =>
            tf.pad(
              y,
              [
                [0, 0],
                [1, 2],
                [0, 3],
                [0, 0],
              ],
              0.5,
            ),
        ],
        [
          'mirrorPad reflect',
          [true],
          (y) =>
            tf.mirrorPad(
              y,
              [
                [0, 0],
                [2, 1],
                [1, 2],
                [0, 0],
              ],
              'reflect',
            ),
        ],
        ['reshape', [true], (y) => tf.reshape(y, [n, h * w, k])],
        [
          'resizeBilinear (float32 kernel, half input)',
          [false],
          (y) => tf.image.resizeBilinear(y as tf.Tensor4D, [h + 3, w * 2]),
        ],
        ['softmax (float32 kernel, half input)', [false], (y) => tf.softmax(y)],
      ];
      for (const [name, halfOut, op] of cases) {
        // o: a float32 tensor of the conv's output shape (an operand of mixed-storage cases)
        await expectParity(
          `${name} after a half conv, x[${n},${h},${w},${c}] -> ${k} channels`,
          [rand([n, h, w, c]), filter(3, 3, c, k), rand([n, h, w, k])],
          withHalf(halfOut, (a, f, o) => op(conv(a, f), o)),
          RTOL,
          1e-4,
        );
      }
    }
  });

  it('half-stored results survive disposal order, copies and reads; nothing leaks', async () => {
    await tf.setBackend('cuda');
    const backend = tf.backend() as CudaBackend;
    const a = tf.tensor(rand([n, h, w, c]).values, [n, h, w, c]);
    const f = tf.tensor(rand([3, 3, c, k], -0.5, 0.5).values, [3, 3, c, k]);
    const want = conv(a, f).dataSync();
    const halfConv = () => {
      backend.halfStorage = true;
      try {
        return conv(a, f);
      } finally {
        backend.halfStorage = false;
      }
    };
    halfConv().dispose(); // the half filter layout and the cuDNN plan: cached with the filter, made once
    const before = {tensors: tf.memory().numTensors, bytes: backend.memory().numBytesInGPU};
    const y = halfConv();
    expect(backend.isHalf(y)).to.equal(true);
    const clone = tf.clone(y);
    const first = y.dataSync();
    y.dispose();
    const again = clone.dataSync();
    expect(Array.from(again)).to.deep.equal(Array.from(first));
    let worst = 0,
      scale = 0;
    want.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - first[i]));
      scale = Math.max(scale, Math.abs(v));
    });
    expect(worst / scale, 'half vs TF32 float32 conv').to.be.at.most(RTOL);
    expect(worst, 'the half conv rounds (it is not the float32 kernel)').to.be.greaterThan(0);
    clone.dispose();
    expect({tensors: tf.memory().numTensors, bytes: backend.memory().numBytesInGPU}).to.deep.equal(before);
    tf.dispose([a, f]);
  });
});
