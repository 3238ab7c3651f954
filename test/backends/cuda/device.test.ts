/**
 * Choosing the CUDA device (useCudaIfAvailable({device}), TFJS_DELTA_CUDA_DEVICE): the argument and the variable
 * are checked before any GPU is touched, so these run on machines without one.
 */
import {expect} from 'chai';

import {cudaAvailability, useCudaIfAvailable} from '../../../src/backends/cuda/index';
import {cudaDeviceProblem, requestedCudaDevice} from '../../../src/backends/cuda/native';

const NAME = 'TFJS_DELTA_CUDA_DEVICE';

async function withDevice<T>(value: string | undefined, body: () => T | Promise<T>): Promise<T> {
  const saved = process.env[NAME];
  if (value === undefined) delete process.env[NAME];
  else process.env[NAME] = value;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env[NAME];
    else process.env[NAME] = saved;
  }
}

describe('cuda device selection', () => {
  it('takes the argument, else TFJS_DELTA_CUDA_DEVICE, else 0', async () => {
    await withDevice(undefined, () => expect(requestedCudaDevice(undefined)).to.equal(0));
    await withDevice('3', () => expect(requestedCudaDevice(undefined)).to.equal(3));
    await withDevice(' 1 ', () => expect(requestedCudaDevice(undefined)).to.equal(1));
    await withDevice('3', () => expect(requestedCudaDevice(2)).to.equal(2));
  });

  it('refuses an index that is not a whole number >= 0, naming the function, the argument and the value', async () => {
    for (const bad of [-1, 1.5, NaN, '1', null]) {
      expect(() => requestedCudaDevice(bad), String(bad)).to.throw(
        /^useCudaIfAvailable: device must be a whole number >= 0 \(a CUDA device index\), got /,
      );
      let message = '';
      await useCudaIfAvailable({device: bad as number}).catch((e: Error) => (message = e.message));
      expect(message, String(bad)).to.match(/^useCudaIfAvailable: device must be a whole number >= 0/);
      const status = cudaAvailability({device: bad as number});
      expect(status.available).to.equal(false);
      expect(status.reason).to.match(/^cudaAvailability: device must be a whole number >= 0/);
    }
    for (const bad of ['-1', 'gpu1', '0x1', '1.0']) {
      await withDevice(bad, async () => {
        expect(() => requestedCudaDevice(undefined), bad).to.throw(
          `environment variable ${NAME}=${JSON.stringify(bad)} is not an index: use a whole number >= 0`,
        );
        let message = '';
        await useCudaIfAvailable().catch((e: Error) => (message = e.message));
        expect(message, bad).to.include(`${NAME}=${JSON.stringify(bad)} is not an index`);
      });
    }
  });

  it('names the devices a machine has when the index is past them', () => {
    expect(cudaDeviceProblem(0, 1)).to.equal(null);
    expect(cudaDeviceProblem(1, 2)).to.equal(null);
    expect(cudaDeviceProblem(1, 1)).to.equal('CUDA device 1 does not exist: this machine has one CUDA device (0)');
    expect(cudaDeviceProblem(5, 4)).to.equal('CUDA device 5 does not exist: this machine has 4 CUDA devices (0 to 3)');
  });

  it('without a usable GPU, a valid index gives false (not an error) and the reason', async function () {
    const status = cudaAvailability();
    if (status.available) {
      expect(status.device!.device).to.equal(requestedCudaDevice(undefined));
      this.skip();
    }
    expect(await useCudaIfAvailable({device: 0})).to.equal(false);
    expect(status.reason).to.be.a('string').and.not.equal('');
  });
});
