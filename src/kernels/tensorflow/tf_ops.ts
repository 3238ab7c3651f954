/**
 * TensorFlow eager ops for the 'tensorflow' kernels (tfjs-node and tfjs-node-gpu), called by TF op
 * name through NodeJSKernelBackend.executeSingleOutput, the way tfjs-node's own kernels do. Every
 * op returns an engine Tensor, so a kernel body inside tf.tidy frees its intermediates (and their
 * TF handles) on exit. Nothing here reads data back to the host (the delta conv kernel reads its
 * per-tile summary itself); the only host-to-TF transfers are the small int32 shape/axis/padding
 * operands, scalars and gather/scatter indices TF ops take as inputs.
 *
 * tfjs-node is an optional peer dependency, so it is never imported: NodeBackend describes the
 * part of its backend class these kernels use.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {DataType, KernelBackend, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {attachMask, maskOf, maskShapeOf} from '../../ops/mask';
import {tensorOf} from '../composite/composite_util';
import {pointwiseProduct} from './PointwiseConv';
import {transposedConvsNative, transposedConvValid} from './TransposedConv';
import type {Activation} from '../../ops/validation';

export interface TfAttr {
  name: string;
  type: number;
  value: number | boolean | string | number[];
}

/** The part of tfjs-node's NodeJSKernelBackend ('tensorflow') the kernels use. */
export interface NodeBackend extends KernelBackend {
  binding: {
    TF_ATTR_INT: number;
    TF_ATTR_FLOAT: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_STRING: number;
    TF_ATTR_TYPE: number;
    getNumOfTensors(): number;
  };
  getDTypeInteger(dtype: DataType): number;
  executeSingleOutput(name: string, attrs: TfAttr[], inputs: TensorInfo[]): Tensor;
  executeMultipleOutputs(name: string, attrs: TfAttr[], inputs: TensorInfo[], numOutputs: number): Tensor[];
  /** Uploads pending host values; moves data owned by another backend here. */
  getInputTensorIds(tensors: TensorInfo[]): number[];
}

/** [before, after] padding of the two spatial dimensions. */
export type Pads2 = [[number, number], [number, number]];

export interface ConvGeometry {
  strides: [number, number];
  dilations: [number, number];
  pads: Pads2;
}

/**
 * The explicit pads that make TF's floor-rounded 'EXPLICIT' convolution or pooling produce
 * exactly tfjs's output size, whatever the pad spec and dimRoundingMode: the leading pads as tfjs
 * computed them, and trailing pads that just reach the last window (extra cells beyond the input
 * count as padding, as in the reference kernels; unused trailing rows are simply not padded).
 */
export function explicitPads(info: tf.backend_util.Conv2DInfo): Pads2 {
  const after = (out: number, stride: number, effective: number, size: number, before: number) =>
    Math.max(0, (out - 1) * stride + effective - size - before);
  const {padInfo} = info;
  return [
    [padInfo.top, after(info.outHeight, info.strideHeight, info.effectiveFilterHeight, info.inHeight, padInfo.top)],
    [padInfo.left, after(info.outWidth, info.strideWidth, info.effectiveFilterWidth, info.inWidth, padInfo.left)],
  ];
}

export class TfOps {
  constructor(readonly backend: NodeBackend) {}

  // --- attributes -------------------------------------------------------------------------
  type(name: string, dtype: DataType): TfAttr {
    return {name, type: this.backend.binding.TF_ATTR_TYPE, value: this.backend.getDTypeInteger(dtype)};
  }
  ints(name: string, value: number[]): TfAttr {
    return {name, type: this.backend.binding.TF_ATTR_INT, value};
  }
  int(name: string, value: number): TfAttr {
    return {name, type: this.backend.binding.TF_ATTR_INT, value};
  }
  str(name: string, value: string): TfAttr {
    return {name, type: this.backend.binding.TF_ATTR_STRING, value};
  }
  bool(name: string, value: boolean): TfAttr {
    return {name, type: this.backend.binding.TF_ATTR_BOOL, value};
  }
  float(name: string, value: number): TfAttr {
    return {name, type: this.backend.binding.TF_ATTR_FLOAT, value};
  }

  run(op: string, attrs: TfAttr[], inputs: TensorInfo[]): Tensor {
    return this.backend.executeSingleOutput(op, attrs, inputs);
  }

  // --- constants (created on the active backend, i.e. this one) ---------------------------
  int32(values: number[]): Tensor {
    return tf.tensor1d(values, 'int32');
  }
  scalar(value: number): Tensor {
    return tf.scalar(value, 'float32');
  }
  fill(shape: number[], value: number): Tensor {
    return this.run(
      'Fill',
      [this.type('T', 'float32'), this.type('index_type', 'int32')],
      [this.int32(shape), this.scalar(value)],
    );
  }

  // --- element-wise -----------------------------------------------------------------------
  unary(op: string, x: TensorInfo): Tensor {
    return this.run(op, [this.type('T', x.dtype)], [x]);
  }
  binary(op: 'AddV2' | 'Sub' | 'Mul' | 'Greater', a: TensorInfo, b: TensorInfo): Tensor {
    return this.run(op, [this.type('T', a.dtype)], [a, b]);
  }
  logicalAnd(a: TensorInfo, b: TensorInfo): Tensor {
    return this.run('LogicalAnd', [], [a, b]);
  }
  /** cond ? t : e with broadcasting (TF SelectV2). */
  select(cond: TensorInfo, t: TensorInfo, e: TensorInfo): Tensor {
    return this.run('SelectV2', [this.type('T', t.dtype)], [cond, t, e]);
  }
  /** Rows of t where cond ([rows] bool) holds, else rows of e (t, e: [rows, ...], same shape). */
  rowSelect(cond: TensorInfo, t: TensorInfo, e: TensorInfo): Tensor {
    return this.run('Select', [this.type('T', t.dtype)], [cond, t, e]);
  }
  /** Keeps x where cond holds and writes exact +0 elsewhere. */
  zeroWhereNot(cond: TensorInfo, x: TensorInfo): Tensor {
    return this.select(cond, x, this.scalar(0));
  }
  cast(x: TensorInfo, dtype: DataType): Tensor {
    return this.run('Cast', [this.type('SrcT', x.dtype), this.type('DstT', dtype), this.bool('Truncate', false)], [x]);
  }
  activation(x: TensorInfo, activation: Activation, alpha: number): TensorInfo {
    switch (activation) {
      case 'linear':
        return x;
      case 'relu':
        return this.unary('Relu', x);
      case 'relu6':
        return this.unary('Relu6', x);
      case 'leakyRelu':
        return this.run('LeakyRelu', [this.type('T', x.dtype), this.float('alpha', alpha)], [x]);
      case 'sigmoid':
        return this.unary('Sigmoid', x);
      case 'tanh':
        return this.unary('Tanh', x);
      default:
        throw new Error(`unknown activation '${activation as string}'`);
    }
  }

  // --- shapes -----------------------------------------------------------------------------
  reshape(x: TensorInfo, shape: number[]): Tensor {
    return this.run('Reshape', [this.type('T', x.dtype), this.type('Tshape', 'int32')], [x, this.int32(shape)]);
  }
  /** Zero (or `value`) padding; paddings has one [before, after] pair per dimension. */
  pad(x: TensorInfo, paddings: Array<[number, number]>, value = 0): Tensor {
    return this.run(
      'PadV2',
      [this.type('T', x.dtype), this.type('Tpaddings', 'int32')],
      [x, tf.tensor2d(paddings, [paddings.length, 2], 'int32'), this.scalar(value)],
    );
  }
  slice(x: TensorInfo, begin: number[], size: number[]): Tensor {
    return this.run(
      'Slice',
      [this.type('T', x.dtype), this.type('Index', 'int32')],
      [x, this.int32(begin), this.int32(size)],
    );
  }
  /**
   * The window of x that starts at `begin` (may be negative) and has `shape`: out[i] =
   * x[i + begin], zeros where that lies outside x. Zero-pads, crops, or both per dimension;
   * explicit (even negative) conv pads and the crop of a 'valid' transposed conv are windows.
   */
  window(x: TensorInfo, begin: number[], shape: number[]): TensorInfo {
    const from = begin.map((b) => Math.max(0, b));
    const size = shape.map((n, i) => Math.max(0, Math.min(begin[i] + n, x.shape[i]) - from[i]));
    if (size.some((n) => n === 0)) return this.fill(shape, 0);
    const kept = tf.util.arraysEqual(size, x.shape) ? x : this.slice(x, from, size);
    const pads = shape.map((n, i): [number, number] => [from[i] - begin[i], n - size[i] - (from[i] - begin[i])]);
    return pads.every(([b, a]) => b === 0 && a === 0) ? kept : this.pad(kept, pads);
  }

  /** Rows of x (axis 0) at `indices`. */
  gather(x: TensorInfo, indices: TensorInfo): Tensor {
    return this.run(
      'GatherV2',
      [
        this.type('Tparams', x.dtype),
        this.type('Tindices', 'int32'),
        this.type('Taxis', 'int32'),
        this.int('batch_dims', 0),
      ],
      [x, indices, tf.scalar(0, 'int32')],
    );
  }
  /** A zero tensor of `shape` with `updates` added at `indices` ([n, rank of the indexed prefix]). */
  scatterNd(indices: TensorInfo, updates: TensorInfo, shape: number[]): Tensor {
    return this.run(
      'ScatterNd',
      [this.type('T', updates.dtype), this.type('Tindices', 'int32')],
      [indices, updates, this.int32(shape)],
    );
  }

  /** A copy of x with the rows at `indices` ([n, rank of the indexed prefix]) replaced by `updates`. */
  tensorScatterUpdate(x: TensorInfo, indices: TensorInfo, updates: TensorInfo): Tensor {
    return this.run(
      'TensorScatterUpdate',
      [this.type('T', x.dtype), this.type('Tindices', 'int32')],
      [x, indices, updates],
    );
  }

  // --- reductions -------------------------------------------------------------------------
  reduce(op: 'Max' | 'Mean', x: TensorInfo, axes: number[], keepDims: boolean): Tensor {
    return this.run(
      op,
      [this.bool('keep_dims', keepDims), this.type('T', x.dtype), this.type('Tidx', 'int32')],
      [x, this.int32(axes)],
    );
  }

  /** Inclusive cumulative sum of x along `axis`. */
  cumsum(x: TensorInfo, axis: number): Tensor {
    return this.run(
      'Cumsum',
      [this.bool('exclusive', false), this.bool('reverse', false), this.type('T', x.dtype), this.type('Tidx', 'int32')],
      [x, tf.scalar(axis, 'int32')],
    );
  }

  // --- convolutions and pooling (NHWC / NDHWC) --------------------------------------------
  private conv2dAttrs(g: ConvGeometry): TfAttr[] {
    return [
      this.type('T', 'float32'),
      this.ints('strides', [1, ...g.strides, 1]),
      this.str('padding', 'EXPLICIT'),
      this.ints('explicit_paddings', [0, 0, ...g.pads[0], ...g.pads[1], 0, 0]),
      this.str('data_format', 'NHWC'),
      this.ints('dilations', [1, ...g.dilations, 1]),
    ];
  }
  conv2d(x: TensorInfo, filter: TensorInfo, g: ConvGeometry): Tensor {
    // Unpadded 1x1: a MatMul, not TF's Conv2D, which dies on some of them (PointwiseConv.ts).
    if (filter.shape[0] === 1 && filter.shape[1] === 1 && g.pads.flat().every((p) => p === 0))
      return pointwiseProduct(tensorOf(x), tensorOf(filter), g.strides);
    return this.run('Conv2D', [...this.conv2dAttrs(g), this.bool('use_cudnn_on_gpu', true)], [x, filter]);
  }
  depthwiseConv2d(x: TensorInfo, filter: TensorInfo, g: ConvGeometry): Tensor {
    return this.run('DepthwiseConv2dNative', this.conv2dAttrs(g), [x, filter]);
  }
  /**
   * The 'valid' transposed convolution of dy over 2 or 3 spatial dimensions: (in - 1) * stride + k each, by phases
   * (TransposedConv.ts: TF's own kernel is wrong on some CPUs) unless transposedConvsNative() asks for TF's kernel.
   */
  transposedConvValid(dy: TensorInfo, filter: TensorInfo, strides: number[]): Tensor {
    if (!transposedConvsNative()) return transposedConvValid(tensorOf(dy), tensorOf(filter), strides);
    return this.transposedConvValidNative(dy, filter, strides);
  }
  /** TF's own Conv2DBackpropInput / Conv3DBackpropInputV2, 'valid', as tfjs-node calls them. */
  transposedConvValidNative(dy: TensorInfo, filter: TensorInfo, strides: number[]): Tensor {
    const rank = strides.length;
    const full = [
      dy.shape[0],
      ...strides.map((s, d) => (dy.shape[1 + d] - 1) * s + filter.shape[d]),
      filter.shape[rank],
    ];
    return this.run(
      rank === 2 ? 'Conv2DBackpropInput' : 'Conv3DBackpropInputV2',
      [
        this.type('T', 'float32'),
        this.ints('strides', [1, ...strides, 1]),
        this.str('padding', 'VALID'),
        this.str('data_format', rank === 2 ? 'NHWC' : 'NDHWC'),
        this.ints('dilations', new Array(rank + 2).fill(1)),
        ...(rank === 2 ? [this.bool('use_cudnn_on_gpu', true)] : [this.type('Tshape', 'int32')]),
      ],
      [this.int32(full), filter, dy],
    );
  }
  /**
   * Max pooling over in-bounds cells only (TF ignores explicit padding cells). TF refuses an
   * explicit pad as large as the window; then the padding is -Infinity and the pooling 'valid'
   * (a window wholly in the padding gives -Infinity, which callers mask away).
   */
  maxPool(x: TensorInfo, filterSize: [number, number], strides: [number, number], pads: Pads2): Tensor {
    const wide = pads.some((p, i) => p[0] >= filterSize[i] || p[1] >= filterSize[i]);
    const input = wide ? this.pad(x, [[0, 0], ...pads, [0, 0]], -Infinity) : x;
    const padding = wide
      ? [this.str('padding', 'VALID')]
      : [this.str('padding', 'EXPLICIT'), this.ints('explicit_paddings', [0, 0, ...pads[0], ...pads[1], 0, 0])];
    return this.run(
      'MaxPool',
      [
        this.type('T', 'float32'),
        this.ints('ksize', [1, ...filterSize, 1]),
        this.ints('strides', [1, ...strides, 1]),
        ...padding,
        this.str('data_format', 'NHWC'),
      ],
      [input],
    );
  }
  conv3dValid(x: TensorInfo, filter: TensorInfo, strides: number[]): Tensor {
    return this.run(
      'Conv3D',
      [
        this.type('T', 'float32'),
        this.ints('strides', [1, ...strides, 1]),
        this.str('padding', 'VALID'),
        this.str('data_format', 'NDHWC'),
        this.ints('dilations', [1, 1, 1, 1, 1]),
      ],
      [x, filter],
    );
  }
  /** x + bias over the last dimension. */
  biasAdd(x: TensorInfo, bias: TensorInfo): Tensor {
    return this.run('BiasAdd', [this.type('T', 'float32'), this.str('data_format', 'NHWC')], [x, bias]);
  }
  matMul(a: TensorInfo, b: TensorInfo): Tensor {
    return this.run(
      'MatMul',
      [this.type('T', 'float32'), this.bool('transpose_a', false), this.bool('transpose_b', false)],
      [a, b],
    );
  }

  // --- masks ------------------------------------------------------------------------------
  /**
   * The update mask of delta input `x` as float32 0/1 of shape [...x.shape[:-1], 1]: its
   * attached mask, or ones when it is dense. x is first made this backend's, so that a mask
   * dropped by a move from another backend is not used.
   */
  floatMask(x: TensorInfo): Tensor {
    const shape = [...maskShapeOf(x.shape), 1];
    const mask = this.boolMask(x);
    return mask == null ? this.fill(shape, 1) : this.reshape(this.cast(mask, 'float32'), shape);
  }
  /**
   * The delta output: `values` at pixels where `active` ([...pixels, 1] bool) holds, exact +0
   * elsewhere, carrying that mask.
   */
  masked(values: TensorInfo, active: Tensor): Tensor {
    const out = this.zeroWhereNot(active, values);
    attachMask(this.backend, out, this.reshape(active, maskShapeOf(out.shape)));
    return out;
  }
  /** The bool mask of x (null when dense), after making x this backend's (see floatMask). */
  boolMask(x: TensorInfo): Tensor | null {
    this.backend.getInputTensorIds([x]);
    return maskOf(x);
  }
}
