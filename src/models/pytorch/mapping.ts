/**
 * From PyTorch state-dict tensors to tfjs model weights: layout conversion and a checked load.
 *
 * Layouts (PyTorch -> tfjs):
 *   conv2d           Conv2d [O, I, kh, kw]            -> [kh, kw, I, O]
 *   conv3d           Conv3d [O, I, kd, kh, kw]        -> [kd, kh, kw, I, O]
 *   convTranspose2d  ConvTranspose2d [I, O, kh, kw]   -> [kh, kw, O, I]        (tf.conv2dTranspose)
 *   convTranspose3d  ConvTranspose3d [I, O, kd, kh, kw] -> [kd, kh, kw, O, I]  (tf.conv3dTranspose)
 *   linear           Linear [out, in]                 -> [in, out]
 *   gate             1x1x1 Conv3d [O, I, 1, 1, 1]     -> [I, O]               (conv3dGated's gateKernel)
 *   depthwiseConv2d  Conv2d groups=C [C*m, 1, kh, kw] -> [kh, kw, C, m]
 *   vector           biases, BatchNorm weight/bias/running_mean/running_var: unchanged
 *
 * `loadStateDict` checks every tensor before writing any, and reports all missing, unexpected and
 * mis-shaped tensors in one error.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayersModel} from '@tensorflow/tfjs-layers';

import {StateDict} from './checkpoint';
import {TorchTensor} from './tensor';

export type Layout =
  'conv2d' | 'conv3d' | 'convTranspose2d' | 'convTranspose3d' | 'linear' | 'gate' | 'depthwiseConv2d' | 'vector';

/** One tfjs weight and the PyTorch tensor it comes from. */
export interface WeightMapping {
  /** tfjs layer name. */
  layer: string;
  /** The weight's name inside the layer: 'kernel', 'bias', 'gamma', 'moving_mean', 'gateKernel', ... */
  weight: string;
  /** PyTorch state-dict key. */
  torch: string;
  layout: Layout;
}

/** Torch shape expected for a tfjs weight shape, and the permutation that converts it. */
export function torchLayout(layout: Layout, tfShape: number[]): {torchShape: number[]; perm: number[]} {
  const s = tfShape;
  switch (layout) {
    case 'vector':
      return {torchShape: [...s], perm: s.map((_, i) => i)};
    case 'linear':
      return {torchShape: [s[1], s[0]], perm: [1, 0]};
    case 'conv2d':
      return {torchShape: [s[3], s[2], s[0], s[1]], perm: [2, 3, 1, 0]};
    case 'convTranspose2d':
      return {torchShape: [s[3], s[2], s[0], s[1]], perm: [2, 3, 1, 0]};
    case 'conv3d':
      return {torchShape: [s[4], s[3], s[0], s[1], s[2]], perm: [2, 3, 4, 1, 0]};
    case 'convTranspose3d':
      return {torchShape: [s[4], s[3], s[0], s[1], s[2]], perm: [2, 3, 4, 1, 0]};
    case 'gate':
      return {torchShape: [s[1], s[0], 1, 1, 1], perm: [1, 0, 2, 3, 4]};
    case 'depthwiseConv2d':
      return {torchShape: [s[2] * s[3], 1, s[0], s[1]], perm: [2, 3, 0, 1]};
  }
}

/** A PyTorch tensor converted to a tfjs tensor of shape `tfShape` in the given layout. */
export function torchToTfjs(t: TorchTensor, layout: Layout, tfShape: number[]): tf.Tensor {
  const {torchShape, perm} = torchLayout(layout, tfShape);
  if (!tf.util.arraysEqual(t.shape, torchShape)) {
    throw new Error(`expected a PyTorch tensor of shape [${torchShape}] for layout '${layout}', got [${t.shape}]`);
  }
  if (layout === 'depthwiseConv2d') {
    // [C*m, 1, kh, kw] viewed as [C, m, kh, kw] -> [kh, kw, C, m]
    const [kh, kw, c, m] = tfShape;
    const view = new TorchTensor(
      t.storage,
      t.offset,
      [c, m, kh, kw],
      [t.stride[0] * m, t.stride[0], t.stride[2], t.stride[3]],
    );
    return view.toTensor(perm, tfShape);
  }
  return t.toTensor(perm, tfShape);
}

export class StateDictMismatchError extends Error {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misShaped: Array<{name: string; expected: number[]; got: number[]}>,
    context: string,
  ) {
    super(StateDictMismatchError.format(missing, unexpected, misShaped, context));
    this.name = 'StateDictMismatchError';
  }

  private static format(
    missing: string[],
    unexpected: string[],
    misShaped: Array<{name: string; expected: number[]; got: number[]}>,
    context: string,
  ): string {
    const list = (items: string[]) =>
      items.slice(0, 30).join(', ') + (items.length > 30 ? `, ... (${items.length - 30} more)` : '');
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`${missing.length} missing: ${list(missing)}`);
    if (unexpected.length > 0) parts.push(`${unexpected.length} unexpected: ${list(unexpected)}`);
    if (misShaped.length > 0) {
      parts.push(
        `${misShaped.length} mis-shaped: ${list(misShaped.map((m) => `${m.name} (expected [${m.expected}], got [${m.got}])`))}`,
      );
    }
    return `${context}: the state dict does not match the model; ${parts.join('; ')}`;
  }
}

export interface LoadStateDictOptions {
  /** State-dict keys that may be present without a target (default: BatchNorm's num_batches_tracked). */
  ignore?: (name: string) => boolean;
  /** Name used in error messages. */
  context?: string;
  /** Check names and shapes only; write nothing (the tensors' data is never read). */
  dryRun?: boolean;
}

/** The part of tfjs-layers' LayerVariable used here. */
interface Weight {
  shape: number[];
  write(value: tf.Tensor): void;
}

function findWeight(model: LayersModel, m: WeightMapping): Weight | null {
  let layer;
  try {
    layer = model.getLayer(m.layer);
  } catch {
    return null;
  }
  const v = layer.weights.find((w) => w.originalName.split('/').pop() === m.weight);
  return (v ?? null) as Weight | null;
}

/**
 * Writes the state dict into the model's weights as `mapping` says, after checking all of it:
 * throws StateDictMismatchError listing every missing, unexpected and mis-shaped tensor (and
 * writes nothing) if anything is off.
 */
export function loadStateDict(
  model: LayersModel,
  mapping: WeightMapping[],
  stateDict: StateDict,
  options: LoadStateDictOptions = {},
): void {
  const context = options.context ?? `loading into '${model.name}'`;
  const ignore = options.ignore ?? ((n: string) => n.endsWith('num_batches_tracked'));
  const missing: string[] = [];
  const misShaped: Array<{name: string; expected: number[]; got: number[]}> = [];
  const targets: Array<{m: WeightMapping; v: Weight; t: TorchTensor}> = [];
  const used = new Set<string>();
  for (const m of mapping) {
    const v = findWeight(model, m);
    if (v == null)
      throw new Error(
        `${context}: the model has no weight '${m.weight}' in layer '${m.layer}' (mapping for ${m.torch})`,
      );
    const t = stateDict.get(m.torch);
    used.add(m.torch);
    if (t == null) {
      missing.push(m.torch);
      continue;
    }
    const {torchShape} = torchLayout(m.layout, v.shape);
    if (!tf.util.arraysEqual(t.shape, torchShape)) {
      misShaped.push({name: m.torch, expected: torchShape, got: t.shape});
      continue;
    }
    targets.push({m, v, t});
  }
  const unexpected = [...stateDict.keys()].filter((k) => !used.has(k) && !ignore(k));
  if (missing.length + unexpected.length + misShaped.length > 0) {
    throw new StateDictMismatchError(missing, unexpected, misShaped, context);
  }
  if (options.dryRun) return;
  for (const {m, v, t} of targets) {
    const value = torchToTfjs(t, m.layout, v.shape);
    v.write(value);
    value.dispose();
  }
}

/** Builds a model and loads weights into it; if loading fails, the model is disposed and the error rethrown. */
export function buildAndLoad(build: () => LayersModel, load: (model: LayersModel) => void): LayersModel {
  const model = build();
  try {
    load(model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** tfjs weight name -> PyTorch parameter name, per kind of layer. */
const TORCH_PARAM: {[weight: string]: string} = {
  kernel: 'weight',
  bias: 'bias',
  depthwise_kernel: 'weight',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
};

/** The layout of a weight, from its layer's class (delta variants such as 'DeltaConv2D' match too). */
export function layoutOf(className: string, weight: string, config: {[key: string]: unknown}): Layout | null {
  if (weight === 'bias' || /BatchNorm/.test(className)) return 'vector';
  if (/Conv3DGated/.test(className)) {
    if (weight === 'gateKernel') return 'gate';
    if (weight === 'gateBias') return 'vector';
    return config.transpose ? 'convTranspose3d' : 'conv3d';
  }
  if (/DepthwiseConv2D/.test(className)) return 'depthwiseConv2d';
  if (/Conv2DTranspose/.test(className)) return 'convTranspose2d';
  if (/Conv3DTranspose/.test(className)) return 'convTranspose3d';
  if (/Conv3D/.test(className)) return 'conv3d';
  if (/Conv2D/.test(className)) return 'conv2d';
  if (/Dense/.test(className)) return 'linear';
  return null;
}

/**
 * The mapping of every weight of `model` to a PyTorch key, by the convention that a layer is named
 * after its PyTorch module ('layer1.0.conv1' -> 'layer1.0.conv1.weight'). `rename` overrides the
 * key of single weights (return undefined to keep the default).
 */
export function mappingFromModel(
  model: LayersModel,
  rename?: (layer: string, weight: string, className: string) => string | undefined,
): WeightMapping[] {
  const out: WeightMapping[] = [];
  for (const layer of model.layers) {
    const className = layer.getClassName();
    for (const w of layer.weights) {
      const weight = w.originalName.split('/').pop()!;
      const layout = layoutOf(className, weight, layer.getConfig());
      if (layout == null)
        throw new Error(
          `mappingFromModel: no PyTorch layout known for ${className} weight '${weight}' of layer '${layer.name}'`,
        );
      const param = TORCH_PARAM[weight] ?? weight;
      out.push({
        layer: layer.name,
        weight,
        torch: rename?.(layer.name, weight, className) ?? `${layer.name}.${param}`,
        layout,
      });
    }
  }
  return out;
}
