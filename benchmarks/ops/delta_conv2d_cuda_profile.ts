/**
 * A few deltaConv2d calls for Nsight Compute: 3x3 64->64 and 1x1 256->64 at 96x128, batch 1, TF32,
 * one active 16x16 input tile, then all tiles active. Run on the GPU machine under ncu, e.g.
 *   ncu --clock-control none -k regex:deltaConvMma --section WarpStateStats node dist/benchmarks/ops/delta_conv2d_cuda_profile.js
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {cudaAvailability} from '../../src/backends/cuda/index';
import {CudaBackend} from '../../src/backends/cuda/backend';
import {deltaConv2d, withMask} from '../../src/index';

async function main(): Promise<void> {
  if (!cudaAvailability().available) throw new Error('no cuda');
  await tf.setBackend('cuda');
  const cuda = tf.backend() as unknown as CudaBackend;
  for (const [k, cin] of [
    [3, 64],
    [1, 256],
  ]) {
    const x = tf.randomNormal([1, 96, 128, cin]);
    const f = tf.randomNormal([k, k, cin, 64], 0, 0.1) as tf.Tensor4D;
    for (const all of [false, true]) {
      const m = tf.buffer([1, 96, 128], 'bool');
      for (let y = 32; y < 48; y++) for (let xx = 48; xx < 64; xx++) m.set(true, 0, y, xx);
      const mask = all ? tf.ones([1, 96, 128], 'bool') : m.toTensor();
      const xd = withMask(x, mask) as tf.Tensor4D;
      for (let i = 0; i < 3; i++) tf.dispose(deltaConv2d(xd, f, 1, 'same'));
      cuda.n.sync();
      tf.dispose([xd, mask]);
    }
    tf.dispose([x, f]);
  }
  console.log('done');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
