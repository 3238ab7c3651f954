/**
 * Standard kernels that mask bookkeeping needs on 'cuda', so that masks never leave the GPU: the
 * comparisons and logical ops (bool outputs), Select (tf.where), Tile (tf.broadcastTo), Any / All, ClipByValue and
 * ExpandDims. The companion delta ops (src/kernels/composite, written with standard tfjs ops) run on these.
 */
import {backend_util, TensorInfo, util} from '@tensorflow/tfjs-core';

import {bytesPerElement, CudaBackend} from '../backend';
import {CompareOp, DTypeCode} from '../native';
import {
  alias,
  broadcastStrides,
  MAX_RANK,
  registerCuda,
  requireFloat,
  sizeOf,
  transposeInto,
  unsupported,
} from './util';

function compare(backend: CudaBackend, op: number, a: TensorInfo, b: TensorInfo): TensorInfo {
  if (a.dtype !== b.dtype) unsupported(`${a.dtype} with ${b.dtype}`);
  const code = DTypeCode[a.dtype];
  if (code === undefined) unsupported(`dtype ${a.dtype}`);
  const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  if (outShape.length > MAX_RANK) unsupported(`rank ${outShape.length} broadcasting`);
  const out = backend.makeOutput(outShape, 'bool');
  return backend.filling(out, (o) =>
    backend.n.compare({
      op,
      dtype: code,
      a: backend.ptr(a),
      b: backend.ptr(b),
      out: backend.ptr(o),
      outShape,
      aStrides: broadcastStrides(a.shape, outShape),
      bStrides: broadcastStrides(b.shape, outShape),
    }),
  );
}

/** Any / All over `axis` of a bool tensor. */
function anyAll(backend: CudaBackend, isAll: boolean, x: TensorInfo, axis: number | number[], keepDims: boolean) {
  if (x.dtype !== 'bool') unsupported(`${isAll ? 'All' : 'Any'} on ${x.dtype}`);
  const axes = util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const out = backend.makeOutput(keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'bool');
  const r = sizeOf(reduceShape);
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  return backend.filling(out, (o) => {
    if (axes.length === 0) {
      backend.n.anyAll({isAll, x: backend.ptr(x), y: backend.ptr(o), outer: sizeOf(x.shape), r: 1, inner: 1});
    } else if (contiguous) {
      const outer = sizeOf(x.shape.slice(0, axes[0])),
        inner = sizeOf(x.shape.slice(axes[axes.length - 1] + 1));
      backend.n.anyAll({isAll, x: backend.ptr(x), y: backend.ptr(o), outer, r, inner});
    } else {
      if (x.shape.length > MAX_RANK) unsupported(`rank ${x.shape.length}`);
      const perm = backend_util.getAxesPermutation(axes, x.shape.length)!;
      const t = backend.makeOutput(
        perm.map((p) => x.shape[p]),
        'bool',
      );
      try {
        transposeInto(backend, 1, backend.ptr(x), x.shape, perm, backend.ptr(t));
        backend.n.anyAll({isAll, x: backend.ptr(t), y: backend.ptr(o), outer: sizeOf(outShape), r, inner: 1});
      } finally {
        backend.disposeIntermediate(t);
      }
    }
  });
}

const compareKernels: Array<[string, number]> = [
  ['Greater', CompareOp.greater],
  ['GreaterEqual', CompareOp.greaterEqual],
  ['Less', CompareOp.less],
  ['LessEqual', CompareOp.lessEqual],
  ['Equal', CompareOp.equal],
  ['NotEqual', CompareOp.notEqual],
  ['LogicalAnd', CompareOp.and],
  ['LogicalOr', CompareOp.or],
];

export function registerDeltaMaskKernels(): void {
  for (const [name, op] of compareKernels)
    registerCuda(name, ({inputs, backend}) => compare(backend, op, inputs.a, inputs.b));
  registerCuda('LogicalNot', ({inputs, backend}) => compare(backend, CompareOp.not, inputs.x, inputs.x));

  registerCuda('Select', ({inputs, backend}) => {
    const {condition, t, e} = inputs;
    if (t.dtype !== e.dtype || DTypeCode[t.dtype] === undefined) unsupported(`${t.dtype} with ${e.dtype}`);
    if (!util.arraysEqual(t.shape, e.shape)) unsupported('branches of different shapes');
    const n = sizeOf(t.shape);
    let condInner = 1;
    if (!util.arraysEqual(condition.shape, t.shape)) {
      if (condition.shape.length !== 1 || condition.shape[0] !== t.shape[0]) unsupported('condition shape');
      condInner = t.shape[0] === 0 ? 1 : n / t.shape[0];
    }
    const out = backend.makeOutput(t.shape, t.dtype);
    if (n === 0) return out;
    return backend.filling(out, (o) =>
      backend.n.select({
        elemBytes: bytesPerElement(t.dtype),
        cond: backend.ptr(condition),
        condInner,
        a: backend.ptr(t),
        b: backend.ptr(e),
        out: backend.ptr(o),
        n,
      }),
    );
  });

  registerCuda<{reps: number[]}>('Tile', ({inputs, backend, attrs}) => {
    const x = inputs.x;
    if (DTypeCode[x.dtype] === undefined) unsupported(`dtype ${x.dtype}`);
    if (x.shape.length > MAX_RANK) unsupported(`rank ${x.shape.length}`);
    const outShape = x.shape.map((s, i) => s * attrs.reps[i]);
    const out = backend.makeOutput(outShape, x.dtype);
    if (sizeOf(outShape) === 0) return out;
    return backend.filling(out, (o) =>
      backend.n.tile({
        elemBytes: bytesPerElement(x.dtype),
        x: backend.ptr(x),
        inShape: x.shape,
        out: backend.ptr(o),
        outShape,
      }),
    );
  });

  registerCuda<{axis: number | number[]; keepDims: boolean}>('Any', ({inputs, backend, attrs}) =>
    anyAll(backend, false, inputs.x, attrs.axis, !!attrs.keepDims),
  );
  registerCuda<{axis: number | number[]; keepDims: boolean}>('All', ({inputs, backend, attrs}) =>
    anyAll(backend, true, inputs.x, attrs.axis, !!attrs.keepDims),
  );

  registerCuda<{clipValueMin: number; clipValueMax: number}>('ClipByValue', ({inputs, backend, attrs}) => {
    const x = inputs.x;
    requireFloat('ClipByValue', x);
    const out = backend.makeOutput(x.shape, 'float32');
    return backend.filling(out, (o) =>
      backend.n.clip({
        x: backend.ptr(x),
        y: backend.ptr(o),
        n: sizeOf(x.shape),
        lo: attrs.clipValueMin,
        hi: attrs.clipValueMax,
      }),
    );
  });

  registerCuda<{dim: number}>('ExpandDims', ({inputs, backend, attrs}) => {
    const x = inputs.input;
    const rank = x.shape.length;
    let dim = attrs.dim;
    if (dim < 0) {
      util.assert(-(rank + 1) <= dim, () => `Axis must be in the interval [${-(rank + 1)}, ${rank}]`);
      dim = rank + dim + 1;
    }
    const shape = x.shape.slice();
    shape.splice(dim, 0, 1);
    return alias(backend, x, shape); // same data, new shape (as Reshape)
  });
}
