/**
 * toDelta(model): a dense tf.layers LayersModel (Sequential or functional, with residual adds,
 * concatenations, shared layers and nested models) becomes a delta LayersModel of the same
 * topology: a DeltaInput after each input, the delta twin of every layer, a DeltaOutput before
 * each output. Weights are shared with the dense model by default (no copy). toDense goes back.
 *
 * Inference batch norm is affine per channel, so a BatchNormalization right after a linear conv /
 * depthwise conv / separable conv / transposed conv / dense layer whose output feeds nothing else
 * is folded into that layer's kernel and bias (`foldBatchNorm`, default true): the delta model then
 * has one pass fewer per block and applies the folded bias once per stream like any conv bias. A
 * folded layer owns new weight tensors (no longer shared with the dense model; the dense model is
 * never modified), and toDense of it gives a dense model with the folded layer and no batch norm.
 * foldBatchNorms(model) makes the same folds in a dense copy, for dense inference.
 *
 * A delta model may end in a dense tail (`denseFrom`, or `denseAbove` measured on calibration frames): from
 * the named layers on, the model's own dense layers run on the accumulated values of the delta layers before
 * them (a DeltaOutput at each boundary; a tail that starts at an input takes the frames). Activity spreads
 * with depth (every 3x3 window grows an active region by a pixel), and a delta layer active at most of its
 * pixels costs more than its dense twin: the conv still runs nearly everywhere, plus masks and state. A dense
 * tail costs what the dense model costs there, holds no state, adds no truncation error, and may hold layers
 * that have no delta twin.
 *
 *   const delta = toDelta(dense, {threshold: 0.05});
 *   for (const frame of frames) {                 // one call per frame; each batch row a stream
 *     const y = delta.predictOnBatch(frame);      // (predict() would split batches above 32)
 *     const stats = getDeltaStats(delta);         // with {stats: true}: active pixels, MACs skipped
 *   }
 *   delta.resetStates();                          // before a new video
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerVariable} from '@tensorflow/tfjs-layers';
import type {Node} from '@tensorflow/tfjs-layers/dist/engine/topology';

import type {StatePrecision} from '../ops/kernel_names';
import {calibrateThresholdScales, LayerActivity, measureActivity} from './calibrate';
import {fromGraphModel, FromGraphModelOptions, GraphModelSource} from './graph/from_graph_model';
import {checkThreshold, DeltaLayer, isDeltaLayer, layerClass} from './layers/base';
import {DELTA_TWINS, DeltaInput, DeltaOutput, IDENTITY_AT_INFERENCE} from './layers/index';
import {checkFlushAbove, checkStatePrecision} from './layers/activated';

type Layer = tfl.layers.Layer;
type Sym = tfl.SymbolicTensor;

export interface ToDeltaOptions {
  /** Threshold of every truncating layer (input and activations); default: the global default. */
  threshold?: number;
  /** Threshold of the input layers (their change test on frame pixels); default `threshold`. */
  inputThreshold?: number;
  /**
   * What thresholds are relative to: 'absolute' (default: the values a truncating layer's change
   * test compares with) or 'activation': each truncating layer's threshold is multiplied by its
   * activation scale, the standard deviation of its dense output on `calibrationFrames` (calibrate.ts), so one
   * threshold fits a model fed 0-255 pixels and one fed [-1, 1] alike. The scales are saved with
   * the model and with saveThresholds.
   */
  thresholdScale?: 'absolute' | 'activation';
  /** A few real frames (one model call each, a stream) for thresholdScale 'activation' and denseAbove. */
  calibrationFrames?: Array<tf.Tensor | tf.Tensor[]>;
  /** Per-layer thresholds by layer name (the dense layer's name; inputs: '<input>_sparsify'). */
  thresholds?: {[layerName: string]: number};
  /** Dilation of the input change test (DeltaInput's `dilation`); default 1. */
  dilation?: number;
  /**
   * Restart the stream, sending the frame whole, when more than this fraction of its pixels changed
   * (DeltaInput's `restartAbove`; default never). Single-input models only: a restart resets every
   * layer after the input, and a second input would still send deltas into them.
   */
  restartAbove?: number;
  /**
   * Truncating activations flush every pixel of a frame whose delta has more than this fraction of its
   * pixels active (their `flushAbove`; default never): cheaper where the delta is nearly dense, and exact.
   */
  flushAbove?: number;
  /**
   * How the truncating activations store their state: 'fp32' (default) or 'fp16' (IEEE half: half the bytes of
   * state, within half's rounding of float32 state; sparseAccumulate's statePrecision). Not with flushAbove. Half
   * holds magnitudes up to 65504: a model whose pre-activations grow larger needs float32 state.
   */
  statePrecision?: StatePrecision;
  /** Share the dense model's weight variables (default) or copy them. */
  shareWeights?: boolean;
  /**
   * Fold each batch norm that directly follows a linear conv, depthwise, separable, transposed conv
   * or dense layer whose output feeds only that batch norm into that layer (default true). The
   * folded layer gets new weights; the other layers still share the dense model's.
   */
  foldBatchNorm?: boolean;
  /**
   * Make a ReLU layer (maxValue none or 6) or an Activation layer ('relu', 'relu6') that directly follows such a
   * linear layer (or its folded batch norm), and is the only consumer of its output, that layer's activation
   * (default true): the conv and its truncating activation then run as one fused block, and a threshold given for
   * the activation layer's name applies to the layer it folded into. Keras applications (MobileNetV2, ResNet)
   * write every activation as a layer of its own.
   */
  foldActivations?: boolean;
  /**
   * Drop a ZeroPadding2D whose only reader is a conv, depthwise or separable conv with padding 'valid' when its pads
   * are exactly what 'same' padding gives that conv at the model's (fixed) input size, and give the conv 'same'
   * padding (default true): the same outputs without a padded copy of the activations. Keras writes a stride-2 conv's
   * 'same' this way (MobileNetV2's five ZeroPadding2D layers at even sizes).
   */
  foldPadding?: boolean;
  /**
   * Layers (by the dense model's layer names) from which on the model runs dense: these layers and every
   * layer they feed are the dense model's own (batch norms still folded; their weights are copies, so that
   * disposing either model leaves the other whole), fed the accumulated values of the delta layers before
   * them, or the frames where they start at an input. Default: none (every layer is a delta layer).
   */
  denseFrom?: string[];
  /**
   * Chooses denseFrom by measured activity: a layer whose output is active at more than this fraction of its
   * pixels, averaged over `calibrationFrames` after the first (run as a stream with this call's thresholds),
   * starts a dense tail. Where what is left delta would skip less than MIN_SKIPPED_SHARE of the model's
   * multiply-adds, or is only the first weighted layers, the whole model runs dense (fed the frames). Needs
   * calibrationFrames (two or more). Default: none.
   */
  denseAbove?: number;
  /** Record per-layer statistics each frame (reads masks back: slower). */
  stats?: boolean;
  /** Name of the delta model (default '<name>_delta'). */
  name?: string;
  /** For a graph model: how fromGraphModel converts it (e.g. which nodes are the outputs). */
  graph?: FromGraphModelOptions;
}

/** An input change test: toDelta's inputThreshold and dilation. */
export interface InputTest {
  threshold: number;
  dilation: number;
}

export interface FoldBatchNormsOptions {
  /** Name of the folded model (default '<name>_folded'). */
  name?: string;
  /** Fold the activation layers that follow a linear layer too, as toDelta's foldActivations (default true). */
  foldActivations?: boolean;
  /** Fold zero padding into the conv after it, as toDelta's foldPadding (default true). */
  foldPadding?: boolean;
}

export interface ToDenseOptions {
  /** Share the delta model's weight variables instead of copying them (default false). */
  shareWeights?: boolean;
  name?: string;
}

type LayerMapper = (layer: Layer, node: Node, inputs: Sym[]) => Sym | Sym[];

/**
 * Rebuilds the graph of `model` from `inputs` (the new tensors standing for model.inputs),
 * mapping each layer call through `mapLayer`. Nested models are inlined.
 */
function rebuildGraph(model: tfl.LayersModel, inputs: Sym[], mapLayer: LayerMapper): Sym[] {
  const convert = (container: tfl.LayersModel, seeds: Sym[]): Sym[] => {
    const memo = new Map<Sym, Sym>(container.inputs.map((sym, i) => [sym, seeds[i]]));
    const visit = (sym: Sym): Sym => {
      const known = memo.get(sym);
      if (known != null) return known;
      const layer = sym.sourceLayer as Layer;
      const node = layer.inboundNodes[sym.nodeIndex];
      const ins = node.inputTensors.map(visit);
      const outs = layer instanceof tfl.LayersModel ? convert(layer, ins) : [mapLayer(layer, node, ins)].flat();
      node.outputTensors.forEach((t, i) => memo.set(t, outs[i]));
      return memo.get(sym)!;
    };
    return container.outputs.map(visit);
  };
  return convert(model, inputs);
}

/** Unique layer names for the rebuilt model (nested models and shared layers may repeat names). */
function nameAllocator(): (wanted: string) => string {
  const used = new Set<string>();
  return (wanted) => {
    let name = wanted;
    for (let k = 1; used.has(name); k++) name = `${wanted}_${k}`;
    used.add(name);
    return name;
  };
}

/** New input layers shaped like `model`'s, named after them. */
function freshInputs(model: tfl.LayersModel, unique: (wanted: string) => string): Sym[] {
  return model.inputs.map((sym) => {
    const config = sym.sourceLayer.getConfig() as {batchInputShape: number[]; dtype?: tf.DataType};
    return tfl.input({batchShape: config.batchInputShape, dtype: config.dtype, name: unique(sym.sourceLayer.name)});
  });
}

function variablesOf(layer: Layer): LayerVariable[] {
  const internal = layer as unknown as {_trainableWeights: LayerVariable[]; _nonTrainableWeights: LayerVariable[]};
  return [...internal._trainableWeights, ...internal._nonTrainableWeights];
}

/**
 * Gives `target` (just built, same class structure as `source`) the weights of `source`: its own
 * variables are replaced by those of `source` (share) or receive their values (copy).
 */
function adoptWeights(target: Layer, source: Layer, share: boolean): void {
  const mine = variablesOf(target);
  const theirs = variablesOf(source);
  const mismatch =
    mine.length !== theirs.length ||
    mine.some((v, i) => !tf.util.arraysEqual(v.shape as number[], theirs[i].shape as number[]));
  if (mismatch) {
    throw new Error(
      `layer '${source.name}' (${source.getClassName()}): its weights ` +
        `[${theirs.map((v) => `${v.name}[${v.shape}]`).join(', ')}] do not fit its twin ${target.getClassName()}'s ` +
        `[${mine.map((v) => `${v.name}[${v.shape}]`).join(', ')}]`,
    );
  }
  if (mine.length === 0) return;
  if (!share) {
    mine.forEach((v, i) => v.write(theirs[i].read()));
    return;
  }
  const replacement = new Map<LayerVariable, LayerVariable>(mine.map((v, i) => [v, theirs[i]]));
  const fields = target as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const swap = replacement.get(fields[key] as LayerVariable);
    if (swap != null) fields[key] = swap;
  }
  const internal = target as unknown as {_trainableWeights: LayerVariable[]; _nonTrainableWeights: LayerVariable[]};
  internal._trainableWeights = internal._trainableWeights.map((v) => replacement.get(v)!);
  internal._nonTrainableWeights = internal._nonTrainableWeights.map((v) => replacement.get(v)!);
  for (const v of mine) v.dispose();
  if (isDeltaLayer(target)) target.sharesWeights = true;
}

/**
 * A fresh layer made by `make`, configured like `layer`, applied to `inputs`, with the weights of `layer` (shared or
 * copied); with a fold, the batch norm after `layer` folded into them (foldedWeights: a bias, weights the new layer
 * owns), the activation layer after it made its activation and the zero padding before it made its 'same' padding.
 */
function twin(
  make: (config: tf.serialization.ConfigDict) => Layer,
  layer: Layer,
  node: Node,
  inputs: Sym[],
  name: string,
  share: boolean,
  fold?: Fold,
): {created: Layer; out: Sym | Sym[]} {
  const bn = fold?.batchNorm;
  const config: tf.serialization.ConfigDict = {
    ...layer.getConfig(),
    ...(bn != null ? {useBias: true} : {}),
    ...(fold?.activation != null ? {activation: fold.activation.kind} : {}),
    ...(fold?.padding != null ? {padding: 'same'} : {}),
    name,
  };
  // tfjs-layers 4.22's SeparableConv2D.getConfig leaves out depthMultiplier.
  const depthMultiplier = (layer as unknown as {depthMultiplier?: number}).depthMultiplier;
  if (depthMultiplier != null && config.depthMultiplier == null) config.depthMultiplier = depthMultiplier;
  const created = make(config);
  created.setFastWeightInitDuringBuild(true);
  const out = created.apply(inputs.length === 1 ? inputs[0] : inputs, node.callArgs) as Sym | Sym[];
  if (bn == null) {
    adoptWeights(created, layer, share);
  } else {
    const values = foldedWeights(layer, bn);
    created.setWeights(values);
    tf.dispose(values);
  }
  return {created, out};
}

// ---- batch norm folding ------------------------------------------------------------------

/** The linear layers a following batch norm folds into. */
const FOLDS_BATCH_NORM = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose', 'Dense']);

interface BatchNormFields {
  axis: number;
  epsilon: number;
  scale: boolean;
  center: boolean;
  gamma: LayerVariable | null;
  beta: LayerVariable | null;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

interface LinearFields {
  activation?: {getClassName(): string} | null;
  dataFormat?: string;
  kernel?: LayerVariable;
  depthwiseKernel?: LayerVariable;
  pointwiseKernel?: LayerVariable;
  bias?: LayerVariable | null;
}

/** Every layer of `model` and of the models nested in it, and the outputs of all those models. */
function flattenModel(model: tfl.LayersModel): {layers: Layer[]; outputs: Set<Sym>} {
  const layers: Layer[] = [];
  const outputs = new Set<Sym>();
  const walk = (container: tfl.LayersModel) => {
    container.outputs.forEach((o) => outputs.add(o));
    for (const layer of container.layers) {
      if (layer instanceof tfl.LayersModel) walk(layer);
      else layers.push(layer);
    }
  };
  walk(model);
  return {layers, outputs};
}

/**
 * What folds into a linear layer: the batch norm after it, the activation layer after that (or after it), and the zero
 * padding before it.
 */
interface Fold {
  batchNorm?: Layer;
  activation?: {layer: Layer; kind: FoldedActivation};
  /** A ZeroPadding2D before the layer whose pads equal 'same' padding there. */
  padding?: Layer;
}
type FoldedActivation = 'relu' | 'relu6';

/**
 * The batch norms that fold: linear layer -> the batch norm after it. Both must be called once; the
 * linear layer's output must feed only that batch norm (not another layer, not a model output), be
 * channels-last, and the batch norm must normalize the last axis.
 */
function batchNormFolds(model: tfl.LayersModel): Map<Layer, Layer> {
  const {layers, outputs} = flattenModel(model);
  const folds = new Map<Layer, Layer>();
  for (const bn of layers) {
    if (bn.getClassName() !== 'BatchNormalization' || bn.inboundNodes.length !== 1) continue;
    const node = bn.inboundNodes[0];
    const x = node.inputTensors[0];
    const producer = x.sourceLayer as Layer;
    const fields = producer as unknown as LinearFields;
    const axis = (bn as unknown as BatchNormFields).axis;
    const foldable =
      isLinear(producer) &&
      soleConsumer(producer, node, outputs) &&
      (fields.dataFormat == null || fields.dataFormat === 'channelsLast') &&
      (axis === -1 || axis === x.shape.length - 1);
    if (foldable) folds.set(producer, bn);
  }
  return folds;
}

/** A layer of the classes a batch norm or an activation folds into, called once, with no activation of its own. */
function isLinear(layer: Layer): boolean {
  const activation = (layer as unknown as LinearFields).activation;
  return (
    FOLDS_BATCH_NORM.has(layer.getClassName()) &&
    layer.inboundNodes.length === 1 &&
    (activation == null || activation.getClassName() === 'linear')
  );
}

/** Whether `layer` (called once) feeds only `node`, and its output is not a model output. */
function soleConsumer(layer: Layer, node: Node, outputs: Set<Sym>): boolean {
  return layer.outboundNodes.length === 1 && layer.outboundNodes[0] === node && !outputs.has(node.inputTensors[0]);
}

/** The activation a ReLU or Activation layer computes, where a linear layer can take it as its own; else null. */
function foldedActivationOf(layer: Layer): FoldedActivation | null {
  const config = layer.getConfig();
  if (layer.getClassName() === 'ReLU') {
    if (config.maxValue == null) return 'relu';
    return config.maxValue === 6 ? 'relu6' : null;
  }
  if (layer.getClassName() === 'Activation') {
    return config.activation === 'relu' || config.activation === 'relu6' ? config.activation : null;
  }
  return null;
}

/** The convs whose 'valid' padding a ZeroPadding2D before them can stand in for. */
const FOLDS_PADDING = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);

/**
 * The conv after `pad` when the pad folds into it: `pad` called once on a channels-last input of known height and
 * width, read only by that conv (called once, padding 'valid'), with pads equal to those 'same' padding gives the conv
 * at that size (tf.conv2d's rule: the total split with the odd pixel at the end). Else null.
 */
function samePaddedConv(pad: Layer, outputs: Set<Sym>): Layer | null {
  if (pad.inboundNodes.length !== 1 || pad.outboundNodes.length !== 1) return null;
  const config = pad.getConfig() as {padding: number[][]; dataFormat?: string};
  const node = pad.outboundNodes[0];
  const conv = node.outboundLayer as Layer | undefined;
  const shape = pad.inboundNodes[0].inputTensors[0].shape;
  if (conv == null || !FOLDS_PADDING.has(conv.getClassName()) || conv.inboundNodes.length !== 1) return null;
  if (outputs.has(node.inputTensors[0]) || (config.dataFormat ?? 'channelsLast') !== 'channelsLast') return null;
  const c = conv.getConfig() as {
    padding: string;
    kernelSize: number[];
    strides: number[];
    dilationRate?: number | number[];
    dataFormat?: string;
  };
  if (c.padding !== 'valid' || c.dataFormat === 'channelsFirst') return null;
  const dilations = typeof c.dilationRate === 'number' ? [c.dilationRate, c.dilationRate] : (c.dilationRate ?? [1, 1]);
  return [1, 2].every((axis, i) => {
    const n = shape[axis];
    if (n == null) return false;
    const k = (c.kernelSize[i] - 1) * dilations[i] + 1;
    const total = Math.max((Math.ceil(n / c.strides[i]) - 1) * c.strides[i] + k - n, 0);
    const before = Math.floor(total / 2);
    return config.padding[i][0] === before && config.padding[i][1] === total - before;
  })
    ? conv
    : null;
}

/**
 * What folds into each linear layer: the batch norms of batchNormFolds (when `batchNorms`); with `padding` the
 * ZeroPadding2D layers of samePaddedConv; and with `activations` each ReLU / Activation layer (relu, relu6) called
 * once right after such a layer, or after its folded batch norm, as the only consumer of that output.
 */
function layerFolds(
  model: tfl.LayersModel,
  batchNorms: boolean,
  activations: boolean,
  padding = false,
): Map<Layer, Fold> {
  const folds = new Map<Layer, Fold>();
  const producerOf = new Map<Layer, Layer>();
  if (batchNorms) {
    for (const [producer, bn] of batchNormFolds(model)) {
      folds.set(producer, {batchNorm: bn});
      producerOf.set(bn, producer);
    }
  }
  const {layers, outputs} = flattenModel(model);
  if (padding) {
    for (const pad of layers) {
      const conv = pad.getClassName() === 'ZeroPadding2D' ? samePaddedConv(pad, outputs) : null;
      if (conv != null) folds.set(conv, {...folds.get(conv), padding: pad});
    }
  }
  if (!activations) return folds;
  for (const layer of layers) {
    const kind = foldedActivationOf(layer);
    if (kind == null || layer.inboundNodes.length !== 1) continue;
    const node = layer.inboundNodes[0];
    const source = node.inputTensors[0].sourceLayer as Layer;
    const producer = producerOf.get(source) ?? source;
    if (!soleConsumer(source, node, outputs)) continue;
    if (source === producer && !isLinear(producer)) continue;
    folds.set(producer, {...folds.get(producer), activation: {layer, kind}});
  }
  return folds;
}

/** The layers a fold removes from the graph (their producer computes them). */
function absorbedLayers(folds: Map<Layer, Fold>): Set<Layer> {
  const absorbed = new Set<Layer>();
  for (const fold of folds.values()) {
    if (fold.batchNorm != null) absorbed.add(fold.batchNorm);
    if (fold.activation != null) absorbed.add(fold.activation.layer);
    if (fold.padding != null) absorbed.add(fold.padding);
  }
  return absorbed;
}

/**
 * The weights of `layer` with `bn` folded in, in the order of the layer's weights with a bias:
 * per output channel c, kernel[..., c] * scale[c] and bias[c] * scale[c] + shift[c], with
 * scale = gamma / sqrt(variance + epsilon) and shift = beta - mean * scale.
 */
function foldedWeights(layer: Layer, bn: Layer): tf.Tensor[] {
  const b = bn as unknown as BatchNormFields;
  const l = layer as unknown as LinearFields;
  return tf.tidy(() => {
    const inv = tf.rsqrt(tf.add(b.movingVariance.read(), b.epsilon));
    const scale = b.scale && b.gamma != null ? tf.mul(inv, b.gamma.read()) : inv;
    const meanScaled = tf.mul(b.movingMean.read(), scale);
    const shift = b.center && b.beta != null ? tf.sub(b.beta.read(), meanScaled) : tf.neg(meanScaled);
    const bias = l.bias != null ? tf.add(tf.mul(l.bias.read(), scale), shift) : shift;
    switch (layer.getClassName()) {
      case 'DepthwiseConv2D': {
        // Output channel c * multiplier + m comes from kernel[:, :, c, m].
        const kernel = l.depthwiseKernel!.read();
        return [tf.mul(kernel, tf.reshape(scale, kernel.shape.slice(2))), bias];
      }
      case 'SeparableConv2D':
        return [tf.clone(l.depthwiseKernel!.read()), tf.mul(l.pointwiseKernel!.read(), scale), bias];
      case 'Conv2DTranspose':
        // Its kernel is [kh, kw, outChannels, inChannels].
        return [tf.mul(l.kernel!.read(), tf.reshape(scale, [-1, 1])), bias];
      default:
        return [tf.mul(l.kernel!.read(), scale), bias];
    }
  });
}

// ---- dense tails --------------------------------------------------------------------------

/**
 * The layers that start a dense tail: `names`, checked against the model's layers; a folded batch norm or activation
 * stands for the layer it folds into (which then runs dense too).
 */
function denseFromNames(model: tfl.LayersModel, names: string[], folds: Map<Layer, Fold>): Set<string> {
  const known = new Set(flattenModel(model).layers.map((l) => l.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(`toDelta: denseFrom names layers that model '${model.name}' does not have: ${unknown.join(', ')}`);
  }
  const start = new Set(names);
  for (const [producer, fold] of folds) {
    const absorbed = [fold.batchNorm, fold.activation?.layer, fold.padding];
    if (absorbed.some((l) => l != null && start.has(l.name))) start.add(producer.name);
  }
  return start;
}

/** The dense layer each delta twin was made from (names differ where a shared layer is called twice). */
const sourceNames = new WeakMap<Layer, string>();

/**
 * denseFrom for options.denseAbove: the layers whose outputs the calibration frames keep above it; and every weighted
 * layer's measured activity, by the dense model's layer names.
 */
function chooseDenseFrom(
  model: tfl.LayersModel,
  options: ToDeltaOptions,
): {denseFrom: string[]; activity: Map<string, LayerActivity>} {
  const above = options.denseAbove!;
  if (!(typeof above === 'number' && above >= 0 && above <= 1)) {
    throw new Error(`toDelta: denseAbove must be a fraction in [0, 1], got ${JSON.stringify(above)}`);
  }
  const frames = options.calibrationFrames ?? [];
  if (frames.length < 2) {
    throw new Error(
      `toDelta: denseAbove needs calibrationFrames: two or more real frames in a row (e.g. 8) to measure ` +
        `each layer's activity on (got ${frames.length})`,
    );
  }
  const probe = toDelta(model, {...options, denseAbove: undefined, stats: false, name: `${model.name}_probe`});
  try {
    const activity = new Map<string, LayerActivity>();
    for (const [name, a] of measureActivity(probe, frames)) {
      if (a.macs > 0) activity.set(sourceNames.get(probe.getLayer(name)) ?? name, a);
    }
    const chosen = [...activity].filter(([, a]) => a.computedFraction > above).map(([name]) => name);
    return {denseFrom: [...new Set([...(options.denseFrom ?? []), ...chosen])], activity};
  } finally {
    probe.dispose();
  }
}

/**
 * A hybrid whose delta layers would skip less than this share of the model's multiply-adds (measured on the
 * calibration frames) runs dense as a whole: the delta path's per-layer overheads eat such a gain, and what is left
 * delta still carries the input change test's error into the tail. (PoseNet, H200: at 577x769 on vtest.avi the head
 * skips 28% and the hybrid runs at about the folded dense model's speed; on cockatoo.mp4, a moving camera, 3.9%,
 * with 43% PCK.)
 */
export const MIN_SKIPPED_SHARE = 0.1;

/**
 * toDelta with denseAbove: the hybrid with the tail chosen by activity, or the whole model dense (fed the frames)
 * where the delta layers left would skip less than MIN_SKIPPED_SHARE of its multiply-adds, or where they are only
 * first layers (no weighted layer before them: the tail would take their accumulated outputs, with the input change
 * test's error in them, to save one layer's work).
 */
function withDenseTail(model: tfl.LayersModel, options: ToDeltaOptions): tfl.LayersModel {
  const {denseFrom, activity} = chooseDenseFrom(model, options);
  const hybrid = toDelta(model, {...options, denseAbove: undefined, denseFrom});
  const weightedDelta = (l: Layer) => isDeltaLayer(l) && l.weights.length > 0;
  const sparse = hybrid.layers.filter(weightedDelta);
  if (sparse.length === 0 || denseFrom.length === 0) return hybrid;
  const names = sparse.map((l) => sourceNames.get(l) ?? l.name);
  let total = 0;
  activity.forEach((a) => (total += a.macs));
  let skipped = 0;
  for (const name of names) {
    const a = activity.get(name);
    if (a != null) skipped += a.macs * (1 - a.computedFraction);
  }
  const weightedBefore = (layer: Layer): boolean =>
    layer.inboundNodes.some((node) => node.inboundLayers.some((p) => weightedDelta(p) || weightedBefore(p)));
  if (skipped >= MIN_SKIPPED_SHARE * total && sparse.some(weightedBefore)) return hybrid;
  hybrid.dispose();
  return toDelta(model, {...options, denseAbove: undefined, denseFrom: [...denseFrom, ...names]});
}

function deserializeAs(className: string): (config: tf.serialization.ConfigDict) => Layer {
  return (config) => new (layerClass(className))(config);
}

function supportedList(): string {
  return [...DELTA_TWINS.keys(), ...IDENTITY_AT_INFERENCE].sort().join(', ');
}

/**
 * Converts a dense LayersModel into a delta LayersModel of the same topology; see the file comment. A
 * graph model (tfjs-converter's GraphModel, or its artifacts) is first rebuilt as a LayersModel
 * (fromGraphModel, with `options.graph`); the delta model then owns its weights.
 */
export function toDelta(source: tfl.LayersModel | GraphModelSource, options: ToDeltaOptions = {}): tfl.LayersModel {
  if (!Array.isArray((source as tfl.LayersModel).layers)) {
    const dense = fromGraphModel(source as GraphModelSource, options.graph);
    try {
      return toDelta(dense, {...options, shareWeights: false, graph: undefined});
    } finally {
      dense.dispose();
    }
  }
  const model = source as tfl.LayersModel;
  if (options.graph != null) {
    throw new Error(`toDelta: option 'graph' applies to graph models; model '${model.name}' is a LayersModel`);
  }
  const already = model.layers.find(isDeltaLayer);
  if (already != null) {
    throw new Error(
      `toDelta: model '${model.name}' already has delta layers ('${already.name}', ` +
        `${already.getClassName()}); convert its dense twin (toDense) instead`,
    );
  }
  const share = options.shareWeights ?? true;
  const thresholds = {...options.thresholds};
  for (const [name, t] of Object.entries(thresholds)) checkThreshold(`toDelta: thresholds['${name}']`, t);
  if (options.threshold != null) checkThreshold('toDelta: threshold', options.threshold);
  if (options.inputThreshold != null) checkThreshold('toDelta: inputThreshold', options.inputThreshold);
  const scaleMode = options.thresholdScale ?? 'absolute';
  if (scaleMode !== 'absolute' && scaleMode !== 'activation') {
    throw new Error(
      `toDelta: thresholdScale must be 'absolute' or 'activation', got ${JSON.stringify(options.thresholdScale)}`,
    );
  }
  if (scaleMode === 'activation' && !(options.calibrationFrames != null && options.calibrationFrames.length > 0)) {
    throw new Error(
      `toDelta: thresholdScale 'activation' needs calibrationFrames: a few real frames (e.g. 8) to measure ` +
        `each layer's activation scale on`,
    );
  }
  if (options.flushAbove != null) checkFlushAbove('toDelta', options.flushAbove);
  if (options.statePrecision != null) checkStatePrecision('toDelta', options.statePrecision, options.flushAbove);
  if (options.restartAbove != null && model.inputs.length !== 1) {
    throw new Error(
      `toDelta: restartAbove needs a model with one input; model '${model.name}' has ${model.inputs.length}`,
    );
  }
  if (options.denseAbove != null) return withDenseTail(model, options);
  const unique = nameAllocator();
  const created: Layer[] = [];
  const configure = (layer: Layer, fallback?: number) => {
    if (!isDeltaLayer(layer)) return;
    const t = thresholds[layer.name] ?? fallback ?? options.threshold;
    if (layer.truncates && t != null) layer.threshold = t;
    if (layer.truncates && options.flushAbove != null && 'flushAbove' in layer) {
      (layer as {flushAbove: number | null}).flushAbove = options.flushAbove;
    }
    if (options.statePrecision != null && 'statePrecision' in layer) {
      (layer as {statePrecision: StatePrecision}).statePrecision = options.statePrecision;
    }
    layer.statsEnabled = options.stats ?? false;
  };

  const inputs = freshInputs(model, unique);
  const sparsified = inputs.map((x) => {
    const layer = new DeltaInput({
      name: unique(`${x.sourceLayer.name}_sparsify`),
      dilation: options.dilation,
      restartAbove: options.restartAbove,
    });
    configure(layer, options.inputThreshold);
    created.push(layer);
    return layer.apply(x) as Sym;
  });

  const folds = layerFolds(
    model,
    options.foldBatchNorm ?? true,
    options.foldActivations ?? true,
    options.foldPadding ?? true,
  );
  const folded = absorbedLayers(folds);
  const denseFrom = denseFromNames(model, options.denseFrom ?? [], folds);
  // The symbolic tensors that hold dense values (outputs of the dense tail), and each delta tensor's
  // DeltaOutput: one per tensor, shared by every dense layer and model output it feeds.
  const denseSyms = new Set<Sym>();
  // A tail that starts at an input takes the frames themselves: exact, and no sparsify and densify passes.
  const densified = new Map<Sym, Sym>(sparsified.map((sym, i) => [sym, inputs[i]]));
  const densify = (sym: Sym): Sym => {
    if (denseSyms.has(sym)) return sym;
    let out = densified.get(sym);
    if (out == null) {
      const layer = new DeltaOutput({name: unique(`${sym.sourceLayer.name}_densify`)});
      configure(layer);
      out = layer.apply(sym) as Sym;
      densified.set(sym, out);
      denseSyms.add(out);
    }
    return out;
  };
  const foldedActivations = new Set<string>();
  const outputs = rebuildGraph(model, sparsified, (layer, node, ins) => {
    if (folded.has(layer)) return ins[0];
    const className = layer.getClassName();
    const name = unique(layer.name);
    if (denseFrom.has(layer.name) || ins.some((sym) => denseSyms.has(sym))) {
      const dense = ins.map(densify);
      const made = twin(deserializeAs(className), layer, node, dense, name, false, folds.get(layer));
      [made.out].flat().forEach((sym) => denseSyms.add(sym));
      return made.out;
    }
    if (IDENTITY_AT_INFERENCE.has(className)) return twin(deserializeAs(className), layer, node, ins, name, share).out;
    const Twin = DELTA_TWINS.get(className);
    if (Twin == null) {
      throw new Error(
        `toDelta: layer '${layer.name}' of class ${className} has no delta equivalent ` +
          `(supported: ${supportedList()}). Convert the part of the model before it, or replace the layer.`,
      );
    }
    const fold = folds.get(layer);
    const foldedActivation = fold?.activation != null ? {name: fold.activation.layer.name} : undefined;
    const made = twin((config) => new Twin({...config, foldedActivation}), layer, node, ins, name, share, fold);
    // A threshold given for a folded activation applies to the layer that computes it now.
    configure(made.created, fold?.activation != null ? thresholds[fold.activation.layer.name] : undefined);
    if (fold?.activation != null) foldedActivations.add(fold.activation.layer.name);
    created.push(made.created);
    sourceNames.set(made.created, layer.name);
    return made.out;
  });

  const truncating = created.filter((l) => isDeltaLayer(l) && l.truncates).map((l) => l.name);
  // A layer of the source that this model runs dense (a dense tail) may be named: a map made for the all-delta
  // model stays valid whatever the tail.
  const converted = new Set(created.filter(isDeltaLayer).map((l) => sourceNames.get(l) ?? l.name));
  const keptDense = (n: string) => !converted.has(n) && model.layers.some((l) => l.name === n);
  const unknown = Object.keys(thresholds).filter(
    (n) => !truncating.includes(n) && !foldedActivations.has(n) && !keptDense(n),
  );
  if (unknown.length > 0) {
    throw new Error(
      `toDelta: thresholds name layers that are not truncating layers of the delta model: ` +
        `${unknown.join(', ')} (its truncating layers: ${truncating.join(', ')})`,
    );
  }
  const delta = tfl.model({inputs, outputs: outputs.map(densify), name: options.name ?? `${model.name}_delta`});
  // A model the dense tail took whole has nothing to scale.
  if (scaleMode === 'activation' && delta.layers.some((l) => isDeltaLayer(l) && l.truncates)) {
    try {
      calibrateThresholdScales(delta, options.calibrationFrames!);
    } catch (e) {
      delta.dispose();
      throw e;
    }
  }
  return delta;
}

/** The dense LayersModel a delta model stands for (inputs and outputs layers dropped). */
export function toDense(model: tfl.LayersModel, options: ToDenseOptions = {}): tfl.LayersModel {
  const share = options.shareWeights ?? false;
  const unique = nameAllocator();
  const inputs = freshInputs(model, unique);
  const outputs = rebuildGraph(model, inputs, (layer, node, ins) => {
    if (layer instanceof DeltaInput || layer instanceof DeltaOutput) return ins[0];
    const className = isDeltaLayer(layer) ? layer.denseClassName! : layer.getClassName();
    const make = (config: tf.serialization.ConfigDict) => {
      delete config.threshold;
      delete config.thresholdScale;
      delete config.foldedActivation;
      return deserializeAs(className)(config);
    };
    return twin(make, layer, node, ins, unique(layer.name), share).out;
  });
  return tfl.model({inputs, outputs, name: options.name ?? model.name.replace(/_delta$/, '')});
}

/** The names of the batch norms of `model` that fold into the linear layer before them (toDelta, foldBatchNorms). */
export function foldableBatchNorms(model: tfl.LayersModel): string[] {
  return [...batchNormFolds(model).values()].map((bn) => bn.name);
}

/**
 * The names of the activation layers of `model` that fold into the linear layer before them, that layer's batch norm
 * folded (toDelta's foldActivations, foldBatchNorms).
 */
export function foldableActivations(model: tfl.LayersModel): string[] {
  return [...layerFolds(model, true, true).values()].flatMap((f) =>
    f.activation != null ? [f.activation.layer.name] : [],
  );
}

/**
 * A dense copy of `model` with each batch norm that directly follows a linear layer folded into that layer's kernel
 * and bias, and the ReLU / relu6 activation layer after it made that layer's activation, as toDelta folds them
 * (foldableBatchNorms and foldableActivations name them; the others stay), and the zero padding before a conv that
 * is its 'same' padding made that: the same outputs to float rounding, without a pass over the activations per folded
 * layer (tfjs runs a conv with its bias and activation as one fused op). Inference only (the batch norms' moving statistics are baked in). Its weights are copies: `model` is left as
 * it was, and either may be disposed alone.
 */
export function foldBatchNorms(model: tfl.LayersModel, options: FoldBatchNormsOptions = {}): tfl.LayersModel {
  const delta = model.layers.find(isDeltaLayer);
  if (delta != null) {
    throw new Error(
      `foldBatchNorms: model '${model.name}' has delta layers ('${delta.name}', ${delta.getClassName()}); ` +
        `fold its dense model (toDense gives it, already folded)`,
    );
  }
  const folds = layerFolds(model, true, options.foldActivations ?? true, options.foldPadding ?? true);
  return foldedCopy(model, folds, options.name ?? `${model.name}_folded`);
}

/** A dense copy of `model` with `folds` made (weights copied). */
function foldedCopy(model: tfl.LayersModel, folds: Map<Layer, Fold>, name: string): tfl.LayersModel {
  const folded = absorbedLayers(folds);
  const unique = nameAllocator();
  const inputs = freshInputs(model, unique);
  const outputs = rebuildGraph(model, inputs, (layer, node, ins) => {
    if (folded.has(layer)) return ins[0];
    return twin(deserializeAs(layer.getClassName()), layer, node, ins, unique(layer.name), false, folds.get(layer)).out;
  });
  return tfl.model({inputs, outputs, name});
}

/**
 * The dense reference a delta model of `model` is measured against (run, bench): foldBatchNorms(model), or `model`
 * itself when nothing folds; and how many batch norms and activation layers folded. The caller disposes `model` of the
 * result when it is not the one passed.
 */
export function foldedReference(model: tfl.LayersModel): {
  model: tfl.LayersModel;
  batchNorms: number;
  activations: number;
} {
  const folds = layerFolds(model, true, true, true);
  const count = (part: keyof Fold) => [...folds.values()].filter((f) => f[part] != null).length;
  return {
    model: folds.size > 0 ? foldedCopy(model, folds, `${model.name}_folded`) : model,
    batchNorms: count('batchNorm'),
    activations: count('activation'),
  };
}

/** The delta layers of a model, in topological order. */
export function deltaLayersOf(model: tfl.LayersModel): DeltaLayer[] {
  return model.layers.filter(isDeltaLayer);
}

/** The weighted layers of a delta model that run dense (its dense tail; see ToDeltaOptions.denseFrom). */
export function denseTailLayersOf(model: tfl.LayersModel): Layer[] {
  return model.layers.filter((l) => !isDeltaLayer(l) && l.weights.length > 0);
}

// ---- statistics --------------------------------------------------------------------------

export interface LayerStats {
  name: string;
  className: string;
  /** Fraction of the output pixels that carry a change. */
  activeFraction: number;
  /** Fraction of the output pixels the layer computed (LayerFrameStats.computedFraction). */
  computedFraction: number;
  macs: number;
  /** The multiply-adds of the output pixels it did not compute. */
  macsSkipped: number;
}

/**
 * What skipping `skippedShare` of a model's multiply-adds could buy at most: the dense time over the share left, as
 * if every delta kernel were as efficient as dense per multiply-add and cost no state, mask or launch.
 */
export const speedupCeiling = (skippedShare: number): number => 1 / Math.max(1e-9, 1 - skippedShare);

export interface DeltaFrameStats {
  /** Per delta layer, for the last frame (layers that did not run are left out). */
  layers: LayerStats[];
  /**
   * Dense multiply-adds per frame of the delta layers (a dense tail's layers are not counted), and those the
   * delta model could skip.
   */
  macs: number;
  macsSkipped: number;
  /** macsSkipped / macs (0 when the model has no weighted layers). */
  skippedShare: number;
}

/** Turns per-frame statistics on or off for every delta layer of `model`. */
export function setDeltaStats(model: tfl.LayersModel, enabled = true): void {
  for (const layer of deltaLayersOf(model)) {
    layer.statsEnabled = enabled;
    if (!enabled) layer.lastStats = null;
  }
}

/** The statistics of the last frame (enable them with setDeltaStats or toDelta's `stats`). */
export function getDeltaStats(model: tfl.LayersModel): DeltaFrameStats {
  const layers: LayerStats[] = [];
  for (const layer of deltaLayersOf(model)) {
    if (layer.lastStats == null) continue;
    layers.push({name: layer.name, className: layer.getClassName(), ...layer.lastStats});
  }
  const all = deltaLayersOf(model);
  if (layers.length === 0 && all.length > 0 && all.every((l) => !l.statsEnabled)) {
    throw new Error(
      `getDeltaStats: statistics are off for model '${model.name}'; call setDeltaStats(model) ` +
        `or toDelta(model, {stats: true}) and run a frame`,
    );
  }
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const macsSkipped = layers.reduce((s, l) => s + l.macsSkipped, 0);
  return {layers, macs, macsSkipped, skippedShare: macs > 0 ? macsSkipped / macs : 0};
}
