/**
 * The kernel-name table (ops/kernel_names.ts DELTA_KERNELS) against what importing the package registers: each delta
 * op has its kernel on 'cpu' and 'tensorflow' and a gradient that refuses, naming the op and its dense twin; and no
 * kernel name is left out of the table.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {kernelNames} from '../../src/index';

const {DELTA_KERNELS} = kernelNames;

describe('the delta kernel table', () => {
  // Not delta ops: Conv3DGated is differentiable, the frame byte conversions sit outside any model, StoreHalf only
  // stores delta state.
  const others = [
    kernelNames.Conv3DGated,
    kernelNames.FramesFromBytes,
    kernelNames.FramesToBytes,
    kernelNames.StoreHalf,
  ];

  it('lists every kernel name but the ones that are not delta ops, once', () => {
    const names = Object.values(kernelNames as Record<string, unknown>).filter((v) => typeof v === 'string');
    const listed = DELTA_KERNELS.map(([kernel]) => kernel);
    expect(new Set(listed).size, 'duplicates in the table').to.equal(listed.length);
    expect([...listed, ...others].sort()).to.deep.equal(names.sort());
  });

  for (const kernel of others) {
    it(`${kernel}: kernels on 'cpu' and 'tensorflow'`, () => {
      expect(tf.getKernel(kernel, 'cpu'), `${kernel} on 'cpu'`).to.not.equal(undefined);
      expect(tf.getKernel(kernel, 'tensorflow'), `${kernel} on 'tensorflow'`).to.not.equal(undefined);
    });
  }

  for (const [kernel, op, dense] of DELTA_KERNELS) {
    it(`${kernel}: kernels on 'cpu' and 'tensorflow', and a gradient that refuses`, () => {
      expect(tf.getKernel(kernel, 'cpu'), `${kernel} on 'cpu'`).to.not.equal(undefined);
      expect(tf.getKernel(kernel, 'tensorflow'), `${kernel} on 'tensorflow'`).to.not.equal(undefined);
      const gradient = tf.getGradient(kernel);
      expect(gradient, `${kernel}'s gradient`).to.not.equal(undefined);
      expect(() => gradient!.gradFunc(tf.scalar(1), [], {}))
        .to.throw(`${op} has no gradient`)
        .with.property('message')
        .that.includes(dense);
    });
  }
});
