/**
 * The frame byte conversions and asynchronous reads on 'cuda', beyond the per-backend op suite (test/ops/
 * frame_bytes.test.ts): frames large enough for the asynchronous read path, a read awaited after more work was
 * queued behind it, half-stored frames both ways, and bytes equal to the 'cpu' conversion of the same values.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {CudaBackend} from '../../../src/backends/cuda/backend';
import {framesFromBytes, framesToBytes} from '../../../src/index';
import {runSuiteOn} from '../../support/backends';
import {describeCuda} from '../../support/cuda';

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

function cuda(): CudaBackend {
  return tf.backend() as CudaBackend;
}

describeCuda('frame bytes and asynchronous reads on cuda', () => {
  runSuiteOn('cuda');

  it('round-trips a 1080p-sized frame through the asynchronous read path', async () => {
    const shape = [1, 1, 1080 / 4, 1920 / 4 + 1, 3]; // 390 KiB of bytes, 1.5 MiB of floats: above the sync limit
    const bytes = randomBytes(shape.reduce((p, d) => p * d, 1));
    const frames = framesFromBytes(bytes, shape);
    const values = await frames.data();
    for (let i = 0; i < bytes.length; i += 97) expect(values[i]).to.be.closeTo(bytes[i] / 255, 1e-7);
    expect(Buffer.from(await framesToBytes(frames)).equals(Buffer.from(bytes))).to.equal(true);
    frames.dispose();
  });

  it('a read begun before more work is queued returns the values at that point, and the later work completes', async () => {
    const x = tf.randomUniform([512, 512], -1, 1);
    const expected = x.dataSync().slice();
    const reading = x.data();
    // Work queued after the read: it must neither delay the read's values nor change them.
    let y = x;
    for (let i = 0; i < 20; i++) {
      const next = tf.tidy(() => tf.tanh(tf.matMul(y, y)));
      if (y !== x) y.dispose();
      y = next;
    }
    const got = await reading;
    expect(Array.from(got.slice(0, 1000))).to.deep.equal(Array.from(expected.slice(0, 1000)));
    expect(got.length).to.equal(expected.length);
    expect((await y.data()).length, 'the work queued after the read ran').to.equal(512 * 512);
    tf.dispose([x, y]);
  });

  it('converts half-stored frames both ways like float32 ones', async () => {
    const shape = [2, 1, 45, 67, 3];
    const bytes = randomBytes(shape.reduce((p, d) => p * d, 1));
    cuda().halfStorage = true;
    let frames: tf.Tensor;
    try {
      frames = framesFromBytes(bytes, shape);
    } finally {
      cuda().halfStorage = false;
    }
    expect(cuda().isHalf(frames), 'half-stored under half storage').to.equal(true);
    // Every byte / 255 rounds to half within 2^-11 relative, so x 255 rounds back to the same byte.
    expect(Buffer.from(await framesToBytes(frames)).equals(Buffer.from(bytes))).to.equal(true);
    const values = await frames.data();
    for (let i = 0; i < bytes.length; i += 13) expect(values[i]).to.be.closeTo(bytes[i] / 255, 1e-3);
    frames.dispose();
  });

  it('gives the same bytes as cpu for the same random float values', async () => {
    const values = Float32Array.from({length: 70001}, () => Math.random() * 1.3 - 0.15);
    const onCudaTensor = tf.tensor(values);
    const onCuda = await framesToBytes(onCudaTensor);
    onCudaTensor.dispose();
    await tf.setBackend('cpu');
    const onCpuTensor = tf.tensor(values);
    const onCpu = await framesToBytes(onCpuTensor);
    onCpuTensor.dispose();
    await tf.setBackend('cuda');
    expect(Buffer.from(onCuda).equals(Buffer.from(onCpu))).to.equal(true);
  });
});
