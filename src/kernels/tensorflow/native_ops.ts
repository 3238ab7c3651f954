/**
 * tfjs-delta's own TensorFlow ops (native/tensorflow: CPU kernels registered through TF's C API into the
 * libtensorflow that tfjs-node loaded), built by scripts/build-native.js next to the 'cuda' addon
 * (build-tensorflow/Release/tfjs_delta_tensorflow.node). tfjs-node runs them by name like TF's own ops, on TF's
 * tensors with no copy. Loaded on first use (once a process, whatever copies of tfjs-delta it holds), only under
 * tfjs-node on the CPU: under tfjs-node-gpu the tensors live on the GPU, and a CPU kernel would update copies of the
 * state instead of the state.
 * TFJS_DELTA_TENSORFLOW_NATIVE=0 keeps them off (the TF-op routes run instead).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {TensorInfo} from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';

import {envFlag} from '../../io/env';
import {PACKAGE_ROOT} from '../../io/package_root';

export const TENSORFLOW_ADDON = path.join(PACKAGE_ROOT, 'build-tensorflow', 'Release', 'tfjs_delta_tensorflow.node');

export interface TensorflowNativeOps {
  /** The op names registered into TensorFlow. */
  ops: string[];
}

let loaded: {ops: TensorflowNativeOps | null; why: string} | null = null;

/** Whether the registered 'tensorflow' backend is tfjs-node-gpu's or runs on a GPU. */
function tensorflowOnGpu(): boolean {
  const backend = tf.findBackend('tensorflow') as {isGPUPackage?: boolean; isUsingGpuDevice?: boolean} | null;
  return backend?.isGPUPackage === true || backend?.isUsingGpuDevice === true;
}

/**
 * The addon as this process loaded it, shared by every copy of tfjs-delta in the process: TF ends the process when
 * an op is registered twice, which a second copy's addon (another path, so another library) would do.
 */
const PROCESS_KEY = Symbol.for('tfjs-delta.tensorflow-native-ops');
type ProcessSlot = {[PROCESS_KEY]?: TensorflowNativeOps};

function load(): {ops: TensorflowNativeOps | null; why: string} {
  if (!envFlag('TFJS_DELTA_TENSORFLOW_NATIVE', true)) return {ops: null, why: 'TFJS_DELTA_TENSORFLOW_NATIVE=0'};
  if (tensorflowOnGpu()) return {ops: null, why: "'tensorflow' is tfjs-node-gpu's (the native ops are CPU kernels)"};
  const slot = globalThis as ProcessSlot;
  if (slot[PROCESS_KEY] != null) return {ops: slot[PROCESS_KEY], why: ''};
  if (!fs.existsSync(TENSORFLOW_ADDON))
    return {
      ops: null,
      why: `${TENSORFLOW_ADDON} is not built (npm rebuild tfjs-delta, with @tensorflow/tfjs-node installed)`,
    };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    slot[PROCESS_KEY] = require(TENSORFLOW_ADDON) as TensorflowNativeOps;
    return {ops: slot[PROCESS_KEY], why: ''};
  } catch (e) {
    const why = `${TENSORFLOW_ADDON} did not load: ${(e as Error).message}`;
    console.warn(`tfjs-delta: ${why}; delta ops on 'tensorflow' run as TF ops`);
    return {ops: null, why};
  }
}

/** The native ops when they are built and loadable here (loading them the first time), else null. */
export function tensorflowNativeOps(): TensorflowNativeOps | null {
  loaded ??= load();
  return loaded.ops;
}

/** Why tensorflowNativeOps() is null ('' when it is not). */
export function tensorflowNativeOpsUnavailableReason(): string {
  loaded ??= load();
  return loaded.why;
}

/**
 * The state buffers the native ops made (their state outputs, in place or copied): TF allocated them and no other
 * tensor holds them. Only these are written in place: tfjs-node wraps a JavaScript array a tensor was made from
 * without a copy, so writing into any state tensor could write into the caller's array. A stream's first call copies.
 */
const nativeState = new WeakSet<object>();

export function isNativeState(t: TensorInfo): boolean {
  return nativeState.has(t.dataId);
}

export function markNativeState(...tensors: TensorInfo[]): void {
  for (const t of tensors) nativeState.add(t.dataId);
}
