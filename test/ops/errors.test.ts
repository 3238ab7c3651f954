/**
 * Bad inputs: every op rejects them with an Error that names the op and the argument (and the
 * offending shape or value), before any kernel runs; delta ops refuse gradients with a message
 * that says what to do instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {
  conv3dGated,
  deltaConv2d,
  deltaConv2dTranspose,
  deltaDepthwiseConv2d,
  deltaMaxPool,
  sparseAccumulate,
  withMask,
} from '../../src/index';
import {expectThrowsNaming} from '../support/util';

const z = (...shape: number[]) => tf.zeros(shape);
const x4 = () => tf.randomNormal([1, 8, 8, 4]) as tf.Tensor4D;
const w4 = () => tf.randomNormal([3, 3, 4, 6]) as tf.Tensor4D;
const gated = (over: object) =>
  conv3dGated({
    x: z(1, 2, 4, 4, 3) as tf.Tensor5D,
    filter: z(3, 3, 3, 3, 5) as tf.Tensor5D,
    gateKernel: z(5, 5),
    gateBias: z(5),
    ...over,
  });

describe('bad inputs name the op, the argument and the shape', () => {
  const cases: Array<[string, () => unknown, string[]]> = [
    [
      'deltaConv2d rank-5 x',
      () => deltaConv2d(z(1, 2, 8, 8, 4) as unknown as tf.Tensor4D, w4(), 1, 'same'),
      ['deltaConv2d', "'x'", '[1,2,8,8,4]'],
    ],
    [
      'deltaConv2d rank-3 filter',
      () => deltaConv2d(x4(), z(3, 3, 4) as unknown as tf.Tensor4D, 1, 'same'),
      ['deltaConv2d', "'filter'", '[3,3,4]'],
    ],
    [
      'deltaConv2d channel mismatch',
      () => deltaConv2d(x4(), z(3, 3, 5, 6) as tf.Tensor4D, 1, 'same'),
      ['deltaConv2d', "'filter'", '[3,3,5,6]', '[1,8,8,4]'],
    ],
    [
      'deltaConv2d int32 x',
      () => deltaConv2d(tf.zeros([1, 8, 8, 4], 'int32') as tf.Tensor4D, w4(), 1, 'same'),
      ['deltaConv2d', "'x'", 'int32'],
    ],
    ['deltaConv2d zero stride', () => deltaConv2d(x4(), w4(), 0, 'same'), ['deltaConv2d', "'strides'", '0']],
    ['deltaConv2d fractional stride', () => deltaConv2d(x4(), w4(), [1, 1.5], 'same'), ['deltaConv2d', "'strides'"]],
    [
      'deltaConv2d strides and dilations > 1',
      () => deltaConv2d(x4(), w4(), 2, 'same', 'NHWC', 2),
      ['deltaConv2d', "'dilations'"],
    ],
    ['deltaConv2d unknown pad', () => deltaConv2d(x4(), w4(), 1, 'full' as 'same'), ['deltaConv2d', "'pad'", 'full']],
    ['deltaConv2d negative pad', () => deltaConv2d(x4(), w4(), 1, -1), ['deltaConv2d', "'pad'", '-1']],
    [
      'deltaConv2d explicit pad on batch',
      () =>
        deltaConv2d(x4(), w4(), 1, [
          [1, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ]),
      ['deltaConv2d', "'pad'"],
    ],
    [
      'deltaConv2d rounding with same',
      () => deltaConv2d(x4(), w4(), 1, 'same', 'NHWC', 1, 'floor'),
      ['deltaConv2d', "'dimRoundingMode'"],
    ],
    [
      'deltaConv2d NCHW',
      () => deltaConv2d(x4(), w4(), 1, 'same', 'NCHW' as 'NHWC'),
      ['deltaConv2d', "'dataFormat'", 'NCHW'],
    ],
    [
      'deltaConv2d input smaller than window',
      () => deltaConv2d(z(1, 2, 2, 4) as tf.Tensor4D, w4(), 1, 'valid'),
      ['deltaConv2d', "'x'", '[1,2,2,4]'],
    ],
    [
      'deltaConv2d bias of wrong length',
      () => deltaConv2d(x4(), w4(), 1, 'same', 'NHWC', 1, undefined, z(4) as tf.Tensor1D),
      ['deltaConv2d', "'bias'", '[6]', '[4]'],
    ],
    [
      'deltaConv2d disposed x',
      () => {
        const x = x4();
        x.dispose();
        return deltaConv2d(x, w4(), 1, 'same');
      },
      ['deltaConv2d', "'x'", 'disposed'],
    ],
    [
      'deltaDepthwiseConv2d channel mismatch',
      () => deltaDepthwiseConv2d(x4(), z(3, 3, 3, 2) as tf.Tensor4D, 1, 'same'),
      ['deltaDepthwiseConv2d', "'filter'", '[3,3,3,2]'],
    ],
    [
      'deltaConv2dTranspose wrong outputShape',
      () => deltaConv2dTranspose(x4(), z(4, 4, 2, 4) as tf.Tensor4D, [1, 13, 16, 2], 2, 'same'),
      ['deltaConv2dTranspose', "'outputShape'", '[1,13,16,2]'],
    ],
    [
      'deltaConv2dTranspose outputShape channels',
      () => deltaConv2dTranspose(x4(), z(4, 4, 2, 4) as tf.Tensor4D, [1, 16, 16, 3], 2, 'same'),
      ['deltaConv2dTranspose', "'outputShape'", '2 channels'],
    ],
    [
      'deltaConv2dTranspose filter in-channels',
      () => deltaConv2dTranspose(x4(), z(4, 4, 2, 5) as tf.Tensor4D, [1, 16, 16, 2], 2, 'same'),
      ['deltaConv2dTranspose', "'filter'", '[4,4,2,5]'],
    ],
    [
      'sparseAccumulate shape mismatch',
      () => sparseAccumulate(z(1, 4, 4, 3), z(1, 4, 4, 3), z(1, 4, 5, 3)),
      ['sparseAccumulate', "'accumulated'", '[1,4,5,3]', '[1,4,4,3]'],
    ],
    [
      'sparseAccumulate residual mismatch',
      () => sparseAccumulate(z(2, 3), z(2, 4), z(2, 3)),
      ['sparseAccumulate', "'residual'", '[2,4]'],
    ],
    ['sparseAccumulate rank 1', () => sparseAccumulate(z(3), z(3), z(3)), ['sparseAccumulate', "'delta'", '[3]']],
    [
      'sparseAccumulate negative threshold',
      () => sparseAccumulate(z(2, 3), z(2, 3), z(2, 3), {threshold: -0.1}),
      ['sparseAccumulate', "'threshold'", '-0.1'],
    ],
    [
      'sparseAccumulate NaN threshold',
      () => sparseAccumulate(z(2, 3), z(2, 3), z(2, 3), {threshold: NaN}),
      ['sparseAccumulate', "'threshold'"],
    ],
    [
      'sparseAccumulate unknown activation',
      () => sparseAccumulate(z(2, 3), z(2, 3), z(2, 3), {activation: 'gelu' as 'relu'}),
      ['sparseAccumulate', "'activation'", 'gelu'],
    ],
    [
      'sparseAccumulate unknown test',
      () => sparseAccumulate(z(2, 3), z(2, 3), z(2, 3), {test: 'rms' as 'max'}),
      ['sparseAccumulate', "'test'", 'rms'],
    ],
    [
      'deltaMaxPool rank 3',
      () => deltaMaxPool(z(4, 4, 3) as unknown as tf.Tensor4D, z(4, 4, 3) as unknown as tf.Tensor4D),
      ['deltaMaxPool', "'delta'", '[4,4,3]'],
    ],
    [
      'deltaMaxPool zero pool size',
      () => deltaMaxPool(z(1, 4, 4, 3) as tf.Tensor4D, z(1, 4, 4, 3) as tf.Tensor4D, 0),
      ['deltaMaxPool', "'poolSize'"],
    ],
    [
      'deltaMaxPool window larger than input',
      () => deltaMaxPool(z(1, 2, 2, 3) as tf.Tensor4D, z(1, 2, 2, 3) as tf.Tensor4D, 3),
      ['deltaMaxPool', "'x'", '[1,2,2,3]'],
    ],
    [
      'deltaMaxPool state shape',
      () => deltaMaxPool(z(1, 4, 4, 2) as tf.Tensor4D, z(1, 4, 4, 3) as tf.Tensor4D),
      ['deltaMaxPool', "'accumulated'", '[1,4,4,2]'],
    ],
    ['conv3dGated rank-4 x', () => gated({x: z(2, 4, 4, 3)}), ['conv3dGated', "'x'", '[2,4,4,3]']],
    [
      'conv3dGated filter channels',
      () => gated({filter: z(3, 3, 3, 2, 5)}),
      ['conv3dGated', "'filter'", '[3,3,3,2,5]'],
    ],
    ['conv3dGated gate kernel shape', () => gated({gateKernel: z(5, 4)}), ['conv3dGated', "'gateKernel'", '[5,4]']],
    ['conv3dGated gate bias shape', () => gated({gateBias: z(4)}), ['conv3dGated', "'gateBias'", '[4]']],
    ['conv3dGated bias shape', () => gated({bias: z(3)}), ['conv3dGated', "'bias'", '[3]']],
    [
      'conv3dGated explicit pad form',
      () =>
        gated({
          pad: [
            [1, 1],
            [1, 1],
            [1, 1],
          ],
        }),
      ['conv3dGated', "'pad'"],
    ],
    ['conv3dGated strides', () => gated({strides: [1, 2]}), ['conv3dGated', "'strides'"]],
    ['conv3dGated activation', () => gated({activation: 'swish'}), ['conv3dGated', "'activation'", 'swish']],
    [
      'conv3dGated too small for valid',
      () => gated({x: z(1, 2, 2, 2, 3), pad: 'valid'}),
      ['conv3dGated', "'x'", '[1,2,2,2,3]'],
    ],
    [
      'conv3dGated transposed outputShape',
      () => gated({transpose: true, filter: z(3, 4, 4, 5, 3), outputShape: [1, 2, 9, 8, 5], strides: [1, 2, 2]}),
      ['conv3dGated', "'outputShape'", '[1,2,9,8,5]'],
    ],
    ['withMask wrong mask shape', () => withMask(z(1, 4, 4, 3), z(1, 4, 3)), ['withMask', "'mask'", '[1,4,3]']],
  ];
  for (const [name, fn, fragments] of cases) {
    it(name, () => expectThrowsNaming(fn, ...fragments));
  }

  it('a rejected call leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    const x = x4();
    expectThrowsNaming(() => deltaConv2d(x, z(3, 3, 5, 6) as tf.Tensor4D, 1, 'same'), 'deltaConv2d');
    x.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('gradients', () => {
  it('delta ops refuse gradients, saying why and what to use instead', () => {
    const w = w4();
    expectThrowsNaming(
      () => tf.grad((x: tf.Tensor) => tf.sum(deltaConv2d(x as tf.Tensor4D, w, 1, 'same')))(x4()),
      'deltaConv2d has no gradient',
      'tf.conv2d',
    );
    expectThrowsNaming(
      () => tf.grad((x: tf.Tensor) => tf.sum(sparseAccumulate(x, x, x).delta))(z(2, 3)),
      'sparseAccumulate has no gradient',
    );
    expectThrowsNaming(
      () => tf.grad((x: tf.Tensor) => tf.sum(deltaMaxPool(x as tf.Tensor4D, x as tf.Tensor4D).delta))(z(1, 4, 4, 1)),
      'deltaMaxPool has no gradient',
    );
    w.dispose();
  });
});
