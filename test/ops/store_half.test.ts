/** storeHalf on every backend: the IEEE half rounding of fresh random values, large ones overflowing to infinity. */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {storeHalf} from '../../src/index';
import {roundToHalf} from '../../src/kernels/half';
import {describeEachBackend} from '../support/backends';
import {freshSeed, randn} from '../support/util';

describeEachBackend('storeHalf', (backend) => {
  for (const shape of [[7], [2, 5, 9, 3], [1, 13, 1, 40]]) {
    it(`rounds [${shape}] to half as the host does`, () => {
      const seed = freshSeed();
      tf.tidy(() => {
        // Scales from subnormal halves to past half's range (65504).
        const x = tf.mul(randn(shape, seed), tf.pow(10, tf.randomUniform(shape, -7, 5, 'float32', seed + 1)));
        const got = storeHalf(x);
        expect(got.dtype).to.equal('float32');
        expect(got.shape).to.deep.equal(shape);
        const want = roundToHalf(x.dataSync() as Float32Array);
        expect(Array.from(got.dataSync()), `seed ${seed}`).to.deep.equal(Array.from(want));
        if (backend === 'cuda') {
          const cuda = tf.backend() as unknown as {storedElementBytes(t: tf.Tensor): number};
          expect(cuda.storedElementBytes(got), 'half storage on cuda').to.equal(2);
        }
      });
    });
  }
});
