/**
 * FramesFromBytes and FramesToBytes on any backend that can read and make tensors on the host ('cpu',
 * 'tensorflow'): the bytes are converted in one pass over a typed-array view, without per-frame tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelBackend, KernelConfig, TensorInfo} from '@tensorflow/tfjs-core';

import {FramesFromBytes, FramesFromBytesAttrs, FramesToBytes, FramesToBytesAttrs} from '../../ops/kernel_names';

function bytesOf(values: unknown, count: number): Uint8Array {
  const words = values as Int32Array;
  return new Uint8Array(words.buffer, words.byteOffset, count);
}

export const framesFromBytesConfig = (backendName: string): KernelConfig => ({
  kernelName: FramesFromBytes,
  backendName,
  kernelFunc: ({inputs, attrs, backend}) => {
    const {shape, scale} = attrs as unknown as FramesFromBytesAttrs;
    const b = backend as KernelBackend;
    const size = shape.reduce((p, d) => p * d, 1);
    const bytes = bytesOf(b.readSync((inputs.packed as TensorInfo).dataId), size);
    const out = new Float32Array(size);
    // float32 arithmetic, as the GPU kernels compute: the same bits on every backend.
    const s = Math.fround(scale);
    for (let i = 0; i < size; i++) out[i] = Math.fround(bytes[i] * s);
    return tf.tensor(out, shape, 'float32');
  },
});

export const framesToBytesConfig = (backendName: string): KernelConfig => ({
  kernelName: FramesToBytes,
  backendName,
  kernelFunc: ({inputs, attrs, backend}) => {
    const {scale} = attrs as unknown as FramesToBytesAttrs;
    const b = backend as KernelBackend;
    const x = inputs.x as TensorInfo;
    const values = b.readSync(x.dataId) as Float32Array;
    const words = new Int32Array(Math.ceil(values.length / 4));
    const bytes = new Uint8Array(words.buffer);
    const s = Math.fround(scale);
    for (let i = 0; i < values.length; i++) {
      const v = Math.fround(values[i] * s);
      // Math.round rounds half up; half away from zero matches the CUDA kernel's roundf.
      bytes[i] = v > 0 ? Math.min(255, Math.round(v)) : 0;
    }
    return tf.tensor1d(words, 'int32');
  },
});
