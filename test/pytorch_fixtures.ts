/** Where the PyTorch fixtures live (written by scripts/make_torch_fixtures.py), and helpers on them. */
import * as path from 'path';

import {StateDict} from '../models/pytorch/checkpoint';
import {TorchStorage, TorchTensor} from '../models/pytorch/tensor';

export const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures', 'torch');

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
