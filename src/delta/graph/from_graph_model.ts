/**
 * fromGraphModel: a tfjs-converter graph model (a GraphDef of TF ops and its weights) rebuilt as a
 * tf.layers LayersModel that computes the same outputs, so that toDelta (which maps tf.layers layers
 * to their delta twins) can make it a delta model. Most tfjs models on npm are graph models.
 *
 * Node by node: convolutions (Conv2D, DepthwiseConv2dNative, their _Fused / Fused forms, and
 * Conv2DBackpropInput) become tf.layers.conv2d / depthwiseConv2d / conv2dTranspose with a BiasAdd
 * (or an Add of a per-channel constant) and an activation that follow them folded in, as the
 * converter's own fusions do; MatMul becomes dense; activations, pooling, Add / AddN / Mul of
 * tensors, ConcatV2, Pad, Reshape and Squeeze their tf.layers equivalents; arithmetic with a
 * constant, channel padding and resizing with TF's pixel conventions the layers of ./layers.ts.
 * Batch-1 bookkeeping (Unpack / Squeeze / ExpandDims of the batch axis, Cast of the input to
 * float) is dropped, so the LayersModel takes any batch size; its inputs are float32 (an int32
 * image input takes the same values as floats). Graphs whose tail decodes results with ops tf.layers
 * cannot express (ArgMax, GatherNd, NonMaxSuppression...) convert up to chosen `outputs`.
 *
 * The LayersModel's variables are given the graph's weight tensors (tfjs shares their buffers by
 * reference count rather than copying them), so the graph model may be disposed afterwards.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {nodeFileSystem} from '../../io/node_file_system';
import {conv2dLayer, depthwiseConv2dLayer} from '../../layers/fused_layers';
import {ChannelPadding, ConstantOp, ConstantOpKind, Resize2D} from './layers';

interface AttrValue {
  list?: {i?: string[]; s?: string[]; f?: number[]};
  s?: string;
  i?: string;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: {dim?: Array<{size?: string}>; unknownRank?: boolean};
}

/** One node of a graph model's GraphDef (model.json's modelTopology.node). */
export interface GraphNodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: {[key: string]: AttrValue};
}

export interface FromGraphModelOptions {
  /**
   * The graph nodes whose values become the model's outputs (names, with or without ':0'); default
   * the graph's own outputs. Pick the tensors before a tail that decodes results with ops tf.layers
   * cannot express (the error naming such a node lists the tensors it reads).
   */
  outputs?: string[];
  /** Shape of the (single) input without its batch axis, e.g. [null, null, 3]; default the graph's. */
  inputShape?: Array<number | null>;
  /** Name of the LayersModel (default 'graph_model'). */
  name?: string;
}

/** What fromGraphModel converts: a loaded GraphModel (tfjs-converter), or model artifacts (model.json + weights). */
export type GraphModelSource = tf.InferenceModel | tf.io.ModelArtifacts;

type Sym = tfl.SymbolicTensor;
type Val = {kind: 'const'; tensor: tf.Tensor} | {kind: 'sym'; sym: Sym; batched: boolean};

/** The ops fromGraphModel converts (and what it refuses others with). */
export const SUPPORTED_GRAPH_OPS = [
  'Placeholder',
  'Const',
  'Identity',
  'StopGradient',
  'Snapshot',
  'Cast (to float)',
  'Conv2D',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2dNative',
  'Conv2DBackpropInput',
  'MatMul',
  '_FusedMatMul',
  'BiasAdd',
  'Add',
  'AddV2',
  'AddN',
  'Sub',
  'Mul',
  'RealDiv (by a constant)',
  'Relu',
  'Relu6',
  'Elu',
  'Selu',
  'Sigmoid',
  'Tanh',
  'LeakyRelu',
  'Softmax',
  'MaxPool',
  'AvgPool',
  'Mean (over height and width)',
  'ConcatV2',
  'Pad',
  'PadV2 (zero)',
  'ResizeBilinear',
  'ResizeNearestNeighbor',
  'Reshape',
  'Squeeze',
  'ExpandDims',
  'Unpack (batch 1)',
];

const ACTIVATIONS: {[op: string]: 'relu' | 'relu6' | 'elu' | 'selu' | 'sigmoid' | 'tanh'} = {
  Relu: 'relu',
  Relu6: 'relu6',
  Elu: 'elu',
  Selu: 'selu',
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
};
const LINEAR_OPS = new Set([
  'Conv2D',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2dNative',
  'Conv2DBackpropInput',
  'MatMul',
  '_FusedMatMul',
]);
const PASS_THROUGH = new Set(['Identity', 'StopGradient', 'Snapshot']);

function baseName(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

function outputIndex(ref: string): number {
  const m = /:(\d+)$/.exec(ref);
  return m == null ? 0 : Number(m[1]);
}

function decode(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

function attrString(node: GraphNodeDef, key: string): string | undefined {
  const s = node.attr?.[key]?.s;
  return s == null ? undefined : decode(s);
}

function attrInts(node: GraphNodeDef, key: string): number[] | undefined {
  return node.attr?.[key]?.list?.i?.map(Number);
}

function attrStrings(node: GraphNodeDef, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map(decode);
}

function attrBool(node: GraphNodeDef, key: string): boolean {
  return node.attr?.[key]?.b === true;
}

function attrFloat(node: GraphNodeDef, key: string, fallback: number): number {
  const f = node.attr?.[key]?.f;
  return f == null ? fallback : Number(f);
}

/** A readable, valid layer name from a TF node name (its last two scopes). */
function layerNameOf(node: string): string {
  const parts = node.split('/').filter((p) => p !== 'StatefulPartitionedCall' && p !== 'PartitionedCall');
  // tfjs weight names must start with a letter or digit.
  const name = parts
    .slice(-2)
    .join('_')
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '');
  return name === '' ? 'node' : name;
}

class GraphConversionError extends Error {
  constructor(
    message: string,
    readonly node: string,
  ) {
    super(message);
  }
}

/** The graph and its constants, from a GraphModel or from artifacts. */
function readGraph(source: GraphModelSource): {
  nodes: GraphNodeDef[];
  constant: (name: string) => tf.Tensor | undefined;
  signatureOutputs: string[] | null;
  dispose: () => void;
} {
  const asArtifacts = source as tf.io.ModelArtifacts;
  const held = (source as unknown as {artifacts?: tf.io.ModelArtifacts}).artifacts;
  const weightsMap = (source as unknown as {weights?: {[name: string]: tf.Tensor[]}}).weights;
  const artifacts = held ?? asArtifacts;
  const topology = artifacts?.modelTopology as {node?: GraphNodeDef[]} | undefined;
  if (topology == null || !Array.isArray(topology.node)) {
    throw new Error(
      'fromGraphModel: argument is not a graph model: expected a GraphModel (tf.loadGraphModel) or the ' +
        'artifacts of a graph model (model.json with modelTopology.node and weights)',
    );
  }
  // tfjs-converter reads the signature from either place, and a GraphModel lists its outputs in that order.
  const metadata = artifacts.userDefinedMetadata as {signature?: unknown} | undefined;
  const signature = (artifacts.signature ?? metadata?.signature) as
    {outputs?: {[key: string]: {name?: string}}} | undefined;
  const listed = (source as unknown as {outputNodes?: unknown}).outputNodes;
  const signatureOutputs = Array.isArray(listed)
    ? (listed as string[])
    : signature?.outputs != null
      ? Object.entries(signature.outputs).map(([key, o]) => o.name ?? key)
      : null;
  if (held != null && weightsMap != null) {
    return {
      nodes: topology.node,
      constant: (name) => weightsMap[name]?.[0],
      signatureOutputs,
      dispose: () => {},
    };
  }
  if (artifacts.weightSpecs == null || artifacts.weightData == null) {
    throw new Error('fromGraphModel: the graph model artifacts hold no weights (weightSpecs / weightData)');
  }
  const weights = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  return {
    nodes: topology.node,
    constant: (name) => weights[name],
    signatureOutputs,
    dispose: () => tf.dispose(Object.values(weights)),
  };
}

/**
 * The LayersModel a graph model stands for; see the file comment. A GraphModel or artifacts convert
 * at once; a model.json path (or file:// URL, or a tf.io IOHandler) is loaded first.
 */
export function fromGraphModel(source: GraphModelSource, options?: FromGraphModelOptions): tfl.LayersModel;
export function fromGraphModel(
  source: string | tf.io.IOHandler,
  options?: FromGraphModelOptions,
): Promise<tfl.LayersModel>;
export function fromGraphModel(
  source: GraphModelSource | string | tf.io.IOHandler,
  options: FromGraphModelOptions = {},
): tfl.LayersModel | Promise<tfl.LayersModel> {
  // A GraphModel has a load() too; only an IOHandler has load() without execute().
  const isHandler =
    typeof (source as tf.io.IOHandler).load === 'function' &&
    typeof (source as tf.InferenceModel).execute !== 'function';
  if (typeof source === 'string' || isHandler) {
    const handler =
      typeof source === 'string'
        ? /^https?:\/\//.test(source)
          ? tf.io.http(source)
          : nodeFileSystem(source)
        : (source as tf.io.IOHandler);
    return handler.load!().then((artifacts) => convert(artifacts, options));
  }
  return convert(source as GraphModelSource, options);
}

function convert(source: GraphModelSource, options: FromGraphModelOptions): tfl.LayersModel {
  const graph = readGraph(source);
  try {
    return new Converter(graph.nodes, graph.constant, options).run(graph.signatureOutputs);
  } finally {
    graph.dispose();
  }
}

interface Fold {
  bias?: tf.Tensor;
  activation?: string;
}

class Converter {
  private readonly nodes = new Map<string, GraphNodeDef>();
  private readonly consumers = new Map<string, GraphNodeDef[]>();
  private readonly values = new Map<string, Val>();
  /** Node -> the linear node it was folded into (a bias add or an activation). */
  private readonly foldedInto = new Map<string, string>();
  private readonly folds = new Map<string, Fold>();
  private readonly inputs: Sym[] = [];
  private readonly assignments: Array<{layer: tfl.layers.Layer; values: tf.Tensor[]}> = [];
  private readonly temporaries: tf.Tensor[] = [];
  private readonly usedNames = new Set<string>();
  private readonly visiting = new Set<string>();

  constructor(
    nodeList: GraphNodeDef[],
    private readonly constant: (name: string) => tf.Tensor | undefined,
    private readonly options: FromGraphModelOptions,
  ) {
    for (const node of nodeList) {
      this.nodes.set(node.name, node);
      this.consumers.set(node.name, []);
    }
    for (const node of nodeList) {
      for (const ref of node.input ?? []) this.consumers.get(baseName(ref))?.push(node);
    }
  }

  run(signatureOutputs: string[] | null): tfl.LayersModel {
    const requested =
      this.options.outputs ??
      signatureOutputs ??
      [...this.nodes.values()]
        .filter((n) => n.op !== 'Const' && this.consumers.get(n.name)!.length === 0)
        .map((n) => n.name);
    if (requested.length === 0) throw new Error('fromGraphModel: the graph has no outputs');
    for (const ref of requested) {
      if (!this.nodes.has(baseName(ref))) {
        throw new Error(`fromGraphModel: output '${ref}' is not a node of the graph`);
      }
    }
    this.planFolds(new Set(requested.map(baseName)));
    try {
      let outputs: Sym[];
      try {
        outputs = this.outputs(requested);
      } catch (e) {
        if (!(e instanceof GraphConversionError)) throw e;
        const before = this.convertibleBefore(e.node);
        const listed = before.slice(0, 16).map((n) => `'${n}'`);
        const more = before.length > listed.length ? ` and ${before.length - listed.length} more` : '';
        throw new Error(
          e.message +
            (before.length > 0
              ? ` The graph converts up to ${listed.join(', ')}${more}: pass the ones wanted as options.outputs ` +
                `to convert the graph without its head.`
              : ''),
        );
      }
      if (this.inputs.length === 0) throw new Error('fromGraphModel: the outputs do not depend on any Placeholder');
      const model = tfl.model({inputs: this.inputs, outputs, name: this.options.name ?? 'graph_model'});
      for (const {layer, values} of this.assignments) layer.setWeights(values);
      return model;
    } finally {
      tf.dispose(this.temporaries);
    }
  }

  private outputs(requested: string[]): Sym[] {
    return requested.map((ref) => {
      const v = this.value(ref);
      if (v.kind !== 'sym' || !v.batched) {
        throw new Error(
          `fromGraphModel: output '${ref}' is ${v.kind === 'const' ? 'a constant' : 'a tensor without its batch axis'}; pick another output`,
        );
      }
      return v.sym;
    });
  }

  // ---- folding of bias adds and activations into the linear layer before them ----------------

  private outChannels(node: GraphNodeDef): number | null {
    const filter = this.constant(baseName(node.input?.[1] ?? ''));
    if (filter == null || filter.rank < 2) return null;
    const [s0, s1, s2, s3] = filter.shape as [number, number, number?, number?];
    switch (node.op) {
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return (s2 ?? 0) * (s3 ?? 0);
      case 'Conv2DBackpropInput':
        return s2 ?? null;
      case 'MatMul':
      case '_FusedMatMul':
        return attrBool(node, 'transpose_b') ? s0 : s1;
      default:
        return s3 ?? null;
    }
  }

  /** The per-channel constant `node` adds to `tail`, if it is a bias add of `channels` values. */
  private biasOf(node: GraphNodeDef, tail: string, channels: number): tf.Tensor | null {
    if (!['BiasAdd', 'Add', 'AddV2'].includes(node.op) || (node.input ?? []).length !== 2) return null;
    const [a, b] = node.input!;
    const other =
      baseName(a) === tail && outputIndex(a) === 0 ? b : baseName(b) === tail && outputIndex(b) === 0 ? a : null;
    if (other == null || (node.op === 'BiasAdd' && other !== b)) return null;
    const c = this.constantValue(other);
    if (c == null || c.size !== channels || c.shape.slice(0, -1).some((d) => d !== 1)) return null;
    return c;
  }

  private planFolds(outputs: Set<string>): void {
    for (const node of this.nodes.values()) {
      if (!LINEAR_OPS.has(node.op)) continue;
      const fused = attrStrings(node, 'fused_ops');
      if (fused.length > 1) continue; // already has its activation
      const channels = this.outChannels(node);
      if (channels == null) continue;
      const fold: Fold = {};
      let hasBias = fused[0] === 'BiasAdd';
      let tail = node.name;
      for (;;) {
        const next = this.consumers.get(tail)!;
        if (next.length !== 1 || outputs.has(tail)) break;
        const consumer = next[0];
        const bias = hasBias ? null : this.biasOf(consumer, tail, channels);
        if (bias != null) {
          fold.bias = bias;
          hasBias = true;
        } else if (ACTIVATIONS[consumer.op] != null && (consumer.input ?? []).length === 1) {
          fold.activation = ACTIVATIONS[consumer.op];
        } else {
          break;
        }
        this.foldedInto.set(consumer.name, node.name);
        tail = consumer.name;
        if (fold.activation != null) break;
      }
      if (fold.bias != null || fold.activation != null) this.folds.set(node.name, fold);
    }
  }

  // ---- values --------------------------------------------------------------------------------

  private constantValue(ref: string): tf.Tensor | null {
    let node = this.nodes.get(baseName(ref));
    while (node != null && PASS_THROUGH.has(node.op)) node = this.nodes.get(baseName(node.input?.[0] ?? ''));
    if (node == null || node.op !== 'Const') return null;
    const t = this.constant(node.name);
    if (t == null) this.refuse(node, `its value is not among the model's weights`);
    return t;
  }

  private value(ref: string): Val {
    const name = baseName(ref);
    const folded = this.foldedInto.get(name);
    if (folded != null) return this.value(folded);
    const node = this.nodes.get(name);
    if (node == null) throw new Error(`fromGraphModel: node '${name}' is referenced but not defined`);
    if (outputIndex(ref) !== 0)
      this.refuse(node, `its output ${outputIndex(ref)} is read; only single-output nodes convert`);
    const known = this.values.get(name);
    if (known != null) return known;
    if (this.visiting.has(name)) this.refuse(node, 'the graph has a cycle through it');
    this.visiting.add(name);
    try {
      const v = this.convertNode(node);
      this.values.set(name, v);
      return v;
    } finally {
      this.visiting.delete(name);
    }
  }

  /** The batched symbolic tensor behind input `ref` of `node`. */
  private sym(node: GraphNodeDef, ref: string | undefined): Sym {
    if (ref == null) this.refuse(node, 'an input is missing');
    const v = this.value(ref);
    if (v.kind === 'const') this.refuse(node, `input '${ref}' is a constant where a tensor is expected`);
    if (!v.batched) this.refuse(node, `input '${ref}' has lost its batch axis (it is reshaped back before use)`);
    return v.sym;
  }

  private refuse(node: GraphNodeDef, why: string): never {
    throw new GraphConversionError(
      `fromGraphModel: node '${node.name}' (op ${node.op}) cannot be expressed with tf.layers: ${why}. ` +
        `Supported ops: ${SUPPORTED_GRAPH_OPS.join(', ')}.`,
      node.name,
    );
  }

  /**
   * The last tensors before `start` that convert: walking back from the refused node through the
   * inputs that do not convert either. They are what `outputs` can name to convert the graph's head.
   */
  private convertibleBefore(start: string): string[] {
    const found = new Set<string>();
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      for (const ref of this.nodes.get(name)?.input ?? []) {
        const producer = this.nodes.get(baseName(ref));
        if (ref.startsWith('^') || producer == null || producer.op === 'Const') continue;
        let converts = false;
        try {
          const v = this.value(ref);
          converts = v.kind === 'sym' && v.batched;
        } catch (e) {
          if (!(e instanceof GraphConversionError)) throw e;
        }
        if (converts) found.add(baseName(ref));
        else visit(baseName(ref));
      }
    };
    visit(start);
    return [...found];
  }

  private unique(node: string): string {
    const wanted = layerNameOf(node);
    let name = wanted;
    for (let k = 1; this.usedNames.has(name); k++) name = `${wanted}_${k}`;
    this.usedNames.add(name);
    return name;
  }

  private apply(layer: tfl.layers.Layer, inputs: Sym | Sym[], values?: tf.Tensor[]): Val {
    const sym = layer.apply(inputs) as Sym;
    if (values != null && values.length > 0) this.assignments.push({layer, values});
    return {kind: 'sym', sym, batched: true};
  }

  private temporary(t: tf.Tensor): tf.Tensor {
    this.temporaries.push(t);
    return t;
  }

  private convertNode(node: GraphNodeDef): Val {
    const ins = (node.input ?? []).filter((ref) => !ref.startsWith('^'));
    const format = attrString(node, 'data_format');
    if (format != null && format !== 'NHWC') this.refuse(node, `data_format ${format}; only NHWC converts`);
    const op = node.op;
    if (op === 'Const') {
      const t = this.constantValue(node.name);
      return {kind: 'const', tensor: t!};
    }
    if (op === 'Placeholder') return this.placeholder(node);
    if (PASS_THROUGH.has(op) || (op === 'IdentityN' && ins.length === 1)) return this.value(ins[0]);
    if (op === 'Cast') {
      const to = node.attr?.DstT?.type;
      if (to !== 'DT_FLOAT') this.refuse(node, `casts to ${to}; only casts to float convert`);
      return this.value(ins[0]);
    }
    if (LINEAR_OPS.has(op)) return this.linear(node, ins);
    if (ACTIVATIONS[op] != null) {
      return this.apply(
        tfl.layers.activation({activation: ACTIVATIONS[op], name: this.unique(node.name)}),
        this.sym(node, ins[0]),
      );
    }
    switch (op) {
      case 'LeakyRelu':
        return this.apply(
          tfl.layers.leakyReLU({alpha: attrFloat(node, 'alpha', 0.2), name: this.unique(node.name)}),
          this.sym(node, ins[0]),
        );
      case 'Softmax':
        return this.apply(tfl.layers.softmax({axis: -1, name: this.unique(node.name)}), this.sym(node, ins[0]));
      case 'BiasAdd':
      case 'Add':
      case 'AddV2':
      case 'Sub':
      case 'Mul':
      case 'RealDiv':
        return this.binary(node, ins);
      case 'AddN': {
        const syms = ins.map((ref) => this.sym(node, ref));
        return syms.length === 1
          ? this.value(ins[0])
          : this.apply(tfl.layers.add({name: this.unique(node.name)}), syms);
      }
      case 'MaxPool':
      case 'AvgPool':
        return this.pool(node, ins);
      case 'Mean':
        return this.mean(node, ins);
      case 'ConcatV2':
        return this.concat(node, ins);
      case 'Pad':
      case 'PadV2':
        return this.pad(node, ins);
      case 'ResizeBilinear':
      case 'ResizeNearestNeighbor':
        return this.resize(node, ins);
      case 'Reshape':
        return this.reshape(node, ins);
      case 'Squeeze':
        return this.squeeze(node, ins);
      case 'ExpandDims':
        return this.expandDims(node, ins);
      case 'Unpack': {
        const v = this.value(ins[0]);
        const axis = Number(node.attr?.axis?.i ?? 0);
        if (v.kind !== 'sym' || !v.batched || axis !== 0 || Number(node.attr?.num?.i) !== 1) {
          this.refuse(node, 'only an Unpack of the batch axis of a batch-1 tensor converts');
        }
        return {kind: 'sym', sym: v.sym, batched: false};
      }
      default:
        this.refuse(node, 'no tf.layers layer computes it');
    }
  }

  private placeholder(node: GraphNodeDef): Val {
    const dims = node.attr?.shape?.shape?.dim?.map((d) => Number(d.size ?? -1));
    let shape: Array<number | null>;
    if (this.options.inputShape != null) {
      shape = [...this.options.inputShape];
    } else {
      if (dims == null || dims.length < 2) this.refuse(node, 'its shape is unknown; pass inputShape');
      shape = dims.slice(1).map((d) => (d < 0 ? null : d));
    }
    const type = node.attr?.dtype?.type;
    if (type != null && !['DT_FLOAT', 'DT_INT32', 'DT_UINT8', 'DT_HALF'].includes(type)) {
      this.refuse(node, `its dtype ${type} is not numeric`);
    }
    const input = tfl.input({shape, name: this.unique(node.name), dtype: 'float32'});
    this.inputs.push(input);
    return {kind: 'sym', sym: input, batched: true};
  }

  // ---- layers ----------------------------------------------------------------------------------

  private linear(node: GraphNodeDef, ins: string[]): Val {
    const isTranspose = node.op === 'Conv2DBackpropInput';
    const isDense = node.op === 'MatMul' || node.op === '_FusedMatMul';
    const x = this.sym(node, isTranspose ? ins[2] : ins[0]);
    const filterRef = ins[1];
    const filter = filterRef == null ? null : this.constantValue(filterRef);
    if (filter == null) this.refuse(node, 'its weights are not a constant');
    const fused = attrStrings(node, 'fused_ops');
    const fold = this.folds.get(node.name) ?? {};
    let bias: tf.Tensor | undefined = fold.bias;
    let activation = fold.activation;
    let leakyAlpha: number | null = null;
    if (fused.length > 0) {
      if (fused[0] !== 'BiasAdd' || fused.length > 2)
        this.refuse(node, `fused ops [${fused}] (BiasAdd, then one activation, convert)`);
      const b = this.constantValue(ins[2] ?? '');
      if (b == null) this.refuse(node, 'its fused bias is not a constant');
      bias = b;
      if (fused[1] === 'LeakyRelu') {
        leakyAlpha = attrFloat(node, 'leakyrelu_alpha', 0.2);
      } else if (fused[1] != null) {
        activation = ACTIVATIONS[fused[1]];
        if (activation == null) this.refuse(node, `fused activation ${fused[1]}`);
      }
    }
    const name = this.unique(node.name);
    const act = (activation ?? 'linear') as 'linear';
    let layer: tfl.layers.Layer;
    let kernel = filter;
    let input = x;
    if (isDense) {
      if (attrBool(node, 'transpose_a')) this.refuse(node, 'transpose_a');
      if (x.shape.length !== 2)
        this.refuse(node, `it multiplies a tensor of shape [${x.shape}]; only [batch, features] converts`);
      if (filter.rank !== 2) this.refuse(node, `its weights have shape [${filter.shape}]`);
      if (attrBool(node, 'transpose_b')) kernel = this.temporary(tf.transpose(filter));
      layer = tfl.layers.dense({units: kernel.shape[1]!, useBias: bias != null, activation: act, name});
    } else {
      if (filter.rank !== 4) this.refuse(node, `its filter has shape [${filter.shape}]`);
      const strides = attrInts(node, 'strides') ?? [1, 1, 1, 1];
      const dilations = attrInts(node, 'dilations') ?? [1, 1, 1, 1];
      if (strides[0] !== 1 || strides[3] !== 1) this.refuse(node, `strides [${strides}] move along batch or channels`);
      let padding = (attrString(node, 'padding') ?? 'VALID').toLowerCase();
      if (padding === 'explicit') {
        const p = attrInts(node, 'explicit_paddings') ?? [];
        if (isTranspose || p.length !== 8 || p[0] || p[1] || p[6] || p[7])
          this.refuse(node, `explicit paddings [${p}]`);
        input = tfl.layers
          .zeroPadding2d({
            padding: [
              [p[2], p[3]],
              [p[4], p[5]],
            ],
            name: this.unique(`${node.name}/pad`),
          })
          .apply(input) as Sym;
        padding = 'valid';
      }
      if (padding !== 'same' && padding !== 'valid') this.refuse(node, `padding ${padding}`);
      const common = {
        kernelSize: [filter.shape[0]!, filter.shape[1]!] as [number, number],
        strides: [strides[1], strides[2]] as [number, number],
        padding: padding as 'same' | 'valid',
        useBias: bias != null,
        activation: act,
        name,
      };
      if (isTranspose) {
        if (dilations.some((d) => d !== 1)) this.refuse(node, `dilations [${dilations}]`);
        layer = tfl.layers.conv2dTranspose({...common, filters: filter.shape[2]!});
      } else {
        const dilationRate = [dilations[1], dilations[2]] as [number, number];
        // On tfjs's fused ops (layers/fused_layers.ts), whose DepthwiseConv2D dilates (tfjs-layers' own does not).
        layer = node.op.includes('Depthwise')
          ? depthwiseConv2dLayer({...common, dilationRate, depthMultiplier: filter.shape[3]!})
          : conv2dLayer({...common, dilationRate, filters: filter.shape[3]!});
      }
    }
    const values = [kernel];
    if (bias != null) values.push(bias.rank === 1 ? bias : this.temporary(tf.reshape(bias, [-1])));
    let out = this.apply(layer, input, values);
    if (isTranspose) this.checkTransposeShape(node, ins[0], out);
    if (leakyAlpha != null) {
      out = this.apply(
        tfl.layers.leakyReLU({alpha: leakyAlpha, name: this.unique(`${node.name}/leaky`)}),
        (out as {sym: Sym}).sym,
      );
    }
    return out;
  }

  private checkTransposeShape(node: GraphNodeDef, sizesRef: string, out: Val): void {
    const sizes = this.constantValue(sizesRef);
    if (sizes == null || out.kind !== 'sym') return;
    const want = Array.from(sizes.dataSync()).slice(1);
    const got = out.sym.shape.slice(1);
    if (got.some((d, i) => d != null && d !== want[i])) {
      this.refuse(node, `its output size [${want}] differs from tf.layers.conv2dTranspose's [${got}]`);
    }
  }

  private binary(node: GraphNodeDef, ins: string[]): Val {
    if (ins.length !== 2) this.refuse(node, `it has ${ins.length} inputs`);
    const [a, b] = ins.map((ref) => this.value(ref));
    if (a.kind === 'const' && b.kind === 'const') this.refuse(node, 'both inputs are constants (fold them first)');
    if (a.kind === 'sym' && b.kind === 'sym') {
      const [x, y] = [this.sym(node, ins[0]), this.sym(node, ins[1])];
      switch (node.op) {
        case 'Mul':
          return this.apply(tfl.layers.multiply({name: this.unique(node.name)}), [x, y]);
        case 'Sub': {
          // x - y as x + (-1 * y): negation is exact, so the sum rounds as the difference does.
          const negated = this.constantOp(`${node.name}/neg`, 'mul', y, this.temporary(tf.scalar(-1)));
          return this.apply(tfl.layers.add({name: this.unique(node.name)}), [x, negated]);
        }
        case 'RealDiv':
          return this.refuse(node, 'it divides by a tensor; only division by a constant converts');
        default:
          return this.apply(tfl.layers.add({name: this.unique(node.name)}), [x, y]);
      }
    }
    const constFirst = a.kind === 'const';
    const c = (constFirst ? a : b) as {tensor: tf.Tensor};
    const x = this.sym(node, constFirst ? ins[1] : ins[0]);
    let kind: ConstantOpKind;
    switch (node.op) {
      case 'Mul':
        kind = 'mul';
        break;
      case 'Sub':
        kind = constFirst ? 'rsub' : 'sub';
        break;
      case 'RealDiv':
        if (constFirst) this.refuse(node, 'it divides a constant by a tensor');
        kind = 'div';
        break;
      default:
        kind = 'add';
    }
    return {kind: 'sym', sym: this.constantOp(node.name, kind, x, c.tensor, node), batched: true};
  }

  /** A ConstantOp layer on `x` with constant `c` (its batch axis, if any, dropped). */
  private constantOp(nodeName: string, kind: ConstantOpKind, x: Sym, c: tf.Tensor, node?: GraphNodeDef): Sym {
    let shape = [...c.shape];
    if (shape.length > x.shape.length || (shape.length === x.shape.length && shape[0] !== 1)) {
      if (node != null) this.refuse(node, `its constant of shape [${c.shape}] reaches the batch axis of [${x.shape}]`);
    }
    if (shape.length === x.shape.length) shape = shape.slice(1);
    while (shape.length > 0 && shape[0] === 1) shape = shape.slice(1);
    if (shape.length === 0) shape = [1];
    const layer = new ConstantOp({op: kind, constantShape: shape, name: this.unique(nodeName)});
    const value = this.temporary(tf.reshape(c.dtype === 'float32' ? c : tf.cast(c, 'float32'), shape));
    return (this.apply(layer, x, [value]) as {sym: Sym}).sym;
  }

  private pool(node: GraphNodeDef, ins: string[]): Val {
    const ksize = attrInts(node, 'ksize') ?? [];
    const strides = attrInts(node, 'strides') ?? [];
    const padding = (attrString(node, 'padding') ?? '').toLowerCase();
    if (ksize.length !== 4 || ksize[0] !== 1 || ksize[3] !== 1 || strides[0] !== 1 || strides[3] !== 1) {
      this.refuse(node, `window [${ksize}] / strides [${strides}] pool across batch or channels`);
    }
    if (padding !== 'same' && padding !== 'valid') this.refuse(node, `padding ${padding}`);
    const args = {
      poolSize: [ksize[1], ksize[2]] as [number, number],
      strides: [strides[1], strides[2]] as [number, number],
      padding: padding as 'same' | 'valid',
      name: this.unique(node.name),
    };
    const layer = node.op === 'MaxPool' ? tfl.layers.maxPooling2d(args) : tfl.layers.averagePooling2d(args);
    return this.apply(layer, this.sym(node, ins[0]));
  }

  private mean(node: GraphNodeDef, ins: string[]): Val {
    const x = this.sym(node, ins[0]);
    const axes = this.constantValue(ins[1] ?? '');
    const list =
      axes == null
        ? []
        : Array.from(axes.dataSync())
            .map((a) => (a < 0 ? a + x.shape.length : a))
            .sort();
    if (x.shape.length !== 4 || list.join() !== '1,2')
      this.refuse(node, 'only a mean over height and width of NHWC converts');
    const pooled = this.apply(tfl.layers.globalAveragePooling2d({name: this.unique(node.name)}), x);
    if (!attrBool(node, 'keep_dims')) return pooled;
    const channels = x.shape[3];
    if (channels == null) this.refuse(node, 'its channel count is unknown');
    return this.apply(
      tfl.layers.reshape({targetShape: [1, 1, channels], name: this.unique(`${node.name}/keep_dims`)}),
      (pooled as {sym: Sym}).sym,
    );
  }

  private concat(node: GraphNodeDef, ins: string[]): Val {
    const axisT = this.constantValue(ins[ins.length - 1] ?? '');
    if (axisT == null) this.refuse(node, 'its axis is not a constant');
    const syms = ins.slice(0, -1).map((ref) => this.sym(node, ref));
    const rank = syms[0].shape.length;
    let axis = axisT.dataSync()[0];
    if (axis < 0) axis += rank;
    if (axis <= 0 || axis >= rank)
      this.refuse(node, `it concatenates along axis ${axisT.dataSync()[0]} (the batch axis)`);
    if (syms.length === 1) return this.value(ins[0]);
    return this.apply(
      tfl.layers.concatenate({axis: axis === rank - 1 ? -1 : axis, name: this.unique(node.name)}),
      syms,
    );
  }

  private pad(node: GraphNodeDef, ins: string[]): Val {
    const x = this.sym(node, ins[0]);
    const paddings = this.constantValue(ins[1] ?? '');
    if (paddings == null) this.refuse(node, 'its paddings are not a constant');
    if (node.op === 'PadV2') {
      const value = this.constantValue(ins[2] ?? '');
      if (value == null || value.dataSync()[0] !== 0) this.refuse(node, 'it pads with a value other than 0');
    }
    const p = Array.from(paddings.dataSync());
    if (x.shape.length !== 4 || p.length !== 8) this.refuse(node, 'only NHWC padding converts');
    if (p[0] !== 0 || p[1] !== 0) this.refuse(node, 'it pads the batch axis');
    let out: Sym = x;
    if (p[2] || p[3] || p[4] || p[5]) {
      out = tfl.layers
        .zeroPadding2d({
          padding: [
            [p[2], p[3]],
            [p[4], p[5]],
          ],
          name: this.unique(node.name),
        })
        .apply(out) as Sym;
    }
    if (p[6] || p[7]) {
      out = new ChannelPadding({padding: [p[6], p[7]], name: this.unique(`${node.name}/channels`)}).apply(out) as Sym;
    }
    return {kind: 'sym', sym: out, batched: true};
  }

  private resize(node: GraphNodeDef, ins: string[]): Val {
    const x = this.sym(node, ins[0]);
    const size = this.constantValue(ins[1] ?? '');
    if (size == null) this.refuse(node, 'its size is not a constant');
    const [height, width] = Array.from(size.dataSync());
    const layer = new Resize2D({
      size: [height, width],
      method: node.op === 'ResizeBilinear' ? 'bilinear' : 'nearest',
      alignCorners: attrBool(node, 'align_corners'),
      halfPixelCenters: attrBool(node, 'half_pixel_centers'),
      name: this.unique(node.name),
    });
    return this.apply(layer, x);
  }

  private reshapeTo(node: GraphNodeDef, x: Sym, targetShape: number[]): Val {
    return this.apply(tfl.layers.reshape({targetShape, name: this.unique(node.name)}), x);
  }

  private reshape(node: GraphNodeDef, ins: string[]): Val {
    const x = this.sym(node, ins[0]);
    const shapeT = this.constantValue(ins[1] ?? '');
    if (shapeT == null) this.refuse(node, 'its shape is not a constant');
    const shape = Array.from(shapeT.dataSync());
    if (shape.length < 1 || (shape[0] !== -1 && shape[0] !== 1)) {
      this.refuse(node, `its shape [${shape}] does not keep the batch axis first`);
    }
    if (shape[0] === -1 && shape.slice(1).includes(-1)) this.refuse(node, `its shape [${shape}] has two unknown sizes`);
    const target = shape.slice(1);
    // Resolved here where the input's size is known, so that the layers after it know their shapes.
    const rest = x.shape.slice(1);
    if (target.includes(-1) && rest.every((d) => d != null)) {
      const known = target.reduce((p, d) => (d === -1 ? p : p * d), 1);
      target[target.indexOf(-1)] = (rest as number[]).reduce((p, d) => p * d, 1) / known;
    }
    return this.reshapeTo(node, x, target);
  }

  private staticShape(node: GraphNodeDef, x: Sym): number[] {
    const rest = x.shape.slice(1);
    if (rest.some((d) => d == null))
      this.refuse(node, `the shape [${x.shape}] of its input is not known statically; pass inputShape`);
    return rest as number[];
  }

  private squeeze(node: GraphNodeDef, ins: string[]): Val {
    const v = this.value(ins[0]);
    if (v.kind !== 'sym') this.refuse(node, 'it squeezes a constant');
    const rank = v.sym.shape.length - (v.batched ? 0 : 1);
    const dims = (attrInts(node, 'squeeze_dims') ?? []).map((d) => (d < 0 ? d + rank : d));
    if (v.batched && dims.length === 1 && dims[0] === 0) return {kind: 'sym', sym: v.sym, batched: false};
    if (!v.batched || dims.length === 0 || dims.includes(0))
      this.refuse(node, `it squeezes axes [${dims}] (with the batch axis or all)`);
    const rest = this.staticShape(node, v.sym);
    return this.reshapeTo(
      node,
      v.sym,
      rest.filter((_, i) => !dims.includes(i + 1)),
    );
  }

  private expandDims(node: GraphNodeDef, ins: string[]): Val {
    const v = this.value(ins[0]);
    const axisT = this.constantValue(ins[1] ?? '');
    if (v.kind !== 'sym' || axisT == null) this.refuse(node, 'it expands a constant or by a computed axis');
    const rank = v.sym.shape.length - (v.batched ? 0 : 1);
    let axis = axisT.dataSync()[0];
    if (axis < 0) axis += rank + 1;
    if (!v.batched) {
      if (axis !== 0) this.refuse(node, `it inserts axis ${axis} into a tensor without its batch axis`);
      return {kind: 'sym', sym: v.sym, batched: true};
    }
    if (axis === 0) this.refuse(node, 'it inserts an axis before the batch axis');
    const rest = this.staticShape(node, v.sym);
    return this.reshapeTo(node, v.sym, [...rest.slice(0, axis - 1), 1, ...rest.slice(axis - 1)]);
  }
}
