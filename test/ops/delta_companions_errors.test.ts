/**
 * Bad inputs to the companion delta ops: errors name the op, the argument and the offending shape
 * or value before any kernel runs; gradients are refused with a message saying what to do.
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
} from '../../src/index';
import {expectThrowsNaming} from '../support/util';

const z = (...shape: number[]) => tf.zeros(shape);
const z4 = (...shape: [number, number, number, number]) => tf.zeros(shape) as tf.Tensor4D;

describe('companion delta ops: bad inputs name the op, the argument and the shape', () => {
  const cases: Array<[string, () => unknown, string[]]> = [
    [
      'deltaAdd shape mismatch',
      () => deltaAdd(z(1, 4, 4, 3), z(1, 4, 4, 2)),
      ['deltaAdd', "'b'", '[1,4,4,2]', '[1,4,4,3]'],
    ],
    ['deltaAdd rank 1', () => deltaAdd(z(3), z(3)), ['deltaAdd', "'a'", '[3]']],
    ['deltaAdd int32', () => deltaAdd(tf.zeros([2, 3], 'int32'), z(2, 3)), ['deltaAdd', "'a'", 'int32']],
    ['deltaConcat empty list', () => deltaConcat([]), ['deltaConcat', "'tensors'"]],
    [
      'deltaConcat mismatch off the axis',
      () => deltaConcat([z(1, 4, 4, 3), z(1, 4, 5, 3)]),
      ['deltaConcat', "'tensors[1]'", '[1,4,5,3]', '[1,4,4,3]'],
    ],
    ['deltaConcat axis out of range', () => deltaConcat([z(1, 4, 4, 3)], 4), ['deltaConcat', "'axis'", '4']],
    [
      'deltaScaleShift scale length',
      () => deltaScaleShift(z(1, 4, 4, 3), z(4) as tf.Tensor1D),
      ['deltaScaleShift', "'scale'", '[3]', '[4]'],
    ],
    [
      'deltaScaleShift offset rank',
      () => deltaScaleShift(z(1, 4, 4, 3), z(3) as tf.Tensor1D, z(1, 3) as unknown as tf.Tensor1D),
      ['deltaScaleShift', "'offset'", '[1,3]'],
    ],
    [
      'deltaDense kernel rows',
      () => deltaDense(z(2, 5), z(4, 3) as tf.Tensor2D),
      ['deltaDense', "'kernel'", '[4,3]', '[2,5]'],
    ],
    [
      'deltaDense kernel rank',
      () => deltaDense(z(2, 5), z(5) as unknown as tf.Tensor2D),
      ['deltaDense', "'kernel'", '[5]'],
    ],
    [
      'deltaDense bias length',
      () => deltaDense(z(2, 5), z(5, 3) as tf.Tensor2D, z(2) as tf.Tensor1D),
      ['deltaDense', "'bias'", '[3]', '[2]'],
    ],
    [
      'deltaUpSampling2d rank 3',
      () => deltaUpSampling2d(z(4, 4, 3) as unknown as tf.Tensor4D),
      ['deltaUpSampling2d', "'x'", '[4,4,3]'],
    ],
    ['deltaUpSampling2d zero size', () => deltaUpSampling2d(z4(1, 4, 4, 3), 0), ['deltaUpSampling2d', "'size'", '0']],
    [
      'deltaUpSampling2d interpolation',
      () => deltaUpSampling2d(z4(1, 4, 4, 3), 2, 'bicubic' as 'nearest'),
      ['deltaUpSampling2d', "'interpolation'", 'bicubic'],
    ],
    ['deltaPad2d negative', () => deltaPad2d(z4(1, 4, 4, 3), -1), ['deltaPad2d', "'padding'", '-1']],
    [
      'deltaPad2d malformed',
      () => deltaPad2d(z4(1, 4, 4, 3), [[1, 1]] as unknown as number),
      ['deltaPad2d', "'padding'"],
    ],
    [
      'deltaAvgPool rank 3',
      () => deltaAvgPool(z(4, 4, 3) as unknown as tf.Tensor4D),
      ['deltaAvgPool', "'x'", '[4,4,3]'],
    ],
    ['deltaAvgPool window too large', () => deltaAvgPool(z4(1, 2, 2, 3), 3), ['deltaAvgPool', "'x'", '[1,2,2,3]']],
    ['deltaAvgPool pad', () => deltaAvgPool(z4(1, 4, 4, 3), 2, 2, 'full' as 'same'), ['deltaAvgPool', "'pad'", 'full']],
    [
      'deltaGlobalAvgPool rank 2',
      () => deltaGlobalAvgPool(z(4, 3) as unknown as tf.Tensor4D),
      ['deltaGlobalAvgPool', "'x'", '[4,3]'],
    ],
    [
      'deltaReshape size mismatch',
      () => deltaReshape(z(1, 4, 4, 3), [1, 47]),
      ['deltaReshape', "'shape'", '[1,47]', '[1,4,4,3]'],
    ],
    ['deltaReshape two -1', () => deltaReshape(z(1, 4, 4, 3), [-1, -1]), ['deltaReshape', "'shape'", '[-1,-1]']],
  ];
  for (const [name, fn, fragments] of cases) {
    it(name, () => expectThrowsNaming(fn, ...fragments));
  }

  it('refuse gradients, naming the op and the dense op to train with', () => {
    const x = tf.variable(tf.ones([1, 4, 4, 2]));
    let message = '';
    try {
      tf.variableGrads(() => tf.sum(deltaAdd(x, x)) as tf.Scalar);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.include('deltaAdd has no gradient').and.include('tf.add');
    x.dispose();
  });
});
