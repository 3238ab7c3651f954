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
import {deltaLayersOf, getDeltaStats} from './to_delta';

export type ThresholdMap = {[layerName: string]: number};

/** The layers whose threshold matters, in topological order (front to back). */
export function truncatingLayers(model: tfl.LayersModel): DeltaLayer[] {
  return deltaLayersOf(model).filter((layer) => layer.truncates);
}

/**
 * The truncating layers by name, and by the name of the activation layer each folded in (toDelta's foldActivations),
 * so that a map written for the unfolded model still applies.
 */
function truncatingByName(model: tfl.LayersModel): Map<string, DeltaLayer> {
  const byName = new Map<string, DeltaLayer>();
  for (const layer of truncatingLayers(model)) {
    byName.set(layer.name, layer);
    const folded = (layer as {foldedActivation?: string | null}).foldedActivation;
    if (folded != null && !byName.has(folded)) byName.set(folded, layer);
  }
  return byName;
}

/** The threshold each truncating layer uses now (its own, or the global default). */
export function getThresholds(model: tfl.LayersModel): ThresholdMap {
  return Object.fromEntries(truncatingLayers(model).map((layer) => [layer.name, layer.effectiveThreshold()]));
}

/**
 * Sets thresholds: a number sets every truncating layer; a map sets the layers it names (null:
 * back to the global default). Naming a layer that does not truncate, or none at all, is an error.
 */
export function setThresholds(model: tfl.LayersModel, thresholds: number | {[layerName: string]: number | null}): void {
  const layers = truncatingLayers(model);
  if (typeof thresholds === 'number') {
    checkThreshold('setThresholds', thresholds);
    for (const layer of layers) layer.threshold = thresholds;
    return;
  }
  const byName = truncatingByName(model);
  const unknown = Object.keys(thresholds).filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    throw new Error(
      `setThresholds: model '${model.name}' has no truncating layer named ${unknown.map((n) => `'${n}'`).join(', ')} ` +
        `(its truncating layers: ${layers.map((l) => l.name).join(', ')})`,
    );
  }
  for (const [name, value] of Object.entries(thresholds)) {
    byName.get(name)!.threshold = value == null ? null : checkThreshold(`setThresholds: '${name}'`, value);
  }
}

/** Each truncating layer's activation scale (null: its threshold is absolute). */
export function getThresholdScales(model: tfl.LayersModel): {[layerName: string]: number | null} {
  return Object.fromEntries(truncatingLayers(model).map((layer) => [layer.name, layer.thresholdScale]));
}

/** Sets activation scales by layer name (null: absolute threshold); naming a layer that does not truncate is an error. */
export function setThresholdScales(model: tfl.LayersModel, scales: {[layerName: string]: number | null}): void {
  const byName = truncatingByName(model);
  const unknown = Object.keys(scales).filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    throw new Error(
      `setThresholdScales: model '${model.name}' has no truncating layer named ${unknown.map((n) => `'${n}'`).join(', ')}`,
    );
  }
  for (const [name, value] of Object.entries(scales)) {
    byName.get(name)!.thresholdScale = value == null ? null : checkScale(`setThresholdScales: '${name}'`, value);
  }
}

/** What saveThresholds writes when some layer has an activation scale. */
export interface ScaledThresholds {
  thresholds: ThresholdMap;
  scales: {[layerName: string]: number | null};
}

/**
 * The thresholds in use as a JSON string keyed by layer name (front to back). When some layer has
 * an activation scale (thresholdScale 'activation'), `{"thresholds": {...}, "scales": {...}}`.
 */
export function saveThresholds(model: tfl.LayersModel): string {
  const scales = getThresholdScales(model);
  const scaled = Object.values(scales).some((s) => s != null);
  return JSON.stringify(scaled ? {thresholds: getThresholds(model), scales} : getThresholds(model), null, 2);
}

/**
 * Applies thresholds saved by saveThresholds (a JSON string or the parsed object). The form with
 * scales sets both; a plain map sets the thresholds and leaves the scales as they are.
 */
export function loadThresholds(model: tfl.LayersModel, json: string | ThresholdMap | ScaledThresholds): void {
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

/** One model call's input: a tensor, or one per model input. */
export type Frame = tf.Tensor | tf.Tensor[];

export interface TuneOptions {
  /** The largest acceptable output error over the tuning frames (see `metric` and `error`). */
  errorBudget: number;
  /** Reference outputs, one per tuning frame; default: the model itself with every threshold 0 (exact). */
  reference?: Array<tf.Tensor | tf.Tensor[]>;
  /** Reference outputs of the held-out frames; default: the exact model's. */
  holdoutReference?: Array<tf.Tensor | tf.Tensor[]>;
  /**
   * Frames held back from tuning: the tuned thresholds' error on them is reported (TuneResult's
   * `holdoutError`), never used to choose. Or `holdout`: the share of `frames` (the last ones) held back.
   */
  holdoutFrames?: Frame[];
  holdout?: number;
  /** First value tried for a threshold that is 0 (default 0.01). */
  initial?: number;
  /** Factor between successive tries (default 2). */
  step?: number;
  /** Tries per threshold (default 8). */
  maxSteps?: number;
  /** First raise one threshold shared by all layers, then each layer (default true). */
  global?: boolean;
  /** Then raise each layer's threshold, front to back (default true). */
  perLayer?: boolean;
  /**
   * Error of one output of one frame; default max |out - ref| / max |ref|. A frame's error is the
   * largest over the model's outputs, a run's the largest over its frames.
   */
  metric?: (output: tf.Tensor, reference: tf.Tensor) => number;
  /** Error of one frame from all its outputs (replaces `metric`): (reference outputs, delta outputs). */
  error?: (denseOutputs: tf.Tensor[], deltaOutputs: tf.Tensor[]) => number;
  /**
   * How a run's frame errors make the error held to the budget: 'max' (default), the worst frame; 'mean', their
   * mean, for an error that is a share over the clip (1 - PCK per frame: a budget of 0.01 keeps the tuning frames'
   * PCK near 99% while single frames may lose a keypoint or two; check it on held-out frames).
   */
  aggregate?: 'max' | 'mean';
  /** Called after each evaluation. */
  onEvaluation?: (info: {layer: string | null; thresholds: ThresholdMap; error: number; accepted: boolean}) => void;
}

export interface TuneResult {
  thresholds: ThresholdMap;
  /** The error of the returned thresholds on the tuning frames, aggregated as asked (at most the budget). */
  error: number;
  /** Share of multiply-adds skipped on the tuning frames after the first (a stream's first frame is dense). */
  skippedShare: number;
  /** Their error on the held-out frames (null without any), the largest and the mean over frames. */
  holdoutError: number | null;
  holdoutMeanError: number | null;
  /** Share of multiply-adds skipped on the held-out frames after the first (null without any). */
  holdoutSkippedShare: number | null;
  /** Sequence runs made while tuning. */
  evaluations: number;
}

function defaultMetric(output: tf.Tensor, reference: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(output, reference))), tf.max(tf.abs(reference))).dataSync()[0]);
}

const asList = (out: tf.Tensor | tf.Tensor[]): tf.Tensor[] => (Array.isArray(out) ? out : [out]);

interface SequenceRun {
  errors: number[];
  skippedShare: number;
}

/**
 * Runs `frames` through `model` from reset streams; each frame's error against `references` (or,
 * without them, the outputs themselves, kept), and with `stats` the mean skipped share after frame 0.
 */
function runSequence(
  model: tfl.LayersModel,
  frames: Frame[],
  frameError: ((ref: tf.Tensor[], out: tf.Tensor[]) => number) | null,
  references: tf.Tensor[][] | null,
  stats: boolean,
): {run: SequenceRun; outputs: tf.Tensor[][]} {
  const layers = deltaLayersOf(model);
  const statsBefore = layers.map((l) => l.statsEnabled);
  if (stats) layers.forEach((l) => (l.statsEnabled = true));
  const errors: number[] = [];
  const outputs: tf.Tensor[][] = [];
  let skipped = 0;
  try {
    model.resetStates();
    frames.forEach((frame, t) => {
      const out = asList(model.predictOnBatch(frame));
      if (references != null && frameError != null) {
        if (out.length !== references[t].length) {
          tf.dispose(out);
          throw new Error(
            `tuneThresholds: model '${model.name}' gives ${out.length} outputs, the reference ${references[t].length}`,
          );
        }
        errors.push(frameError(references[t], out));
        tf.dispose(out);
      } else {
        outputs.push(out);
      }
      if (stats && t > 0) skipped += getDeltaStats(model).skippedShare / (frames.length - 1);
    });
  } finally {
    layers.forEach((l, i) => (l.statsEnabled = statsBefore[i]));
  }
  return {run: {errors, skippedShare: skipped}, outputs};
}

/**
 * DeltaCNN's threshold tuning: starting from the current thresholds, first raise a threshold
 * shared by all truncating layers, multiplying it by `step` while the error over `frames` (a
 * sequence, run from a reset stream) stays within `errorBudget`; then, front to back, raise each
 * layer's threshold the same way. Models with several outputs are tuned on the largest error over
 * their outputs (or the `error` function). `frames` may be `{tuneFrames, holdoutFrames}`, or part
 * of them held back (`holdout`): the result reports the error reached on frames tuning never saw,
 * next to the tuning error and the share of work skipped. Leaves the model with the tuned
 * thresholds and reset states.
 */
export function tuneThresholds(
  model: tfl.LayersModel,
  frames: Frame[] | {tuneFrames: Frame[]; holdoutFrames?: Frame[]},
  options: TuneOptions,
): TuneResult {
  const {errorBudget, initial = 0.01, step = 2, maxSteps = 8, global = true, perLayer = true} = options;
  const {aggregate = 'max'} = options;
  checkThreshold('tuneThresholds: errorBudget', errorBudget);
  if (aggregate !== 'max' && aggregate !== 'mean')
    throw new Error(`tuneThresholds: aggregate must be 'max' or 'mean', got ${JSON.stringify(aggregate)}`);
  checkThreshold('tuneThresholds: initial', initial);
  if (!(step > 1)) throw new Error(`tuneThresholds: step must be > 1, got ${step}`);
  let tuneFrames: Frame[];
  let holdoutFrames: Frame[] = options.holdoutFrames ?? [];
  if (Array.isArray(frames)) {
    tuneFrames = frames;
    if (options.holdout != null && options.holdoutFrames == null) {
      if (!(options.holdout > 0 && options.holdout < 1))
        throw new Error(`tuneThresholds: holdout must be a share in (0, 1), got ${options.holdout}`);
      const kept = Math.round(frames.length * (1 - options.holdout));
      if (kept < 1 || kept >= frames.length) {
        throw new Error(
          `tuneThresholds: holdout ${options.holdout} of ${frames.length} frames leaves no frames to tune on or none held out`,
        );
      }
      [tuneFrames, holdoutFrames] = [frames.slice(0, kept), frames.slice(kept)];
    }
  } else {
    tuneFrames = frames.tuneFrames;
    holdoutFrames = frames.holdoutFrames ?? holdoutFrames;
  }
  if (tuneFrames.length === 0) throw new Error('tuneThresholds: frames must hold at least one frame to tune on');
  const layers = truncatingLayers(model);
  if (layers.length === 0) throw new Error(`tuneThresholds: model '${model.name}' has no truncating delta layer`);
  const metric = options.metric ?? defaultMetric;
  const frameError =
    options.error ?? ((refs: tf.Tensor[], outs: tf.Tensor[]) => Math.max(...outs.map((o, i) => metric(o, refs[i]))));
  let evaluations = 0;

  /** The exact model's outputs on `list` (thresholds 0), or the given references. */
  const referencesOf = (
    list: Frame[],
    given: Array<tf.Tensor | tf.Tensor[]> | undefined,
    what: string,
  ): {refs: tf.Tensor[][]; owned: boolean} => {
    if (given != null) {
      if (given.length !== list.length)
        throw new Error(`tuneThresholds: ${given.length} ${what} reference outputs for ${list.length} frames`);
      return {refs: given.map(asList), owned: false};
    }
    const saved = layers.map((l) => l.threshold);
    try {
      layers.forEach((l) => (l.threshold = 0));
      return {refs: runSequence(model, list, null, null, false).outputs, owned: true};
    } finally {
      layers.forEach((l, i) => (l.threshold = saved[i]));
    }
  };
  const tuneRefs = referencesOf(tuneFrames, options.reference, 'tuning');
  const evaluate = (layer: string | null): number => {
    const {run} = runSequence(model, tuneFrames, frameError, tuneRefs.refs, false);
    evaluations++;
    const error =
      aggregate === 'mean' ? run.errors.reduce((a, e) => a + e, 0) / run.errors.length : Math.max(...run.errors);
    options.onEvaluation?.({layer, thresholds: getThresholds(model), error, accepted: error <= errorBudget});
    return error;
  };

  try {
    let error = evaluate(null);
    if (error > errorBudget) {
      throw new Error(`tuneThresholds: the starting thresholds already give error ${error} > budget ${errorBudget}`);
    }
    /** Raises the thresholds `apply` sets while the error stays in budget; returns the last good value. */
    const raise = (start: number, apply: (t: number) => void, layer: string | null): number => {
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
      const before = layers.map((l) => l.effectiveThreshold());
      const shared = raise(
        Math.min(...before),
        (t) => layers.forEach((l, i) => (l.threshold = Math.max(before[i], t))),
        null,
      );
      layers.forEach((l, i) => (l.threshold = Math.max(before[i], shared)));
    }
    if (perLayer) {
      for (const layer of layers) raise(layer.effectiveThreshold(), (t) => (layer.threshold = t), layer.name);
    }
    const tuned = runSequence(model, tuneFrames, frameError, tuneRefs.refs, true).run;
    const result: TuneResult = {
      thresholds: getThresholds(model),
      error,
      skippedShare: tuned.skippedShare,
      holdoutError: null,
      holdoutMeanError: null,
      holdoutSkippedShare: null,
      evaluations,
    };
    if (holdoutFrames.length > 0) {
      const holdRefs = referencesOf(holdoutFrames, options.holdoutReference, 'held-out');
      try {
        const held = runSequence(model, holdoutFrames, frameError, holdRefs.refs, true).run;
        result.holdoutError = Math.max(...held.errors);
        result.holdoutMeanError = held.errors.reduce((a, e) => a + e, 0) / held.errors.length;
        result.holdoutSkippedShare = held.skippedShare;
      } finally {
        if (holdRefs.owned) tf.dispose(holdRefs.refs.flat());
      }
    }
    return result;
  } finally {
    model.resetStates();
    if (tuneRefs.owned) tf.dispose(tuneRefs.refs.flat());
  }
}
