/**
 * Thresholds relative to each layer's activation scale. A threshold compares changes of a layer's
 * output, so a fixed number means different things for a model fed 0-255 pixels and one fed
 * [-1, 1], and for an early layer and a late one. Calibration runs a few real frames exactly
 * (every threshold 0) and gives each truncating layer a scale: the standard deviation of its dense
 * output over those frames and all its elements (the input layer: of the frames). The layer then
 * truncates at threshold x scale, so one relative threshold fits models whatever their value
 * ranges. The spread rather than the RMS: an offset (0-255 pixels vs [-1, 1]) says nothing about
 * how large a change matters.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {DeltaLayer, isDeltaLayer} from './layers/base';

export type ScaleMap = {[layerName: string]: number};

function truncating(model: tfl.LayersModel): DeltaLayer[] {
  return model.layers.filter(isDeltaLayer).filter((layer) => layer.truncates);
}

/**
 * Sets each truncating layer's thresholdScale to the standard deviation of its dense output over `frames` (one
 * model call each, a stream from a reset state, run exactly); returns the scales by layer name.
 * Leaves thresholds as they were and the streams reset.
 */
export function calibrateThresholdScales(model: tfl.LayersModel, frames: Array<tf.Tensor | tf.Tensor[]>): ScaleMap {
  if (frames.length === 0) throw new Error('calibrateThresholdScales: frames must hold at least one frame');
  const layers = truncating(model);
  if (layers.length === 0)
    throw new Error(`calibrateThresholdScales: model '${model.name}' has no truncating delta layer`);
  const saved = layers.map((l) => l.threshold);
  const sums = layers.map(() => 0);
  const squares = layers.map(() => 0);
  const counts = layers.map(() => 0);
  try {
    layers.forEach((l) => (l.threshold = 0));
    model.resetStates();
    for (const frame of frames) {
      tf.dispose(model.predictOnBatch(frame));
      layers.forEach((layer, i) =>
        tf.tidy(() => {
          const values = layer.denseValues();
          if (values == null) {
            throw new Error(
              `calibrateThresholdScales: layer '${layer.name}' (${layer.getClassName()}) did not run on the frame`,
            );
          }
          sums[i] += tf.sum(values).dataSync()[0];
          squares[i] += tf.sum(tf.square(values)).dataSync()[0];
          counts[i] += values.size;
        }),
      );
    }
  } finally {
    layers.forEach((l, i) => (l.threshold = saved[i]));
    model.resetStates();
  }
  const scales: ScaleMap = {};
  layers.forEach((layer, i) => {
    const m = sums[i] / counts[i];
    layer.thresholdScale = Math.sqrt(Math.max(0, squares[i] / counts[i] - m * m));
    scales[layer.name] = layer.thresholdScale;
  });
  return scales;
}

/**
 * A delta layer's mean activity over a run of frames: the fraction of its output pixels it computed
 * (LayerFrameStats.computedFraction: its work, which decides whether it pays), and its dense multiply-adds per frame.
 */
export interface LayerActivity {
  computedFraction: number;
  macs: number;
}

/** Batch rows the probe runs at once in measureActivity: its state and activations then do not scale with the batch. */
export const ACTIVITY_ROWS = 4;

/**
 * The mean computed fraction of each delta layer's output over `frames` after the first (whose delta is the
 * whole frame), run as a stream from a reset state with the layers' own thresholds; by layer name. Batch rows are
 * independent streams, so the frames are run ACTIVITY_ROWS rows at a time, each group a stream of its own, and the
 * group means weighted by their rows: the batch's mean, at the memory of a few rows (a batch of 32 large frames
 * would otherwise hold a second copy of the model's whole delta state). Leaves statistics as they were and the
 * streams reset.
 */
export function measureActivity(
  model: tfl.LayersModel,
  frames: Array<tf.Tensor | tf.Tensor[]>,
): Map<string, LayerActivity> {
  const layers = model.layers.filter(isDeltaLayer);
  const saved = layers.map((l) => l.statsEnabled);
  const sums = new Map<string, LayerActivity>();
  const first = frames[0];
  const batch = (Array.isArray(first) ? first[0] : first).shape[0] ?? 1;
  const rowsOf = (frame: tf.Tensor | tf.Tensor[], start: number, size: number) =>
    batch <= size
      ? frame
      : Array.isArray(frame)
        ? frame.map((x) => tf.slice(x, [start], [size]))
        : tf.slice(frame, [start], [size]);
  try {
    layers.forEach((l) => (l.statsEnabled = true));
    for (let start = 0; start < batch; start += ACTIVITY_ROWS) {
      const size = Math.min(ACTIVITY_ROWS, batch - start);
      model.resetStates();
      frames.forEach((frame, i) => {
        layers.forEach((l) => (l.lastStats = null));
        const rows = rowsOf(frame, start, size);
        tf.dispose(model.predictOnBatch(rows));
        if (rows !== frame) tf.dispose(rows);
        if (i === 0) return;
        for (const layer of layers) {
          if (layer.lastStats == null) continue;
          const sum = sums.get(layer.name) ?? {computedFraction: 0, macs: 0};
          sum.computedFraction += (layer.lastStats.computedFraction * size) / batch / (frames.length - 1);
          sum.macs += layer.lastStats.macs / (frames.length - 1);
          sums.set(layer.name, sum);
        }
      });
    }
  } finally {
    layers.forEach((l, i) => {
      l.statsEnabled = saved[i];
      l.lastStats = null;
    });
    model.resetStates();
  }
  return sums;
}
