/**
 * Small tfjs graph models written in memory (model.json's GraphDef nodes + a weights manifest, as
 * tfjs-converter writes them), loaded with tf.loadGraphModel(tf.io.fromMemory(...)) for the
 * fromGraphModel tests: the Python converter is not needed to make them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {GraphModel} from '@tensorflow/tfjs-converter';

import type {GraphNodeDef} from '../../src/delta/graph/from_graph_model';

type Attr = NonNullable<GraphNodeDef['attr']>[string];

export const attr = {
  ints: (values: number[]): Attr => ({list: {i: values.map(String)}}),
  str: (value: string): Attr => ({s: Buffer.from(value).toString('base64')}),
  strs: (values: string[]): Attr => ({list: {s: values.map((v) => Buffer.from(v).toString('base64'))}}),
  bool: (value: boolean): Attr => ({b: value}),
  float: (value: number): Attr => ({f: value}),
  type: (value: string): Attr => ({type: value}),
  int: (value: number): Attr => ({i: String(value)}),
};

export class GraphBuilder {
  readonly nodes: GraphNodeDef[] = [];
  private readonly specs: tf.io.WeightsManifestEntry[] = [];
  private readonly chunks: Uint8Array[] = [];
  private count = 0;

  /** An NHWC float input ([-1, h, w, c]: any batch), or int32. */
  input(name: string, shape: number[], dtype: 'DT_FLOAT' | 'DT_INT32' = 'DT_FLOAT'): string {
    this.nodes.push({
      name,
      op: 'Placeholder',
      attr: {dtype: attr.type(dtype), shape: {shape: {dim: shape.map((d) => ({size: String(d)}))}}},
    });
    return name;
  }

  /** A constant (a weight of the manifest). */
  constant(values: tf.Tensor | number[], shape?: number[], dtype: 'float32' | 'int32' = 'float32'): string {
    const t = values instanceof tf.Tensor ? values : tf.tensor(values, shape ?? [values.length], dtype);
    const name = `const_${this.count++}`;
    const data = t.dtype === 'int32' ? new Int32Array(t.dataSync()) : new Float32Array(t.dataSync());
    this.chunks.push(new Uint8Array(data.buffer));
    this.specs.push({name, shape: t.shape, dtype: t.dtype as 'float32' | 'int32'});
    this.nodes.push({name, op: 'Const', attr: {dtype: attr.type(t.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT')}});
    if (!(values instanceof tf.Tensor)) t.dispose();
    return name;
  }

  op(op: string, inputs: string[], attrs: {[key: string]: Attr} = {}, name?: string): string {
    const id = name ?? `${op.toLowerCase()}_${this.count++}`;
    this.nodes.push({name: id, op, input: inputs, attr: {T: attr.type('DT_FLOAT'), ...attrs}});
    return id;
  }

  artifacts(outputs: string[]): tf.io.ModelArtifacts {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const weightData = new Uint8Array(total);
    let offset = 0;
    for (const c of this.chunks) {
      weightData.set(c, offset);
      offset += c.length;
    }
    const entry = (name: string) => ({name: `${name}:0`, dtype: 'DT_FLOAT' as const});
    return {
      modelTopology: {node: this.nodes, versions: {producer: 1}},
      format: 'graph-model',
      weightSpecs: this.specs,
      weightData: weightData.buffer,
      signature: {
        inputs: Object.fromEntries(
          this.nodes.filter((n) => n.op === 'Placeholder').map((n) => [`${n.name}:0`, entry(n.name)]),
        ),
        outputs: Object.fromEntries(outputs.map((o) => [`${o}:0`, entry(o)])),
      },
    };
  }

  async load(outputs: string[]): Promise<GraphModel> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const converter = require('@tensorflow/tfjs-converter') as typeof import('@tensorflow/tfjs-converter');
    return converter.loadGraphModel(tf.io.fromMemory(this.artifacts(outputs)));
  }
}

/** Common node makers on a builder. */
export function nodes(g: GraphBuilder) {
  const same = attr.str('SAME');
  return {
    conv: (x: string, filter: tf.Tensor, stride = 1, padding = 'SAME', dilation = 1) =>
      g.op('Conv2D', [x, g.constant(filter)], {
        strides: attr.ints([1, stride, stride, 1]),
        padding: attr.str(padding),
        dilations: attr.ints([1, dilation, dilation, 1]),
        data_format: attr.str('NHWC'),
      }),
    fusedConv: (x: string, filter: tf.Tensor, bias: tf.Tensor, fused: string[], stride = 1, extra = {}) =>
      g.op('_FusedConv2D', [x, g.constant(filter), g.constant(bias)], {
        strides: attr.ints([1, stride, stride, 1]),
        padding: same,
        dilations: attr.ints([1, 1, 1, 1]),
        fused_ops: attr.strs(fused),
        num_args: attr.int(1),
        ...extra,
      }),
    depthwise: (x: string, filter: tf.Tensor, stride = 1, padding = 'SAME') =>
      g.op('DepthwiseConv2dNative', [x, g.constant(filter)], {
        strides: attr.ints([1, stride, stride, 1]),
        padding: attr.str(padding),
        dilations: attr.ints([1, 1, 1, 1]),
      }),
    fusedDepthwise: (x: string, filter: tf.Tensor, bias: tf.Tensor, fused: string[], stride = 1) =>
      g.op('FusedDepthwiseConv2dNative', [x, g.constant(filter), g.constant(bias)], {
        strides: attr.ints([1, stride, stride, 1]),
        padding: same,
        dilations: attr.ints([1, 1, 1, 1]),
        fused_ops: attr.strs(fused),
        num_args: attr.int(1),
      }),
    unary: (op: string, x: string, attrs = {}) => g.op(op, [x], attrs),
    binary: (op: string, a: string, b: string) => g.op(op, [a, b]),
    pool: (op: 'MaxPool' | 'AvgPool', x: string, k: number, s: number, padding: string) =>
      g.op(op, [x], {ksize: attr.ints([1, k, k, 1]), strides: attr.ints([1, s, s, 1]), padding: attr.str(padding)}),
  };
}
