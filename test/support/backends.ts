/**
 * The backends the parity suites run on. Every suite written with `describeEachBackend` runs once
 * per backend; a backend that cannot be loaded here is reported as a skipped test that says why,
 * never dropped silently.
 */
import * as tf from '@tensorflow/tfjs-core';

import {expect} from 'chai';

import {envFlag, envString} from '../../src/io/env';
import {tensorflowNativeOpsUnavailableReason} from '../../src/kernels/tensorflow/native_ops';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';
import {maxDifference} from './util';

export interface BackendStatus {
  name: string;
  available: boolean;
  reason?: string;
}

const statuses: BackendStatus[] = [{name: 'cpu', available: true}];

function loadTensorflow(): BackendStatus {
  try {
    loadTfjsNode();
    if (tf.findBackend('tensorflow') == null) {
      return {name: 'tensorflow', available: false, reason: '@tensorflow/tfjs-node loaded but registered no backend'};
    }
    return {name: 'tensorflow', available: true};
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    return {
      name: 'tensorflow',
      available: false,
      reason: `@tensorflow/tfjs-node could not be loaded (${message}); run scripts/setup-tfjs-node-offline.sh`,
    };
  }
}

/** TFJS_DELTA_TEST_BACKENDS=cpu,tensorflow restricts the suites to those backends. */
function selected(name: string): boolean {
  const list = envString('TFJS_DELTA_TEST_BACKENDS');
  return (
    list == null ||
    list
      .split(',')
      .map((s) => s.trim())
      .includes(name)
  );
}

/**
 * The parity suites test the tiled delta conv kernel itself: small test frames would otherwise route to cuDNN
 * (CudaBackend.denseBelowBlocks), unless TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS asks for that route. Returns the
 * previous setting.
 */
function tiledDeltaConvs(blocks: number | null): number | null {
  const backend = tf.engine().findBackend('cuda') as unknown as {denseBelowBlocks?: number} | null;
  if (backend?.denseBelowBlocks == null || blocks == null) return null;
  const previous = backend.denseBelowBlocks;
  if (envString('TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS') == null) backend.denseBelowBlocks = blocks;
  return previous;
}

function setCudaTF32(allow: boolean): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('../../src/backends/cuda/index') as typeof import('../../src/backends/cuda/index')).setCudaOptions({
    allowTF32: allow,
  });
}

function loadCuda(): BackendStatus {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const {cudaAvailability} = require('../../src/backends/cuda/index') as typeof import('../../src/backends/cuda/index');
  const status = cudaAvailability();
  return status.available ? {name: 'cuda', available: true} : {name: 'cuda', available: false, reason: status.reason};
}

export function loadOptionalBackends(): void {
  if (statuses.length > 1) return;
  const excluded = (name: string) => ({name, available: false, reason: 'excluded by TFJS_DELTA_TEST_BACKENDS'});
  statuses.push(selected('tensorflow') ? loadTensorflow() : excluded('tensorflow'));
  statuses.push(selected('cuda') ? loadCuda() : excluded('cuda'));
  // Optional backends register with higher priority; the suites pick theirs explicitly.
  tf.setBackend('cpu');
}

export function backendStatuses(): BackendStatus[] {
  return statuses;
}

/** A suite that needs backend `name`: where it is not loaded, one skipped test says why instead. */
export function describeIfBackend(name: string, title: string, fn: () => void): void {
  const status = statuses.find((s) => s.name === name);
  describe(title, function () {
    if (!status?.available) {
      it(`skipped: backend '${name}' unavailable: ${status?.reason ?? 'not loaded'}`, function () {
        this.skip();
      });
      return;
    }
    fn();
  });
}

/**
 * A suite of tfjs-delta's native TensorFlow ops: on 'tensorflow' where they load; elsewhere one skipped test says why
 * ('tensorflow' not loaded, or the ops not built).
 */
export function describeNativeTensorflowOps(title: string, fn: () => void): void {
  describeIfBackend('tensorflow', title, () => {
    const why = tensorflowNativeOpsUnavailableReason();
    if (why !== '') {
      it(`skipped: the native 'tensorflow' ops are unavailable: ${why}`, function () {
        this.skip();
      });
      return;
    }
    runSuiteOn('tensorflow');
    fn();
  });
}

/** Inside a describe: the suite's tests run on backend `name`, and the backend before them is restored after. */
export function runSuiteOn(name: string): void {
  let previous: string;
  before(async () => {
    previous = tf.getBackend();
    await tf.setBackend(name);
  });
  after(async () => {
    await tf.setBackend(previous);
  });
}

/** Defines `fn`'s suite once per backend, as "<title> [backend]". */
export function describeEachBackend(title: string, fn: (backend: string) => void): void {
  for (const status of statuses) {
    describe(`${title} [${status.name}]`, function () {
      if (!status.available) {
        it(`skipped: backend '${status.name}' unavailable: ${status.reason}`, function () {
          this.skip();
        });
        return;
      }
      let previous: string;
      let previousBlocks: number | null = null;
      before(async () => {
        previous = tf.getBackend();
        await tf.setBackend(status.name);
        // The parity suites hold every backend to fp32 tolerances: TF32 tensor cores are off while
        // they run on 'cuda' (test/cuda_*.test.ts check the TF32 paths with TF32 tolerances).
        if (status.name === 'cuda') {
          setCudaTF32(false);
          previousBlocks = tiledDeltaConvs(0);
        }
      });
      after(async () => {
        if (status.name === 'cuda') {
          setCudaTF32(!envFlag('TFJS_DELTA_STRICT_FP32'));
          tiledDeltaConvs(previousBlocks);
        }
        await tf.setBackend(previous);
      });
      fn(status.name);
    });
  }
}

/** `make` on 'cpu' and on 'tensorflow' with the same values; the largest |difference| / max |cpu|. */
export async function againstCpu(make: () => tf.Tensor): Promise<number> {
  await tf.setBackend('cpu');
  const want = make();
  const wantValues = want.dataSync();
  want.dispose();
  await tf.setBackend('tensorflow');
  const got = make();
  const gotValues = got.dataSync();
  got.dispose();
  expect(gotValues.length).to.equal(wantValues.length);
  const {diff, scale} = maxDifference([[gotValues, wantValues]]);
  return diff / Math.max(scale, 1e-6);
}
