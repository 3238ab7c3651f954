/** Chooses the fastest available backend for the CLI: 'cuda', else 'tensorflow' (tfjs-node), else 'cpu'. */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';

import {loadTfjsNode} from '../kernels/tensorflow/tfjs_node_kernels';

export type BackendChoice = 'auto' | 'cuda' | 'tensorflow' | 'cpu';

function tryTensorflow(): string | null {
  try {
    loadTfjsNode();
    return null;
  } catch (e) {
    return `@tensorflow/tfjs-node not loadable (${(e as Error).message.split('\n')[0]})`;
  }
}

function tryCuda(device?: number): () => string | null {
  return () => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const cuda = require('../backends/cuda/index') as typeof import('../backends/cuda/index');
      const status = cuda.cudaAvailability({device});
      return status.available ? null : (status.reason ?? 'unavailable');
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
  };
}

/**
 * Sets the backend and returns a line saying which one runs and why the faster ones do not. `device` (a worker's
 * --gpu) asks for that CUDA device: the backend is then 'cuda' or an error.
 */
export async function chooseBackend(choice: BackendChoice = 'auto', device?: number): Promise<string> {
  if (!['auto', 'cuda', 'tensorflow', 'cpu'].includes(choice)) {
    throw new Error(`--backend '${choice}' is not a backend; choose auto, cuda, tensorflow or cpu`);
  }
  if (device != null) {
    if (choice !== 'auto' && choice !== 'cuda') {
      throw new Error(`--gpu ${device} selects a CUDA device and cannot go with --backend ${choice}`);
    }
    choice = 'cuda';
  }
  const notes: string[] = [];
  const candidates: Array<['cuda' | 'tensorflow' | 'cpu', () => string | null]> = [
    ['cuda', tryCuda(device)],
    ['tensorflow', tryTensorflow],
    ['cpu', () => null],
  ];
  for (const [name, load] of candidates) {
    if (choice !== 'auto' && choice !== name) continue;
    const why = load();
    if (why == null && (await tf.setBackend(name))) {
      return `backend '${name}'${name === 'cuda' ? cudaDeviceNote() : ''}${notes.length ? ` (${notes.join('; ')})` : ''}`;
    }
    const reason = why ?? `tf.setBackend('${name}') failed`;
    if (choice !== 'auto') throw new Error(`backend '${name}' is unavailable: ${reason}`);
    notes.push(`no ${name}: ${reason}`);
  }
  throw new Error(`no backend could be initialised: ${notes.join('; ')}`);
}

function cudaDeviceNote(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cuda = require('../backends/cuda/index') as typeof import('../backends/cuda/index');
  const info = cuda.cudaAvailability().device;
  return info == null ? '' : ` on GPU ${info.device} (${info.name})`;
}
