/**
 * The input sparsify on 'tensorflow'; see ops/delta_sparsify.ts for the semantics. Where tfjs-delta's native ops
 * are built it runs TfjsDeltaSparsify (native/tensorflow/sparsify.cc): one pass a pixel, the dilation as running
 * counts over a byte plane, the state updated in place. Otherwise from TF ops: the neighbourhood test counts the
 * moved pixels of each window, along columns then rows, as differences of cumulative sums: a few passes over one
 * byte-sized plane, where TF's max pool of a one-channel image compares scalar by scalar (a 7 x 7 pool cost 8x the
 * rest of the kernel at 289x385).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {DeltaSparsify, DeltaSparsifyAttrs} from '../../ops/kernel_names';
import {attachMask} from '../../ops/mask';
import {isNativeState, markNativeState, tensorflowNativeOps} from './native_ops';
import {floatBelow} from './SparseAccumulate';
import {NodeBackend, TfOps} from './tf_ops';

/** Whether the kernel takes tfjs-delta's native op where it is built (tests and benchmarks turn it off). */
let nativeSparsify = true;
export function setTensorflowNativeSparsify(on: boolean): boolean {
  const previous = nativeSparsify;
  nativeSparsify = on;
  return previous;
}

export const deltaSparsifyConfig: KernelConfig = {
  kernelName: DeltaSparsify,
  backendName: 'tensorflow',
  kernelFunc: ({inputs, backend, attrs}) => {
    const {frame, sent} = inputs as {[k: string]: TensorInfo};
    const {threshold, dilation, inPlace} = attrs as unknown as DeltaSparsifyAttrs;
    const ops = new TfOps(backend as NodeBackend);
    if (tensorflowNativeOps() != null && nativeSparsify) {
      const [delta, mask, next] = ops.backend.executeMultipleOutputs(
        'TfjsDeltaSparsify',
        [
          ops.float('threshold', floatBelow(threshold)),
          ops.int('dilation', dilation),
          ops.bool('in_place', inPlace === true && frame.dataId !== sent.dataId && isNativeState(sent)),
        ],
        [frame, sent],
        3,
      );
      attachMask(ops.backend, delta, mask);
      markNativeState(next);
      return [delta, next];
    }
    return tf.tidy(() => {
      const shape = frame.shape;
      const c = shape[shape.length - 1];
      const pixels = shape.slice(0, -1).reduce((x, y) => x * y, 1);
      const d = ops.binary('Sub', frame, sent);
      const largest = ops.reduce('Max', ops.unary('Abs', d), [shape.length - 1], true);
      let send = ops.binary('Greater', largest, ops.scalar(floatBelow(threshold)));
      if (dilation > 1) {
        const r = (dilation - 1) / 2;
        const moved = ops.cast(send, 'float32');
        send = ops.binary('Greater', windowSum(ops, windowSum(ops, moved, 1, r), 2, r), ops.scalar(0.5));
      }
      const rows = (t: TensorInfo) => ops.reshape(t, [pixels, c]);
      const next = ops.rowSelect(ops.reshape(send, [pixels]), rows(ops.binary('AddV2', sent, d)), rows(sent));
      return [ops.masked(d, send), ops.reshape(next, shape)];
    });
  },
};

/** x ([n, h, w, 1], whole numbers) summed over 2r + 1 places along `axis` centred on each, clipped at the edges. */
function windowSum(ops: TfOps, x: Tensor, axis: number, r: number): Tensor {
  const pads: Array<[number, number]> = x.shape.map(() => [0, 0]);
  pads[axis] = [r + 1, r];
  const sums = ops.cumsum(ops.pad(x, pads), axis);
  const from = x.shape.map(() => 0);
  from[axis] = 2 * r + 1;
  return ops.binary(
    'Sub',
    ops.slice(sums, from, x.shape),
    ops.slice(
      sums,
      x.shape.map(() => 0),
      x.shape,
    ),
  );
}
