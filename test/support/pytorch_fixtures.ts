/** Where the PyTorch fixtures live (written by scripts/make_torch_fixtures.py), and helpers on them. */
import * as path from 'path';

import {StateDict} from '../../src/models/pytorch/checkpoint';
import {TorchStorage, TorchTensor} from '../../src/models/pytorch/tensor';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {envFlag} from '../../src/io/env';

export const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'torch');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** A state dict with the given names and shapes whose data must never be read ('module.' stripped). */
export function shapeOnlyStateDict(shapes: {[name: string]: number[]}): StateDict {
  const sd: StateDict = new Map();
  for (const [name, shape] of Object.entries(shapes)) {
    const numel = shape.reduce((a, b) => a * b, 1);
    const storage = new TorchStorage('float32', numel, () => {
      throw new Error(`read ${name}`);
    });
    sd.set(name.replace(/^module\./, ''), TorchTensor.contiguous(storage, shape));
  }
  return sd;
}

/**
 * Parity with PyTorch's fp32 is measured in strict fp32: on the 'cuda' backend the suite turns its
 * TF32 tensor-core math off for its duration (TF32 alone gives relative errors near 1e-3).
 */
export function strictFp32On(backend: string): void {
  if (backend !== 'cuda') return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const {setCudaOptions} = require('../../src/backends/cuda/index') as typeof import('../../src/backends/cuda/index');
  before(() => setCudaOptions({allowTF32: false}));
  const strict = envFlag('TFJS_DELTA_STRICT_FP32'); // the backend's own default, restored after
  after(() => setCudaOptions({allowTF32: !strict}));
}
