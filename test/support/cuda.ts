/**
 * Helpers of the 'cuda' backend tests: availability gating (skipped with the reason on machines without a GPU),
 * fresh random host inputs, and cuda-vs-cpu parity of one computation.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {cudaAvailability, setCudaOptions} from '../../src/backends/cuda/index';
import type {CudaBackend} from '../../src/backends/cuda/backend';
import {getMask, isDense, sparseAccumulate, storeHalf, withMask} from '../../src/index';
import type {Activation} from '../../src/index';
import {toDelta} from '../../src/delta/to_delta';
import type {ToDeltaOptions} from '../../src/delta/to_delta';
import {compileStream} from '../../src/stream/compile_stream';

export const cuda = cudaAvailability();

/** describe() for GPU-only suites: without a GPU, one skipped test carries the reason. */
export function describeCuda(title: string, fn: () => void): void {
  const suffix = cuda.available ? `[cuda on ${cuda.device!.name}]` : '[cuda: skipped, no GPU]';
  describe(`${title} ${suffix}`, function () {
    if (!cuda.available) {
      it(`skipped: 'cuda' backend unavailable: ${cuda.reason}`, function () {
        this.skip();
      });
      return;
    }
    let strict: string | undefined;
    before(() => {
      strict = process.env.TFJS_DELTA_STRICT_KERNELS;
      process.env.TFJS_DELTA_STRICT_KERNELS = '1'; // no silent CPU fallback in these suites
      setCudaOptions({poison: true}); // every new buffer starts as NaN: unwritten outputs show
    });
    after(async () => {
      if (strict === undefined) delete process.env.TFJS_DELTA_STRICT_KERNELS;
      else process.env.TFJS_DELTA_STRICT_KERNELS = strict;
      setCudaOptions({poison: false, allowTF32: true});
      await tf.setBackend('cpu');
    });
    fn();
  });
}

/** The registered 'cuda' backend, for tests that switch its settings. */
export function cudaBackend(): CudaBackend {
  return tf.engine().findBackend('cuda') as unknown as CudaBackend;
}

/**
 * How delta kernels write the inactive pixels of their outputs: 'lazy' leaves them to be zeroed before a dense read
 * at every size (the test shapes are small, which the default would write whole), 'eager' writes them always,
 * 'default' is the backend's size rule (CudaBackend.lazyFor).
 */
export type ZeroWrites = 'lazy' | 'eager' | 'default';

/** Runs `fn` with delta outputs written as `mode` says on the 'cuda' backend; restores the settings after. */
export async function withZeroWrites<T>(mode: ZeroWrites, fn: () => Promise<T>): Promise<T> {
  const b = cudaBackend();
  const saved = [b.lazyZeros, b.lazyZerosAbove] as const;
  b.lazyZeros = mode !== 'eager';
  if (mode === 'lazy') b.lazyZerosAbove = 0;
  try {
    return await fn();
  } finally {
    [b.lazyZeros, b.lazyZerosAbove] = saved;
  }
}

/** Fresh random values (never zeros, never the same twice). */
export function rand(shape: number[], lo = -1, hi = 1): {shape: number[]; values: Float32Array} {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = lo + (hi - lo) * Math.random();
  return {shape, values};
}

export type Input = {shape: number[]; values: Float32Array | Int32Array; dtype?: 'float32' | 'int32'};

/** Multiples of 1/`denominator` in [-8, 8] / denominator: exact in TF32, products and sums exact in float32. */
export function exactValues(shape: number[], denominator: number): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (Math.floor(Math.random() * 17) - 8) / denominator;
  return {shape, values};
}

/** Mask flags as floats (1 active, 0 not), each set with probability `density`; one at least when density > 0. */
export function flags(shape: number[], density: number): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = Math.random() < density ? 1 : 0;
  if (density > 0 && n > 0) values[Math.floor(Math.random() * n)] = 1;
  return {shape, values};
}

/** The truncating activations an accumulator takes, for tests that cycle through them. */
export const ACTIVATIONS: Activation[] = ['relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh'];

/** State an op may update in place: fresh copies the caller owns (a tidy's inputs are not the op's to change). */
export function ownState(a: tf.Tensor, r: tf.Tensor): [tf.Tensor4D, tf.Tensor4D] {
  return [tf.add(a, 0) as tf.Tensor4D, tf.add(r, 0) as tf.Tensor4D];
}

/** A delta tensor, its mask as float flags (all ones when dense) and a dense marker, for cpu/cuda comparison. */
export function withFlags(t: tf.Tensor): tf.Tensor[] {
  const m = getMask(t);
  return [t, m == null ? tf.ones(t.shape.slice(0, -1)) : tf.cast(m, 'float32'), tf.scalar(isDense(t) ? 1 : 0)];
}

/** An accumulating op's outputs: its delta withFlags, then its state. */
export function accumulatorOutputs(out: {delta: tf.Tensor; accumulated: tf.Tensor; residual: tf.Tensor}): tf.Tensor[] {
  return [...withFlags(out.delta), out.accumulated, out.residual];
}

function materialise(inputs: Input[]): tf.Tensor[] {
  return inputs.map((i) =>
    tf.tensor(i.values, i.shape, i.dtype ?? (i.values instanceof Int32Array ? 'int32' : 'float32')),
  );
}

async function runOn(backend: string, inputs: Input[], f: (...ts: tf.Tensor[]) => tf.Tensor | tf.Tensor[]) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const outs = f(...materialise(inputs));
    return (Array.isArray(outs) ? outs : [outs]).map((o) => ({shape: o.shape, dtype: o.dtype, values: o.dataSync()}));
  });
}

/**
 * Runs f on 'cpu' and on 'cuda' with the same inputs and compares: max |diff| <= atol + rtol * max |expected|.
 * NaN in the cuda output fails (poisoned buffers make unwritten elements NaN).
 */
export async function expectParity(
  context: string,
  inputs: Input[],
  f: (...ts: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  rtol = 1e-5,
  atol = 1e-6,
): Promise<void> {
  const want = await runOn('cpu', inputs, f);
  const got = await runOn('cuda', inputs, f);
  expect(got.length, `${context}: outputs`).to.equal(want.length);
  for (let o = 0; o < want.length; o++) {
    const w = want[o],
      g = got[o],
      ctx = `${context}${want.length > 1 ? ` output ${o}` : ''}`;
    expect(g.shape, `${ctx}: shape`).to.deep.equal(w.shape);
    expect(g.dtype, `${ctx}: dtype`).to.equal(w.dtype);
    let scale = 0;
    for (let i = 0; i < w.values.length; i++)
      if (Number.isFinite(w.values[i])) scale = Math.max(scale, Math.abs(w.values[i] as number));
    const bound = atol + rtol * scale;
    for (let i = 0; i < w.values.length; i++) {
      const a = g.values[i] as number,
        e = w.values[i] as number;
      if (Number.isNaN(e) && Number.isNaN(a)) continue;
      if (a === e) continue;
      const diff = Math.abs(a - e);
      if (!(diff <= bound))
        expect.fail(
          `${ctx}: element ${i} of ${w.values.length} is ${a}, expected ${e} (|diff| ${diff.toExponential(3)} > ` +
            `${bound.toExponential(3)}, max |expected| ${scale.toExponential(3)})`,
        );
    }
  }
}

/**
 * A fused delta block against 'cpu', bit for bit: its input of multiples of 1/8 (`xShape`) masked at `density`, a
 * filter of multiples of 1/16 (`filterShape`: every conv sum exact in float32, in any order), its state (`outShape`)
 * drawn at full precision and owned by the block (updated in place); compares the delta, its flags and the state.
 */
export function expectBlockParity(
  context: string,
  xShape: number[],
  filterShape: number[],
  outShape: number[],
  density: number,
  block: (
    x: tf.Tensor4D,
    filter: tf.Tensor4D,
    a: tf.Tensor4D,
    r: tf.Tensor4D,
  ) => {delta: tf.Tensor; accumulated: tf.Tensor; residual: tf.Tensor},
): Promise<void> {
  return expectParity(
    context,
    [
      exactValues(xShape, 8),
      flags(xShape.slice(0, 3), density),
      exactValues(filterShape, 16),
      rand(outShape, -3, 3),
      rand(outShape, -0.1, 0.1),
    ],
    (x, m, f, a, r) => {
      const [ownA, ownR] = ownState(a, r);
      return accumulatorOutputs(block(withMask(x, tf.greater(m, 0.5)) as tf.Tensor4D, f as tf.Tensor4D, ownA, ownR));
    },
    0,
    0,
  );
}

/** A fused delta block's op: a delta conv with its accumulator, the state `a`, `r` updated in place. */
export type DeltaBlock = (
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  a: tf.Tensor4D,
  r: tf.Tensor4D,
) => {delta: tf.Tensor; accumulated: tf.Tensor; residual: tf.Tensor};

/**
 * A 12-frame stream through `block` (the state zeros at first, then updated in place; lazy zeros) against the 'cpu'
 * reference bit for bit: inputs of multiples of 1/8 changing at 5-35% of the pixels, a filter of multiples of 1/16;
 * every frame's delta and the final state are compared.
 */
export function expectStreamParity(
  context: string,
  xShape: number[],
  filterShape: number[],
  outShape: [number, number, number, number],
  block: DeltaBlock,
): Promise<void> {
  const frames = 12;
  const inputs: Input[] = [exactValues(filterShape, 16)];
  for (let t = 0; t < frames; t++) inputs.push(exactValues(xShape, 8), flags(xShape.slice(0, 3), 0.05 + 0.1 * (t % 4)));
  return withZeroWrites('lazy', () =>
    expectParity(
      context,
      inputs,
      (f, ...frameInputs) => {
        let a = tf.zeros(outShape) as tf.Tensor4D;
        let r = tf.zeros(outShape) as tf.Tensor4D;
        const deltas: tf.Tensor[] = [];
        for (let t = 0; t < frames; t++) {
          const x = withMask(frameInputs[2 * t], tf.greater(frameInputs[2 * t + 1], 0.5)) as tf.Tensor4D;
          const out = block(x, f as tf.Tensor4D, a, r);
          deltas.push(out.delta);
          a = out.accumulated as tf.Tensor4D;
          r = out.residual as tf.Tensor4D;
        }
        return [...deltas, a, r];
      },
      0,
      0,
    ),
  );
}

/** How expectStreamEqualsTwoKernels draws its stream: the zero writes, the state's precision, the values. */
export interface StreamOptions {
  zeros: ZeroWrites;
  precision: 'fp32' | 'fp16';
  /**
   * 'exact': multiples of 1/8 (inputs) and 1/16 (filter), whose conv sums are exact in any order (for paths that sum
   * in another order or precision); 'random': full-precision values, whose sums are the same only in the same order.
   */
  values: 'exact' | 'random';
}

/**
 * A 12-frame stream through `block` twice, once with a fused path on and once with it off (the two kernels it
 * replaces; `useFused(on)` switches it), on the same inputs, changing at 30% of the pixels: every output of every
 * frame must be the same bit for bit.
 */
export async function expectStreamEqualsTwoKernels(
  xShape: number[],
  filterShape: [number, number, number, number],
  outShape: [number, number, number, number],
  options: StreamOptions,
  block: DeltaBlock,
  useFused: (on: boolean) => void,
): Promise<void> {
  await tf.setBackend('cuda');
  const draw = (shape: number[], denominator: number) =>
    options.values === 'exact' ? exactValues(shape, denominator) : rand(shape);
  const filter = tf.tensor4d(draw(filterShape, 16).values as Float32Array, filterShape);
  const state = () =>
    tf.tidy(() => {
      const zeros = [tf.zeros(outShape), tf.zeros(outShape)];
      return (options.precision === 'fp16' ? zeros.map((t) => storeHalf(t)) : zeros) as tf.Tensor4D[];
    });
  let [fused, split] = [state(), state()];
  try {
    await withZeroWrites(options.zeros, async () => {
      for (let t = 0; t < 12; t++) {
        const next = tf.tidy(() => {
          const v = draw(xShape, 8);
          const m = flags(xShape.slice(0, 3), 0.3);
          const x = withMask(tf.tensor(v.values, xShape), tf.greater(tf.tensor(m.values, m.shape), 0.5)) as tf.Tensor4D;
          const f = block(x, filter, fused[0], fused[1]);
          useFused(false);
          let s;
          try {
            s = block(x, filter, split[0], split[1]);
          } finally {
            useFused(true);
          }
          const [fd, sd] = [accumulatorOutputs(f), accumulatorOutputs(s)].map((ts) =>
            ts.map((o) => Array.from(o.dataSync() as Float32Array)),
          );
          fd.forEach((values, o) =>
            values.forEach((e, i) => {
              if (!Object.is(e, sd[o][i]))
                expect.fail(`frame ${t} output ${o} element ${i}: ${e} fused, ${sd[o][i]} from the two kernels`);
            }),
          );
          return [f.accumulated, f.residual, s.accumulated, s.residual] as tf.Tensor4D[];
        });
        tf.dispose([...fused, ...split]); // updated in place: the new tensors share their buffers
        [fused, split] = [next.slice(0, 2), next.slice(2)];
      }
    });
  } finally {
    tf.dispose([...fused, ...split, filter]);
  }
}

/**
 * sparseAccumulate against 'cpu', bit for bit: a delta of multiples of 1/8 masked at `density`, state drawn at full
 * precision; `inPlace`: the state is owned by the op and updated where it lies, else new state tensors.
 */
export function expectAccumulateParity(
  context: string,
  shape: number[],
  density: number,
  attrs: {threshold: number; activation: Activation; alpha: number},
  inPlace: boolean,
): Promise<void> {
  return expectParity(
    context,
    [exactValues(shape, 8), flags(shape.slice(0, 3), density), rand(shape, -3, 3), rand(shape, -0.1, 0.1)],
    (d, m, a, r) => {
      const [ownA, ownR] = inPlace ? ownState(a, r) : [a, r];
      return accumulatorOutputs(sparseAccumulate(ownA, ownR, withMask(d, tf.greater(m, 0.5)), {...attrs, inPlace}));
    },
    0,
    0,
  );
}

/**
 * `model` as a delta model (`options`) stepped by a compiled stream over `frames`: each step's output read back (a
 * copy); the stream and the delta model are disposed after.
 */
export function compiledStreamOutputs(
  model: tfl.LayersModel,
  frames: tf.Tensor[],
  options: ToDeltaOptions,
): Float32Array[] {
  const delta = toDelta(model, options);
  const stream = compileStream(delta);
  try {
    return frames.map((f) => {
      const o = stream.step(f) as tf.Tensor;
      const v = (o.dataSync() as Float32Array).slice();
      o.dispose();
      return v;
    });
  } finally {
    stream.dispose();
    delta.dispose();
  }
}

/**
 * `count` frames of `shape` [n, h, w, c]: one still frame (uniform in [0, 1), seed `seeds.still`) of which each frame
 * changes the pixels where a uniform draw exceeds `stillBelow` (seed `seeds.moved` + i) by up to +-0.5 (seed
 * `seeds.change` + i): a static camera's sparse changes, the same on every run.
 */
export function sparselyChangingFrames(
  shape: number[],
  count: number,
  stillBelow: number,
  seeds: {still: number; moved: number; change: number},
): tf.Tensor[] {
  const pixels = [...shape.slice(0, 3), 1];
  return Array.from({length: count}, (_, i) =>
    tf.tidy(() => {
      const base = tf.randomUniform(shape, 0, 1, 'float32', seeds.still);
      const moved = tf.cast(
        tf.greater(tf.randomUniform(pixels, 0, 1, 'float32', seeds.moved + i), stillBelow),
        'float32',
      );
      return tf.add(base, tf.mul(moved, tf.randomUniform(shape, -0.5, 0.5, 'float32', seeds.change + i)));
    }),
  );
}
