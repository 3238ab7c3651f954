/**
 * What is specific to the 'tensorflow' kernels (kernels/tensorflow/), beyond the shared parity
 * suites:
 *  - no leaked TF tensor handles (the binding's count) or engine tensors, per op;
 *  - no host round trip inside a kernel (no readSync/read of the backend) but the one read of
 *    their activity by the delta convs and sparseAccumulate;
 *  - the same results as the CPU reference kernels, values and masks, on identical inputs: in
 *    particular for what tfjs-node's own dense kernels cannot express and the parity suites
 *    therefore cannot check on this backend (numeric pads, dimRoundingMode, pads larger than the
 *    window, negative 3-D 'same' pads), the flush decision exactly at the threshold, and delta
 *    chains whose masks propagate through several ops over several frames.
 * Inputs use fixed seeds, so mask comparisons are exact and repeatable.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import type {NodeBackend} from '../../src/kernels/tensorflow/tf_ops';
import {floatBelow} from '../../src/kernels/tensorflow/SparseAccumulate';
import {setTensorflowDeltaConvOptions} from '../../src/kernels/tensorflow/delta_conv_impl';
import {tensorflowNativeOps} from '../../src/kernels/tensorflow/native_ops';
import {
  conv3dGated,
  deltaConv2d,
  deltaConv2dTranspose,
  deltaDepthwiseConv2d,
  deltaMaxPool,
  deltaSparsify,
  fusedDeltaConv2d,
  getMask,
  isDense,
  sparseAccumulate,
  withMask,
} from '../../src/index';
import type {Activation, Pad3D, PadSpec2D, SparseAccumulateResult} from '../../src/index';
import {describeIfBackend, runSuiteOn} from '../support/backends';
import {seededRandom} from '../support/util';

function onTileRoute(fn: () => tf.Tensor[]): tf.Tensor[] {
  const previous = setTensorflowDeltaConvOptions({route: 'tile'});
  try {
    return fn();
  } finally {
    setTensorflowDeltaConvOptions(previous);
  }
}

/** Host data for one input, so every backend gets the very same values and mask. */
interface HostTensor {
  shape: number[];
  values: Float32Array;
  /** One flag per pixel (shape[:-1]); absent = dense. */
  mask?: Uint8Array;
}

function hostRandom(shape: number[], seed: number, scale = 1, fraction?: number): HostTensor {
  const next = seededRandom(seed);
  const values = Float32Array.from({length: shape.reduce((a, b) => a * b, 1)}, () => (next() * 2 - 1) * scale);
  if (fraction == null) return {shape, values};
  const c = shape[shape.length - 1];
  const mask = Uint8Array.from({length: values.length / c}, () => (next() < fraction ? 1 : 0));
  mask.forEach((m, p) => {
    if (!m) values.fill(0, p * c, (p + 1) * c);
  });
  return {shape, values, mask};
}

/** The tensor on the active backend, carrying its mask. */
function materialize(h: HostTensor): tf.Tensor {
  const t = tf.tensor(h.values, h.shape, 'float32');
  if (h.mask == null) return t;
  return tf.tidy(() => withMask(t, tf.tensor(h.mask!, h.shape.slice(0, -1), 'bool')));
}

interface Result {
  shape: number[];
  values: Float32Array;
  mask: Uint8Array | null;
}

function read(t: tf.Tensor): Result {
  const m = getMask(t);
  const mask = m == null ? null : Uint8Array.from(m.dataSync());
  m?.dispose();
  return {shape: t.shape, values: t.dataSync() as Float32Array, mask};
}

/** Runs `fn` on the inputs materialized on `backend`, returns its outputs read back. */
function runOn(backend: string, inputs: HostTensor[], fn: (...xs: tf.Tensor[]) => tf.Tensor[]): Result[] {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    const outputs = tf.tidy(() => fn(...inputs.map(materialize)));
    const results = outputs.map(read);
    tf.dispose(outputs);
    return results;
  } finally {
    tf.setBackend(previous);
  }
}

function expectSameResults(want: Result[], got: Result[], context: string, tol = 1e-5): void {
  expect(got.length, `${context}: outputs`).to.equal(want.length);
  want.forEach((w, i) => {
    const g = got[i];
    const ctx = `${context} output ${i}`;
    expect(g.shape, `${ctx}: shape`).to.deep.equal(w.shape);
    expect(g.mask == null, `${ctx}: dense on tensorflow iff dense on cpu`).to.equal(w.mask == null);
    if (w.mask != null) {
      const diff = w.mask.findIndex((m, p) => m !== g.mask![p]);
      if (diff >= 0)
        expect.fail(`${ctx}: mask pixel ${diff} is ${g.mask![diff]} on tensorflow, ${w.mask[diff]} on cpu`);
    }
    let scale = 0;
    w.values.forEach((v) => {
      scale = Math.max(scale, Math.abs(v));
    });
    w.values.forEach((v, j) => {
      const bound = tol * (1 + scale);
      if (!(Math.abs(g.values[j] - v) <= bound)) {
        expect.fail(`${ctx}: element ${j} is ${g.values[j]} on tensorflow, ${v} on cpu (bound ${bound})`);
      }
      // Exact zeros where inactive: the sign too (-0 is not what the reference writes).
      if (
        v === 0 &&
        w.mask != null &&
        !w.mask[Math.floor(j / w.shape[w.shape.length - 1])] &&
        !Object.is(g.values[j], 0)
      ) {
        expect.fail(`${ctx}: inactive element ${j} is ${g.values[j]}, not +0`);
      }
    });
  });
}

/** Asserts the op gives the CPU reference's outputs (values and masks) on this backend. */
function expectMatchesCpu(
  context: string,
  inputs: HostTensor[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor[],
  tol = 1e-5,
): void {
  expectSameResults(runOn('cpu', inputs, fn), runOn('tensorflow', inputs, fn), context, tol);
}

describeIfBackend('tensorflow', 'tensorflow backend kernels', () => {
  runSuiteOn('tensorflow');

  const nodeBackend = () => tf.backend() as NodeBackend;

  interface LeakInputs {
    x: tf.Tensor4D;
    filter: tf.Tensor4D;
    pwFilter: tf.Tensor4D;
    dwFilter: tf.Tensor4D;
    bias: tf.Tensor1D;
    acc: tf.Tensor4D;
    zeros: tf.Tensor4D;
    x5: tf.Tensor5D;
    filter5: tf.Tensor5D;
    gateKernel: tf.Tensor2D;
    gateBias: tf.Tensor1D;
  }
  const leakInputs = (): LeakInputs => ({
    x: materialize(hostRandom([2, 7, 9, 4], 1, 1, 0.3)) as tf.Tensor4D,
    filter: materialize(hostRandom([3, 3, 4, 4], 2)) as tf.Tensor4D,
    pwFilter: materialize(hostRandom([1, 1, 4, 4], 10)) as tf.Tensor4D,
    dwFilter: materialize(hostRandom([3, 3, 4, 2], 3)) as tf.Tensor4D,
    bias: materialize(hostRandom([4], 4)) as tf.Tensor1D,
    acc: materialize(hostRandom([2, 7, 9, 4], 5)) as tf.Tensor4D,
    zeros: tf.zeros([2, 7, 9, 4]),
    x5: materialize(hostRandom([1, 3, 6, 6, 4], 6)) as tf.Tensor5D,
    filter5: materialize(hostRandom([3, 3, 3, 4, 4], 7)) as tf.Tensor5D,
    gateKernel: materialize(hostRandom([4, 4], 8)) as tf.Tensor2D,
    gateBias: materialize(hostRandom([4], 9)) as tf.Tensor1D,
  });
  /** One call of every op on small inputs: [name, call returning every output]. */
  const calls: Array<[string, (i: LeakInputs) => tf.Tensor[]]> = [
    ['deltaConv2d', (i) => [deltaConv2d(i.x, i.filter, 2, 1, 'NHWC', 1, 'ceil')]],
    ['deltaConv2d + bias', (i) => [deltaConv2d(i.x, i.filter, 1, 'same', 'NHWC', 1, undefined, i.bias)]],
    ['deltaDepthwiseConv2d', (i) => [deltaDepthwiseConv2d(i.x, i.dwFilter, 1, 'same', 'NHWC', 2)]],
    ['deltaConv2d tile route', (i) => onTileRoute(() => [deltaConv2d(i.x, i.filter, 2, 1, 'NHWC', 1, 'ceil')])],
    [
      'deltaDepthwiseConv2d tile route',
      (i) => onTileRoute(() => [deltaDepthwiseConv2d(i.x, i.dwFilter, 1, 'same', 'NHWC', 2)]),
    ],
    ['deltaConv2dTranspose', (i) => [deltaConv2dTranspose(i.x, i.filter, [2, 14, 18, 4], 2, 1)]],
    [
      'sparseAccumulate',
      (i) => Object.values(sparseAccumulate(i.acc, i.zeros, i.x, {threshold: 0.1, activation: 'relu'})),
    ],
    ['deltaMaxPool', (i) => Object.values(deltaMaxPool(i.acc, i.x, 3, 2, 'same'))],
    ['deltaConv2d 1x1', (i) => [deltaConv2d(i.x, i.pwFilter, 1, 'same')]],
    [
      'fusedDeltaConv2d 1x1',
      (i) =>
        Object.values(
          fusedDeltaConv2d({
            x: i.x,
            filter: i.pwFilter,
            strides: 1,
            pad: 'same',
            accumulated: i.acc,
            residual: i.zeros,
            threshold: 0.1,
            activation: 'relu',
          }),
        ),
    ],
    ['deltaSparsify', (i) => Object.values(deltaSparsify(i.acc, i.zeros, {threshold: 0.5, dilation: 3}))],
    [
      'conv3dGated',
      (i) => [
        conv3dGated({
          x: i.x5,
          filter: i.filter5,
          gateKernel: i.gateKernel,
          gateBias: i.gateBias,
          strides: [1, 2, 2],
          pad: 1,
        }),
      ],
    ],
    [
      'conv3dGated transposed',
      (i) => [
        conv3dGated({
          x: i.x5,
          filter: i.filter5,
          bias: i.gateBias,
          gateKernel: i.gateKernel,
          gateBias: i.gateBias,
          strides: [1, 2, 2],
          pad: 'same',
          transpose: true,
          activation: 'leakyRelu',
        }),
      ],
    ],
  ];

  for (const [name, call] of calls) {
    it(`${name}: frees every intermediate TF handle and engine tensor`, () => {
      const inputs = leakInputs();
      const binding = nodeBackend().binding;
      tf.dispose(call(inputs)); // warm-up: uploads the inputs
      const handles = binding.getNumOfTensors();
      const tensors = tf.memory().numTensors;
      const outputs = call(inputs);
      const masks = outputs.filter((t) => !isDense(t)).length;
      // While the outputs live: their handles and their masks', nothing else (a mask made from host flags
      // is uploaded when first used, so it may hold no TF handle yet).
      expect(binding.getNumOfTensors() - handles, 'TF handles held by the outputs').to.be.within(
        outputs.length,
        outputs.length + masks,
      );
      expect(tf.memory().numTensors - tensors, 'engine tensors held by the outputs').to.equal(outputs.length + masks);
      tf.dispose(outputs);
      expect(binding.getNumOfTensors(), 'TF handles after disposing the outputs').to.equal(handles);
      expect(tf.memory().numTensors, 'engine tensors after disposing the outputs').to.equal(tensors);
      tf.dispose(Object.values(inputs));
    });
  }

  it("kernels read nothing back to the host but the TF-op routes' activity, once a call", () => {
    const backend = nodeBackend();
    const inputs = leakInputs();
    tf.dispose(calls.flatMap(([, call]) => call(inputs))); // uploads the inputs first
    // The TF-op routes of a masked delta conv or accumulate read its activity; a biased (dense) conv needs nothing;
    // tfjs-delta's native ops (depthwise and 1x1 convs, the reach of a conv of fewer than 8 input channels as this
    // one, the accumulate, the input test) read nothing.
    const native = tensorflowNativeOps() != null;
    const expected: Record<string, number> = {
      deltaConv2d: native ? 0 : 1,
      deltaDepthwiseConv2d: native ? 0 : 1,
      'deltaConv2d tile route': 1,
      'deltaDepthwiseConv2d tile route': 1,
      sparseAccumulate: native ? 0 : 1,
      'deltaConv2d 1x1': native ? 0 : 1,
      'fusedDeltaConv2d 1x1': native ? 0 : 2,
    };
    const readSync = backend.readSync;
    const readAsync = backend.read;
    try {
      for (const [name, call] of calls) {
        let reads = 0;
        backend.readSync = (dataId) => {
          reads++;
          return readSync.call(backend, dataId);
        };
        backend.read = (dataId) => {
          reads++;
          return readAsync.call(backend, dataId);
        };
        tf.dispose(call(inputs));
        expect(reads, `${name}: host reads`).to.equal(expected[name] ?? 0);
      }
    } finally {
      backend.readSync = readSync;
      backend.read = readAsync;
    }
    tf.dispose(Object.values(inputs));
  });

  describe('same results as the cpu reference kernels', () => {
    const convCases: Array<{k: number; s: number; d: number; pad: PadSpec2D; mode?: 'floor' | 'ceil' | 'round'}> = [
      {k: 3, s: 2, d: 1, pad: 1, mode: 'ceil'},
      {k: 3, s: 2, d: 1, pad: 1, mode: 'round'},
      {k: 3, s: 2, d: 1, pad: 2, mode: 'floor'},
      {k: 3, s: 1, d: 1, pad: 4}, // windows wholly in the padding: inactive, zero
      {k: 5, s: 1, d: 2, pad: 3},
      {
        k: 4,
        s: 3,
        d: 1,
        pad: [
          [0, 0],
          [3, 0],
          [0, 2],
          [0, 0],
        ],
      },
      {k: 2, s: 2, d: 1, pad: 'same'},
      {k: 3, s: 3, d: 1, pad: 'valid'},
    ];
    convCases.forEach((c, i) => {
      const label = `k${c.k} s${c.s} d${c.d} pad ${JSON.stringify(c.pad)}${c.mode ? ` ${c.mode}` : ''}`;
      it(`deltaConv2d and deltaDepthwiseConv2d, ${label}`, () => {
        const x = hostRandom([2, 11, 10, 5], 100 + i, 1, 0.2);
        expectMatchesCpu(`deltaConv2d ${label}`, [x, hostRandom([c.k, c.k, 5, 6], 200 + i, 0.5)], (xt, f) => [
          deltaConv2d(xt as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d, c.mode),
        ]);
        expectMatchesCpu(`deltaDepthwiseConv2d ${label}`, [x, hostRandom([c.k, c.k, 5, 2], 300 + i, 0.5)], (xt, f) => [
          deltaDepthwiseConv2d(xt as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d, c.mode),
        ]);
        expectMatchesCpu(
          `deltaConv2d ${label} dense input + bias`,
          [hostRandom([2, 11, 10, 5], 400 + i), hostRandom([c.k, c.k, 5, 6], 200 + i, 0.5), hostRandom([6], 500 + i)],
          (xt, f, b) => [
            deltaConv2d(xt as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d, c.mode, b as tf.Tensor1D),
          ],
        );
      });
    });

    const transposeCases: Array<{
      k: number;
      s: number;
      pad: PadSpec2D;
      out: [number, number];
      mode?: 'ceil' | 'round';
    }> = [
      {k: 3, s: 2, pad: 1, out: [13, 11]},
      {k: 3, s: 2, pad: 1, out: [12, 10], mode: 'ceil'},
      {k: 4, s: 2, pad: 'same', out: [14, 12]},
      {k: 5, s: 3, pad: 'valid', out: [23, 20]},
      {
        k: 3,
        s: 1,
        pad: [
          [0, 0],
          [2, 0],
          [1, 1],
          [0, 0],
        ],
        out: [7, 6],
      },
    ];
    transposeCases.forEach((c, i) => {
      const label = `k${c.k} s${c.s} pad ${JSON.stringify(c.pad)} out ${c.out}${c.mode ? ` ${c.mode}` : ''}`;
      it(`deltaConv2dTranspose, ${label}`, () => {
        const f = hostRandom([c.k, c.k, 3, 4], 600 + i, 0.5);
        const shape: [number, number, number, number] = [2, ...c.out, 3];
        const run = (xt: tf.Tensor, ft: tf.Tensor, b?: tf.Tensor) => [
          deltaConv2dTranspose(xt as tf.Tensor4D, ft as tf.Tensor4D, shape, c.s, c.pad, c.mode, b as tf.Tensor1D),
        ];
        expectMatchesCpu(`deltaConv2dTranspose ${label}`, [hostRandom([2, 7, 6, 4], 700 + i, 1, 0.25), f], run);
        expectMatchesCpu(
          `deltaConv2dTranspose ${label} + bias`,
          [hostRandom([2, 7, 6, 4], 700 + i, 1, 0.25), f, hostRandom([3], 800 + i)],
          run,
        );
      });
    });

    const poolCases: Array<{k: number; s: number; pad: PadSpec2D; mode?: 'ceil' | 'round'}> = [
      {k: 3, s: 2, pad: 1, mode: 'ceil'},
      {k: 2, s: 2, pad: 'same'},
      {
        k: 3,
        s: 1,
        pad: [
          [0, 0],
          [2, 0],
          [0, 1],
          [0, 0],
        ],
      },
      {k: 2, s: 3, pad: 'valid'},
      {k: 2, s: 1, pad: 2}, // pads as large as the window: TF refuses them as explicit pool pads
    ];
    poolCases.forEach((c, i) => {
      const label = `pool ${c.k} strides ${c.s} pad ${JSON.stringify(c.pad)}${c.mode ? ` ${c.mode}` : ''}`;
      it(`deltaMaxPool, ${label}`, () => {
        expectMatchesCpu(
          `deltaMaxPool ${label}`,
          [hostRandom([2, 11, 9, 5], 900 + i), hostRandom([2, 11, 9, 5], 950 + i, 1, 0.1)],
          (a, d) => Object.values(deltaMaxPool(a as tf.Tensor4D, d as tf.Tensor4D, c.k, c.s, c.pad, c.mode)),
          0,
        );
      });
    });

    const activations: Activation[] = ['linear', 'relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh'];
    activations.forEach((activation, i) => {
      it(`sparseAccumulate ${activation}, sparse and dense deltas, thresholds 0 and 0.3`, () => {
        for (const threshold of [0, 0.3]) {
          for (const fraction of [0.4, undefined]) {
            const shape = [2, 6, 7, 9];
            expectMatchesCpu(
              `sparseAccumulate ${activation} threshold ${threshold} ${fraction ? 'sparse' : 'dense'}`,
              [
                hostRandom(shape, 1000 + i, 4),
                hostRandom(shape, 1100 + i, 0.2),
                hostRandom(shape, 1200 + i, 1, fraction),
              ],
              (a, r, d) => Object.values(sparseAccumulate(a, r, d, {threshold, activation, alpha: 0.1})),
              1e-6,
            );
          }
        }
      });
    });

    it('sparseAccumulate flushes a change of exactly the threshold when float32 rounds it above (compare in float64)', () => {
      // fround(0.1) > 0.1 and fround(0.3) > 0.3: the reference (float64) flushes these; 0.7's
      // float32 is below 0.7 and is held. A naive float32 compare would hold all three.
      expect(floatBelow(0.1)).to.be.below(0.1);
      expect(floatBelow(0.7)).to.equal(Math.fround(0.7));
      expect(floatBelow(0)).to.equal(0);
      for (const t of [0.1, 0.3, 0.7]) {
        const d: HostTensor = {shape: [1, 1, 3, 2], values: Float32Array.from([t, 0, 0, -t, t / 2, 0])};
        const zeros: HostTensor = {shape: [1, 1, 3, 2], values: new Float32Array(6)};
        const fn = (a: tf.Tensor, r: tf.Tensor, dt: tf.Tensor) =>
          Object.values(sparseAccumulate(a, r, dt, {threshold: t}));
        const want = runOn('cpu', [zeros, zeros, d], fn);
        expect(Array.from(want[0].mask!), `cpu mask at threshold ${t}`).to.deep.equal(
          Math.fround(t) > t ? [1, 1, 0] : [0, 0, 0],
        );
        expectSameResults(want, runOn('tensorflow', [zeros, zeros, d], fn), `threshold ${t}`, 0);
      }
    });

    const gatedCases: Array<{
      k: [number, number, number];
      s: [number, number, number];
      pad: Pad3D;
      transpose: boolean;
      x: number[];
    }> = [
      // 'same' with kernel < stride on even sizes: tfjs resolves negative pads (a crop).
      {k: [1, 1, 1], s: [2, 2, 2], pad: 'same', transpose: false, x: [1, 4, 6, 8, 3]},
      {k: [1, 2, 2], s: [2, 2, 2], pad: 'same', transpose: true, x: [2, 2, 3, 4, 3]},
      {
        k: [3, 3, 3],
        s: [1, 2, 2],
        pad: [
          [0, 0],
          [1, 1],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
        transpose: false,
        x: [1, 4, 9, 7, 3],
      },
      {k: [3, 4, 4], s: [1, 2, 2], pad: 1, transpose: true, x: [1, 3, 5, 4, 3]},
      {k: [3, 3, 3], s: [2, 2, 2], pad: 'valid', transpose: false, x: [2, 5, 7, 6, 3]},
    ];
    gatedCases.forEach((c, i) => {
      const label = `${c.transpose ? 'transposed ' : ''}k[${c.k}] s[${c.s}] pad ${JSON.stringify(c.pad)} x[${c.x}]`;
      it(`conv3dGated ${label}, every activation, with and without bias`, () => {
        const filter = hostRandom(c.transpose ? [...c.k, 4, 3] : [...c.k, 3, 4], 1300 + i, 0.4);
        for (const activation of activations) {
          for (const withBias of [true, false]) {
            const inputs = [
              hostRandom(c.x, 1400 + i),
              filter,
              hostRandom([4, 4], 1500 + i),
              hostRandom([4], 1600 + i),
              hostRandom([4], 1700 + i),
            ];
            expectMatchesCpu(`conv3dGated ${label} ${activation} bias ${withBias}`, inputs, (x, f, w, bg, b) => [
              conv3dGated({
                x: x as tf.Tensor5D,
                filter: f as tf.Tensor5D,
                gateKernel: w,
                gateBias: bg,
                bias: withBias ? b : undefined,
                strides: c.s,
                pad: c.pad,
                transpose: c.transpose,
                activation,
                alpha: 0.1,
              }),
            ]);
          }
        }
      });
    });

    it('a delta chain over 6 frames: sparsify, conv, relu accumulate, max pool, transposed conv, densify', () => {
      const shape = [2, 12, 10, 3];
      const weights = [hostRandom([3, 3, 3, 8], 1800, 0.4), hostRandom([4, 4, 4, 8], 1801, 0.4)];
      const frames = Array.from({length: 6}, (_, t) =>
        hostRandom(shape, 1900 + t, t === 0 ? 1 : 0.3, t === 0 ? undefined : 0.15),
      );
      const chain = (...xs: tf.Tensor[]): tf.Tensor[] => {
        const [f1, f2, ...deltas] = xs;
        let state: tf.Tensor[] | null = null;
        const outputs: tf.Tensor[] = [];
        let input = tf.zeros(shape);
        for (const frame of deltas) {
          input = tf.add(input, frame);
          const [inA, inR, reluA, reluR, poolA, outA]: tf.Tensor[] = state ?? [
            tf.zeros(shape),
            tf.zeros(shape),
            tf.zeros([2, 12, 10, 8]),
            tf.zeros([2, 12, 10, 8]),
            tf.zeros([2, 12, 10, 8]),
            tf.zeros([2, 12, 10, 4]),
          ];
          const sparse: SparseAccumulateResult = sparseAccumulate(inA, inR, tf.sub(input, tf.add(inA, inR)), {
            threshold: 0.2,
          });
          const conv: tf.Tensor4D = deltaConv2d(sparse.delta as tf.Tensor4D, f1 as tf.Tensor4D, 1, 'same');
          const relu: SparseAccumulateResult = sparseAccumulate(reluA, reluR, conv, {
            threshold: 0.05,
            activation: 'relu',
          });
          const pool = deltaMaxPool(poolA as tf.Tensor4D, relu.delta as tf.Tensor4D, 2);
          const up = deltaConv2dTranspose(pool.delta, f2 as tf.Tensor4D, [2, 12, 10, 4], 2, 'same');
          const out: SparseAccumulateResult = sparseAccumulate(outA, tf.zerosLike(outA), up);
          state = [
            sparse.accumulated,
            sparse.residual,
            relu.accumulated,
            relu.residual,
            pool.accumulated,
            out.accumulated,
          ];
          outputs.push(sparse.delta, conv, relu.delta, pool.delta, up, out.accumulated);
        }
        return outputs;
      };
      expectMatchesCpu('delta chain', [...weights, ...frames], chain, 1e-5);
    });
  });
});
