/** Chooses the fastest available backend for the CLI: 'cuda', else 'tensorflow' (tfjs-node), else 'cpu'. */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';

export type BackendChoice = 'auto' | 'cuda' | 'tensorflow' | 'cpu';

function tryTensorflow(): string | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
    return null;
  } catch (e) {
    return `@tensorflow/tfjs-node not loadable (${(e as Error).message.split('\n')[0]})`;
  }
}

function tryCuda(): string | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cuda = require('../backends/cuda/index') as {cudaAvailability(): {available: boolean; reason?: string}};
    const status = cuda.cudaAvailability();
    return status.available ? null : (status.reason ?? 'unavailable');
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** Sets the backend and returns a line saying which one runs and why the faster ones do not. */
export async function chooseBackend(choice: BackendChoice = 'auto'): Promise<string> {
  if (!['auto', 'cuda', 'tensorflow', 'cpu'].includes(choice)) {
    throw new Error(`--backend '${choice}' is not a backend; choose auto, cuda, tensorflow or cpu`);
  }
  const notes: string[] = [];
  const candidates: Array<['cuda' | 'tensorflow' | 'cpu', () => string | null]> = [
    ['cuda', tryCuda],
    ['tensorflow', tryTensorflow],
    ['cpu', () => null],
  ];
  for (const [name, load] of candidates) {
    if (choice !== 'auto' && choice !== name) continue;
    const why = load();
    if (why == null && (await tf.setBackend(name))) {
      return `backend '${name}'${notes.length ? ` (${notes.join('; ')})` : ''}`;
    }
    const reason = why ?? `tf.setBackend('${name}') failed`;
    if (choice !== 'auto') throw new Error(`backend '${name}' is unavailable: ${reason}`);
    notes.push(`no ${name}: ${reason}`);
  }
  throw new Error(`no backend could be initialised: ${notes.join('; ')}`);
}
