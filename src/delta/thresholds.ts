/**
 * Thresholds of a delta model: the truncating layers (the input layers and the activations with
 * relu, relu6, leakyRelu, sigmoid or tanh) each have one; a layer without its own follows the
 * global default (setDefaultThreshold, initially 0 = exact). They are read and written as JSON
 * keyed by layer name, and tuned on sample frames with DeltaCNN's procedure (tuneThresholds).
 * With activation scales (calibrate.ts) thresholds are relative: every function here reads and
 * writes the relative values, and the scales travel with them in saveThresholds' JSON.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {checkScale, checkThreshold, DeltaLayer} from './layers/base';
import {deltaLayersOf} from './to_delta';

export type ThresholdMap = {[layerName: string]: number};

/** The layers whose threshold matters, in topological order (front to back). */
export function truncatingLayers(model: tfl.LayersModel): DeltaLayer[] {
  return deltaLayersOf(model).filter(layer => layer.truncates);
}

/** The threshold each truncating layer uses now (its own, or the global default). */
export function getThresholds(model: tfl.LayersModel): ThresholdMap {
  return Object.fromEntries(truncatingLayers(model).map(layer => [layer.name, layer.effectiveThreshold()]));
}

/**
 * Sets thresholds: a number sets every truncating layer; a map sets the layers it names (null:
 * back to the global default). Naming a layer that does not truncate, or none at all, is an error.
 */
export function setThresholds(model: tfl.LayersModel, thresholds: number|{[layerName: string]: number|null}): void {
  const layers = truncatingLayers(model);
  if (typeof thresholds === 'number') {
    checkThreshold('setThresholds', thresholds);
    for (const layer of layers) layer.threshold = thresholds;
    return;
  }
  const byName = new Map(layers.map(layer => [layer.name, layer]));
  const unknown = Object.keys(thresholds).filter(name => !byName.has(name));
  if (unknown.length > 0) {
    throw new Error(`setThresholds: model '${model.name}' has no truncating layer named ${unknown.map(n => `'${n}'`).join(', ')} ` +
        `(its truncating layers: ${[...byName.keys()].join(', ')})`);
  }
  for (const [name, value] of Object.entries(thresholds)) {
    byName.get(name)!.threshold = value == null ? null : checkThreshold(`setThresholds: '${name}'`, value);
  }
}

/** Each truncating layer's activation scale (null: its threshold is absolute). */
export function getThresholdScales(model: tfl.LayersModel): {[layerName: string]: number|null} {
  return Object.fromEntries(truncatingLayers(model).map(layer => [layer.name, layer.thresholdScale]));
}

/** Sets activation scales by layer name (null: absolute threshold); naming a layer that does not truncate is an error. */
export function setThresholdScales(model: tfl.LayersModel, scales: {[layerName: string]: number|null}): void {
  const byName = new Map(truncatingLayers(model).map(layer => [layer.name, layer]));
  const unknown = Object.keys(scales).filter(name => !byName.has(name));
  if (unknown.length > 0) {
    throw new Error(`setThresholdScales: model '${model.name}' has no truncating layer named ${unknown.map(n => `'${n}'`).join(', ')}`);
  }
  for (const [name, value] of Object.entries(scales)) {
    byName.get(name)!.thresholdScale = value == null ? null : checkScale(`setThresholdScales: '${name}'`, value);
  }
}

/** What saveThresholds writes when some layer has an activation scale. */
export interface ScaledThresholds {
  thresholds: ThresholdMap;
  scales: {[layerName: string]: number|null};
}

/**
 * The thresholds in use as a JSON string keyed by layer name (front to back). When some layer has
 * an activation scale (thresholdScale 'activation'), `{"thresholds": {...}, "scales": {...}}`.
 */
export function saveThresholds(model: tfl.LayersModel): string {
  const scales = getThresholdScales(model);
  const scaled = Object.values(scales).some(s => s != null);
  return JSON.stringify(scaled ? {thresholds: getThresholds(model), scales} : getThresholds(model), null, 2);
}

/**
 * Applies thresholds saved by saveThresholds (a JSON string or the parsed object). The form with
 * scales sets both; a plain map sets the thresholds and leaves the scales as they are.
 */
export function loadThresholds(model: tfl.LayersModel, json: string|ThresholdMap|ScaledThresholds): void {
  let parsed: unknown = json;
  if (typeof json === 'string') {
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw new Error(`loadThresholds: not JSON: ${(e as Error).message}`);
    }
  }
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`loadThresholds: expected an object keyed by layer name, got ${JSON.stringify(parsed)}`);
  }
  const withScales = parsed as Partial<ScaledThresholds>;
  if (typeof withScales.thresholds === 'object' && withScales.thresholds != null) {
    setThresholds(model, withScales.thresholds);
    setThresholdScales(model, withScales.scales ?? {});
    return;
  }
  setThresholds(model, parsed as ThresholdMap);
}

// ---- tuning ------------------------------------------------------------------------------

export interface TuneOptions {
  /** The largest acceptable output error over the sample frames (see `metric`). */
  errorBudget: number;
  /** Reference outputs, one per frame; default: the model itself with every threshold 0 (exact). */
  reference?: tf.Tensor[];
  /** First value tried for a threshold that is 0 (default 0.01). */
  initial?: number;
  /** Factor between successive tries (default 2). */
  step?: number;
  /** Tries per threshold (default 8). */
  maxSteps?: number;
  /** First raise one threshold shared by all layers, then each layer (default true). */
  global?: boolean;
  /** Error of one frame's output; default max |out - ref| / max |ref|. The error of a run is the largest. */
  metric?: (output: tf.Tensor, reference: tf.Tensor) => number;
  /** Called after each evaluation. */
  onEvaluation?: (info: {layer: string|null, thresholds: ThresholdMap, error: number, accepted: boolean}) => void;
}

export interface TuneResult {
  thresholds: ThresholdMap;
  /** The error of the returned thresholds. */
  error: number;
  /** Sequence runs made. */
  evaluations: number;
}

function defaultMetric(output: tf.Tensor, reference: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(output, reference))), tf.max(tf.abs(reference))).dataSync()[0]);
}

function singleOutput(model: tfl.LayersModel, frame: tf.Tensor|tf.Tensor[]): tf.Tensor {
  const out = model.predictOnBatch(frame);
  if (Array.isArray(out)) {
    tf.dispose(out);
    throw new Error(`tuneThresholds: model '${model.name}' has ${out.length} outputs; pass a model with one`);
  }
  return out;
}

/**
 * DeltaCNN's threshold tuning: starting from the current thresholds, first raise a threshold
 * shared by all truncating layers, multiplying it by `step` while the error over `frames` (a
 * sequence, run from a reset stream) stays within `errorBudget`; then, front to back, raise each
 * layer's threshold the same way. Leaves the model with the tuned thresholds and reset states.
 */
export function tuneThresholds(model: tfl.LayersModel, frames: Array<tf.Tensor|tf.Tensor[]>, options: TuneOptions): TuneResult {
  const {errorBudget, initial = 0.01, step = 2, maxSteps = 8, global = true, metric = defaultMetric} = options;
  checkThreshold('tuneThresholds: errorBudget', errorBudget);
  checkThreshold('tuneThresholds: initial', initial);
  if (!(step > 1)) throw new Error(`tuneThresholds: step must be > 1, got ${step}`);
  if (frames.length === 0) throw new Error('tuneThresholds: frames must hold at least one frame');
  const layers = truncatingLayers(model);
  if (layers.length === 0) throw new Error(`tuneThresholds: model '${model.name}' has no truncating delta layer`);
  let evaluations = 0;

  const run = (): tf.Tensor[] => {
    model.resetStates();
    return frames.map(frame => singleOutput(model, frame));
  };
  let reference = options.reference;
  if (reference == null) {
    const saved = getThresholds(model);
    setThresholds(model, 0);
    reference = run();
    setThresholds(model, saved);
  }
  if (reference.length !== frames.length) {
    throw new Error(`tuneThresholds: ${reference.length} reference outputs for ${frames.length} frames`);
  }
  const references = reference;
  const evaluate = (layer: string|null): number => {
    const outputs = run();
    evaluations++;
    const error = Math.max(...outputs.map((out, i) => metric(out, references[i])));
    tf.dispose(outputs);
    options.onEvaluation?.({layer, thresholds: getThresholds(model), error, accepted: error <= errorBudget});
    return error;
  };

  let error = evaluate(null);
  if (error > errorBudget) {
    throw new Error(`tuneThresholds: the starting thresholds already give error ${error} > budget ${errorBudget}`);
  }
  /** Raises the thresholds `apply` sets while the error stays in budget; returns the last good value. */
  const raise = (start: number, apply: (t: number) => void, layer: string|null): number => {
    let good = start;
    let next = start > 0 ? start * step : initial;
    for (let k = 0; k < maxSteps; k++, next *= step) {
      apply(next);
      const e = evaluate(layer);
      if (e > errorBudget) break;
      good = next;
      error = e;
    }
    apply(good);
    return good;
  };
  if (global) {
    // One shared threshold, never lowering a layer's own.
    const before = layers.map(l => l.effectiveThreshold());
    const shared = raise(Math.min(...before), t => layers.forEach((l, i) => l.threshold = Math.max(before[i], t)), null);
    layers.forEach((l, i) => l.threshold = Math.max(before[i], shared));
  }
  for (const layer of layers) raise(layer.effectiveThreshold(), t => layer.threshold = t, layer.name);
  model.resetStates();
  if (options.reference == null) tf.dispose(references);
  return {thresholds: getThresholds(model), error, evaluations};
}
