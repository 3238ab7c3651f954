/**
 * The per-pixel update mask that travels with delta tensors.
 *
 * A delta tensor of shape [...pixels, C] may carry a boolean mask of shape [...pixels] (for NHWC
 * that is [B, H, W]): one flag per pixel, shared by all channels. The mask is kept beside the
 * tensor's data, keyed by its dataId, so a delta model has the same graph topology as its dense
 * twin. A tensor without a mask is dense (every pixel active). Values at inactive pixels are
 * always exact zeros, so every op outside the delta kernels may ignore the mask.
 *
 * Ownership: the mask is an engine tensor that is kept alive for as long as the data it
 * describes, and disposed when the owning backend frees that data (we wrap the backend's
 * disposeData once per backend instance). When the engine moves data to another backend the
 * source frees it, so the mask is dropped and the tensor becomes dense: always correct, only
 * slower.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {DataId, KernelBackend, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

const masks = new WeakMap<DataId, Tensor>();
const hookedBackends = new WeakSet<KernelBackend>();

function hookDispose(backend: KernelBackend): void {
  if (hookedBackends.has(backend)) return;
  hookedBackends.add(backend);
  const dispose = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: DataId, force?: boolean): boolean => {
    const freed = dispose(dataId, force);
    if (freed) {
      const mask = masks.get(dataId);
      if (mask != null) {
        masks.delete(dataId);
        mask.dispose();
      }
    }
    return freed;
  };
}

/** The mask shape a tensor of this shape would carry: every dimension but the channel one. */
export function maskShapeOf(shape: readonly number[]): number[] {
  return shape.slice(0, -1);
}

/**
 * Attaches `mask` (a bool tensor; ownership passes to the data) to `out`, replacing any mask it
 * had. Kernels call this on their freshly created outputs.
 */
export function attachMask(backend: KernelBackend, out: TensorInfo, mask: Tensor): void {
  hookDispose(backend);
  const expected = maskShapeOf(out.shape);
  if (mask.dtype !== 'bool' || !tf.util.arraysEqual(mask.shape, expected)) {
    throw new Error(`attachMask: mask must be bool of shape [${expected}], got ${mask.dtype} [${mask.shape}]`);
  }
  const previous = masks.get(out.dataId);
  if (previous != null && previous !== mask) previous.dispose();
  tf.keep(mask);
  masks.set(out.dataId, mask);
}

/**
 * The mask of `x` if it carries one that fits its current shape, else null (dense). A reshape
 * shares the dataId but may change the pixel grid; a mask that no longer fits is ignored, which
 * is safe because inactive values are exact zeros.
 */
export function maskOf(x: TensorInfo): Tensor | null {
  const mask = masks.get(x.dataId);
  if (mask == null || mask.isDisposed) return null;
  return tf.util.arraysEqual(mask.shape, maskShapeOf(x.shape)) ? mask : null;
}

/**
 * A copy of the update mask of `x` as a bool tensor of shape x.shape[:-1], or null when `x` is
 * dense. For inspection and tests; the copy is the caller's to dispose.
 */
export function getMask(x: Tensor): Tensor | null {
  const mask = maskOf(x);
  return mask == null ? null : tf.clone(mask);
}

/** Whether `x` carries no mask (every pixel active). */
export function isDense(x: Tensor): boolean {
  return maskOf(x) == null;
}

/** Fraction of active pixels of `x` (1 for a dense tensor). Reads the mask synchronously. */
export function activeFraction(x: Tensor): number {
  const mask = maskOf(x);
  return mask == null ? 1 : maskFraction(mask);
}

/** Whether the active backend keeps tensors in host memory ('cpu', 'tensorflow'), where a read costs a copy at most. */
export function hostBackend(): boolean {
  const backend = tf.getBackend();
  if (backend === 'cpu') return true;
  // 'tensorflow' is tfjs-node's and tfjs-node-gpu's; the latter keeps tensors on the GPU.
  const node = tf.findBackend('tensorflow') as {isUsingGpuDevice?: boolean} | null;
  return backend === 'tensorflow' && node?.isUsingGpuDevice !== true;
}

/**
 * The share of a mask's values that are set. Where tensors live in host memory ('cpu', 'tensorflow') the mask's bytes
 * are read once and counted, which on tfjs-node costs a fraction of a cast, a mean and a read (a delta model's per-layer
 * statistics take two a layer); elsewhere the mean runs on the backend and one number is read back.
 */
export function maskFraction(mask: Tensor): number {
  if (mask.size === 0) return 0;
  if (hostBackend()) {
    const values = mask.dataSync();
    let set = 0;
    for (let i = 0; i < values.length; i++) if (values[i]) set++;
    return Math.fround(set / values.length); // as the float32 mean the other backends take
  }
  return tf.tidy(() => tf.mean(tf.cast(mask, 'float32')).dataSync()[0]);
}

/**
 * Returns a delta tensor with the values of `x` at pixels where `mask` is true, exact zeros
 * elsewhere, and `mask` attached. `mask` has shape x.shape[:-1] (any dtype; non-zero = active).
 */
export function withMask(x: Tensor, mask: Tensor): Tensor {
  const expected = maskShapeOf(x.shape);
  if (!tf.util.arraysEqual(mask.shape, expected)) {
    throw new Error(
      `withMask: argument 'mask' must have shape [${expected}] (x.shape without ` +
        `channels) for 'x' of shape [${x.shape}], got [${mask.shape}]`,
    );
  }
  if (x.dtype !== 'float32') {
    throw new Error(`withMask: argument 'x' must be float32, got ${x.dtype}`);
  }
  return tf.tidy(() => {
    const flags = tf.cast(mask, 'bool');
    const out = tf.mul(x, tf.expandDims(tf.cast(flags, 'float32'), -1));
    attachMask(tf.engine().findBackend(tf.getBackend())!, out, tf.clone(flags));
    return out;
  });
}
