/**
 * The pointwise delta block on 'cuda' (native/cuda/delta_pointwise.cu: a work list of the active pixels, TF32 tensor
 * cores, the accumulator as its epilogue) against the 'cpu' reference, bit for bit: inputs are small multiples of
 * 1/8 and filters of 1/16, so TF32 holds them exactly and every sum is exact in float32 in any order; the accumulator
 * state is random float32. Over channel counts around the kernel's chunks (32 input channels) and slices (32 and 64
 * output channels, up to 12 slices), pixel counts around its groups of 32, batch > 1, densities from one pixel to
 * dense (and no mask), every truncating activation, thresholds, lazy and eager zeros, the state in place; a
 * 40-frame stream; geometries the kernel does not take falling back to the two kernels; a delta model whose
 * pointwise layers run it equal to the dense model at threshold 0. Outputs start poisoned (NaN).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {setCudaOptions} from '../../../src/backends/cuda/index';
import {deltaConvStats} from '../../../src/backends/cuda/kernels/delta';
import {fusedDeltaConv2d, withMask} from '../../../src/index';
import {toDelta} from '../../../src/delta/to_delta';
import {
  ACTIVATIONS,
  accumulatorOutputs as outputs,
  cudaBackend,
  describeCuda,
  exactValues,
  expectParity,
  flags,
  rand,
  withZeroWrites,
} from '../../support/cuda';
import type {Input} from '../../support/cuda';

describeCuda('cuda pointwise delta block: bit-exact parity with the cpu reference', () => {
  let saved = [false, true];
  before(() => {
    setCudaOptions({allowTF32: true});
    saved = [cudaBackend().pointwiseBlocks, cudaBackend().smallConvBlocks];
    cudaBackend().pointwiseBlocks = true; // opt-in (TFJS_DELTA_CUDA_POINTWISE=1)
    cudaBackend().smallConvBlocks = false; // 1x1 convs over 16-32 channels would take the pixel-group block first
  });
  after(() => {
    [cudaBackend().pointwiseBlocks, cudaBackend().smallConvBlocks] = saved;
  });

  const cases: Array<{x: number[]; co: number; density: number}> = [
    {x: [1, 1, 1, 4], co: 32, density: 1},
    {x: [1, 5, 7, 4], co: 32, density: 0.5},
    {x: [2, 9, 13, 24], co: 96, density: 0.3},
    {x: [3, 11, 6, 36], co: 64, density: 0.2},
    {x: [1, 17, 19, 100], co: 192, density: 0.05},
    {x: [1, 8, 4, 32], co: 128, density: 1}, // exactly one group of 32 pixels
    {x: [1, 3, 11, 64], co: 384, density: 0.9}, // one pixel past a group
    {x: [2, 23, 29, 48], co: 768, density: 0.1}, // 12 slices of 64
    {x: [1, 31, 33, 384], co: 64, density: 0.03},
    {x: [1, 12, 16, 16], co: 32, density: 0}, // nothing active
  ];
  let n = 0;
  for (const c of cases) {
    for (const mask of c.density === 1 ? ['mask', 'none'] : ['mask']) {
      const activation = ACTIVATIONS[n % ACTIVATIONS.length];
      const threshold = [0, 0.05, 0.5][n % 3];
      const lazy = n % 4 !== 3;
      n++;
      const name =
        `x[${c.x}] -> ${c.co}, ${mask === 'none' ? 'no mask' : `density ${c.density}`}, ${activation} ` +
        `threshold ${threshold}, ${lazy ? 'lazy' : 'eager'} zeros`;
      it(name, async () => {
        const outShape = [...c.x.slice(0, 3), c.co];
        const before = deltaConvStats.pointwiseBlocks;
        await withZeroWrites(lazy ? 'lazy' : 'eager', () =>
          expectParity(
            name,
            [
              exactValues(c.x, 8),
              flags(c.x.slice(0, 3), c.density),
              exactValues([1, 1, c.x[3], c.co], 16),
              rand(outShape, -3, 3),
              rand(outShape, -0.1, 0.1),
            ],
            (x, m, f, a, r) =>
              outputs(
                fusedDeltaConv2d({
                  x: (mask === 'none' ? x : withMask(x, tf.greater(m, 0.5))) as tf.Tensor4D,
                  filter: f as tf.Tensor4D,
                  strides: 1,
                  pad: 'same',
                  accumulated: a as tf.Tensor4D,
                  residual: r as tf.Tensor4D,
                  threshold,
                  activation,
                  alpha: 0.1,
                  inPlace: n % 2 === 0,
                }),
              ),
            0,
            0,
          ),
        );
        expect(deltaConvStats.pointwiseBlocks - before, 'pointwise block launched').to.equal(1);
      });
    }
  }

  it('geometries the block does not take (3x3, stride 2, 48 output channels, strict fp32) run the two kernels', async () => {
    const shapes = [
      {k: 3, s: 1, c: 16, co: 32, tf32: true},
      {k: 1, s: 2, c: 16, co: 32, tf32: true},
      {k: 1, s: 1, c: 16, co: 48, tf32: true},
      {k: 1, s: 1, c: 16, co: 32, tf32: false},
    ];
    for (const g of shapes) {
      setCudaOptions({allowTF32: g.tf32});
      const before = deltaConvStats.pointwiseBlocks;
      const x = [2, 9, 10, g.c];
      const outH = Math.ceil(9 / g.s),
        outW = Math.ceil(10 / g.s);
      await expectParity(
        `fallback ${JSON.stringify(g)}`,
        [
          exactValues(x, 8),
          flags(x.slice(0, 3), 0.3),
          exactValues([g.k, g.k, g.c, g.co], 16),
          rand([2, outH, outW, g.co], -3, 3),
          rand([2, outH, outW, g.co], -0.1, 0.1),
        ],
        (xs, m, f, a, r) =>
          outputs(
            fusedDeltaConv2d({
              x: withMask(xs, tf.greater(m, 0.5)) as tf.Tensor4D,
              filter: f as tf.Tensor4D,
              strides: g.s,
              pad: 'same',
              accumulated: a as tf.Tensor4D,
              residual: r as tf.Tensor4D,
              threshold: 0.05,
              activation: 'relu',
            }),
          ),
        0,
        0,
      );
      expect(deltaConvStats.pointwiseBlocks - before, `no pointwise block for ${JSON.stringify(g)}`).to.equal(0);
    }
    setCudaOptions({allowTF32: true});
  });

  it('a 40-frame stream of sparse frames equals the cpu reference every frame, in place', async () => {
    const [b, h, w, c, co] = [2, 14, 19, 40, 96];
    const frames = 40;
    const inputs: Input[] = [exactValues([1, 1, c, co], 16)];
    for (let t = 0; t < frames; t++) inputs.push(exactValues([b, h, w, c], 8), flags([b, h, w], 0.1 + 0.02 * (t % 5)));
    await expectParity(
      'pointwise stream',
      inputs,
      (f, ...frameInputs) => {
        let a = tf.zeros([b, h, w, co]);
        let r = tf.zeros([b, h, w, co]);
        const deltas: tf.Tensor[] = [];
        for (let t = 0; t < frames; t++) {
          const out = fusedDeltaConv2d({
            x: withMask(frameInputs[2 * t], tf.greater(frameInputs[2 * t + 1], 0.5)) as tf.Tensor4D,
            filter: f as tf.Tensor4D,
            strides: 1,
            pad: 'valid',
            accumulated: a as tf.Tensor4D,
            residual: r as tf.Tensor4D,
            threshold: 0.1,
            activation: 'relu6',
            inPlace: true,
          });
          deltas.push(out.delta);
          a = out.accumulated;
          r = out.residual;
        }
        return [...deltas, a, r];
      },
      0,
      0,
    );
  });

  it('a delta model with pointwise layers runs the block and equals the dense model at threshold 0', async () => {
    await tf.setBackend('cuda');
    const input = tfl.input({shape: [21, 27, 8]});
    const layers = [
      tfl.layers.conv2d({filters: 32, kernelSize: 3, padding: 'same', activation: 'relu'}),
      tfl.layers.conv2d({filters: 64, kernelSize: 1, activation: 'relu6'}),
      tfl.layers.conv2d({filters: 32, kernelSize: 1, activation: 'relu'}),
    ];
    const y = layers.reduce((t, layer) => layer.apply(t) as tfl.SymbolicTensor, input);
    const dense = tfl.model({inputs: input, outputs: y});
    const delta = toDelta(dense, {threshold: 0});
    const before = deltaConvStats.pointwiseBlocks;
    let frame = tf.randomUniform([2, 21, 27, 8], -1, 1);
    for (let t = 0; t < 12; t++) {
      const next = tf.tidy(() => {
        const patch = tf.pad(tf.randomUniform([2, 5, 6, 8], -0.5, 0.5), [
          [0, 0],
          [t, 16 - t],
          [t, 21 - t],
          [0, 0],
        ]);
        return tf.add(frame, patch);
      });
      frame.dispose();
      frame = next;
      const got = delta.predict(frame) as tf.Tensor;
      const want = dense.predict(frame) as tf.Tensor;
      const diff = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0];
      const scale = tf.max(tf.abs(want)).dataSync()[0];
      tf.dispose([got, want]);
      expect(diff, `frame ${t}: max |delta - dense| (scale ${scale})`).to.be.lessThan(5e-3 * scale + 1e-4);
    }
    frame.dispose();
    expect(deltaConvStats.pointwiseBlocks - before, 'pointwise blocks launched').to.be.greaterThan(10);
    delta.dispose();
    dense.dispose();
  });
});
