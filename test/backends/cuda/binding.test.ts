/**
 * The addon's named-argument entries (native/cuda/bindings/): a missing or mistyped field throws an Error naming
 * the entry and the field, never a crash, and the backend keeps working afterwards. Needs a GPU (the entries run
 * on an initialised device); skipped with the reason otherwise.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import type {CudaBackend} from '../../../src/backends/cuda/backend';
import {describeCuda} from '../../support/cuda';

/** The binding with its argument types erased: these calls pass what the TypeScript types would refuse. */
type Untyped = Record<string, (...args: unknown[]) => unknown>;

describeCuda('cuda binding: named arguments', () => {
  let raw: Untyped;
  before(async () => {
    await tf.setBackend('cuda');
    raw = (tf.backend() as CudaBackend).n as unknown as Untyped;
  });

  const unaryArgs = {op: 1, x: 0, y: 0, n: 0, alpha: 0};

  it('names the entry and a missing field', () => {
    const {alpha: _alpha, ...noAlpha} = unaryArgs;
    expect(() => raw.unary(noAlpha)).to.throw(Error, /^tfjs-delta cuda\.unary: missing field 'alpha' \(a number\)$/);
    expect(() => raw.sparseAccumulate({a: 0, r: 0, d: 0, mask: 0})).to.throw(
      Error,
      /^tfjs-delta cuda\.sparseAccumulate: missing field 'outD'/,
    );
    expect(() => raw.free({})).to.throw(Error, /^tfjs-delta cuda\.free: missing field 'ptr'/);
  });

  it('names the entry and a mistyped field, with the type it got', () => {
    expect(() => raw.unary({...unaryArgs, n: '4'})).to.throw(
      Error,
      /^tfjs-delta cuda\.unary: field 'n' must be a number, got string$/,
    );
    expect(() => raw.anyAll({isAll: 1, x: 0, y: 0, outer: 0, r: 0, inner: 0})).to.throw(
      Error,
      /^tfjs-delta cuda\.anyAll: field 'isAll' must be a boolean, got number$/,
    );
    expect(() => raw.unary({...unaryArgs, half: 'yes'})).to.throw(
      Error,
      /^tfjs-delta cuda\.unary: field 'half' must be a boolean, got string$/,
    );
    expect(() =>
      raw.binary({op: 0, dtype: 0, a: 0, b: 0, out: 0, outShape: [1, 'x'], aStrides: [1, 1], bStrides: [1, 1]}),
    ).to.throw(Error, /^tfjs-delta cuda\.binary: field 'outShape' must be an array of numbers, element 1 is string$/);
    expect(() => raw.upload({dst: 0, values: [1, 2]})).to.throw(
      Error,
      /^tfjs-delta cuda\.upload: field 'values' must be a TypedArray, got object$/,
    );
  });

  it('names a field of a nested object by its path', () => {
    expect(() => raw.deltaConvMask({geometry: {mode: 0, n: 1}, mask: 0, outMask: 0})).to.throw(
      Error,
      /^tfjs-delta cuda\.deltaConvMask: missing field 'geometry\.h' \(a number\)$/,
    );
    expect(() => raw.deltaConvMask({geometry: 3, mask: 0, outMask: 0})).to.throw(
      Error,
      /^tfjs-delta cuda\.deltaConvMask: field 'geometry' must be an object of named fields, got number$/,
    );
  });

  it('refuses positional arguments and says what it expects', () => {
    expect(() => raw.unary(1, 0, 0, 0, 0)).to.throw(
      Error,
      /^tfjs-delta cuda\.unary: expects one object of named fields, got 5 argument\(s\), the first a number$/,
    );
    expect(() => raw.planLaunch()).to.throw(
      Error,
      /^tfjs-delta cuda\.planLaunch: expects one object of named fields, got 0/,
    );
  });

  it('survives the failed calls: kernels still run', () => {
    for (let i = 0; i < 100; i++) expect(() => raw.clip({x: 0, y: 0, n: 0, lo: 0})).to.throw(/missing field 'hi'/);
    expect(Array.from(tf.relu(tf.tensor([-1, 2])).dataSync())).to.deep.equal([0, 2]);
  });
});
