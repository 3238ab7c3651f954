/**
 * How faithfully a delta model reproduces its dense twin, in the terms users of the model judge it by:
 *
 *   pose models (PoseNet)  PCK: the share of the dense model's confident keypoints (score > minScore) that
 *                          the delta model puts within `radius` x the image diagonal of them. Poses are
 *                          paired greedily by nearest centre (the mean of the dense pose's confident
 *                          keypoints); a dense pose left without a partner counts all its keypoints as misses.
 *   classifiers            top-1 agreement, and the largest logit error relative to the largest dense logit
 *                          of the same row.
 */
import * as tf from '@tensorflow/tfjs-core';

import {decodeMultiplePoses, MultiPoseOptions, Pose, posenetMaps, scalePoses} from '../models/posenet_decode';

export interface PckOptions {
  /** Share of the image diagonal within which a keypoint counts as found (default 0.02). */
  radius?: number;
  /** Dense keypoints count when their score exceeds this (default 0.5). */
  minScore?: number;
  /** 'centre': greedy nearest pose centre (multi-person); 'order': pose i with pose i (single-person). */
  match?: 'centre' | 'order';
}

export interface PckResult {
  /** Confident dense keypoints found by the delta model. */
  correct: number;
  /** Confident dense keypoints. */
  total: number;
  /** correct / total; undefined when the dense model is confident about no keypoint. */
  pck?: number;
}

function centre(pose: Pose, minScore: number): {y: number; x: number} | null {
  const k = pose.keypoints.filter((p) => p.score > minScore);
  if (k.length === 0) return null;
  return {y: k.reduce((s, p) => s + p.y, 0) / k.length, x: k.reduce((s, p) => s + p.x, 0) / k.length};
}

/** PCK of `delta` against `dense` poses, both in the pixels of an image of `height` x `width`. */
export function posePck(
  dense: Pose[],
  delta: Pose[],
  height: number,
  width: number,
  options: PckOptions = {},
): PckResult {
  const {radius = 0.02, minScore = 0.5, match = 'centre'} = options;
  const limit = radius * Math.hypot(height, width);
  const partner = new Map<number, number>();
  if (match === 'order') {
    dense.forEach((_, i) => {
      if (i < delta.length) partner.set(i, i);
    });
  } else {
    const denseCentres = dense.map((p) => centre(p, minScore));
    // The delta pose's centre over the same keypoints the dense pose is confident about: a confident
    // keypoint the delta model lost should not move its pose away from its partner.
    const pairs: Array<{d: number; i: number; j: number}> = [];
    denseCentres.forEach((c, i) => {
      if (c == null) return;
      const ids = dense[i].keypoints.map((p, k) => (p.score > minScore ? k : -1)).filter((k) => k >= 0);
      delta.forEach((q, j) => {
        const y = ids.reduce((s, k) => s + q.keypoints[k].y, 0) / ids.length;
        const x = ids.reduce((s, k) => s + q.keypoints[k].x, 0) / ids.length;
        pairs.push({d: Math.hypot(y - c.y, x - c.x), i, j});
      });
    });
    pairs.sort((a, b) => a.d - b.d);
    const taken = new Set<number>();
    for (const {i, j} of pairs) {
      if (partner.has(i) || taken.has(j)) continue;
      partner.set(i, j);
      taken.add(j);
    }
  }
  let correct = 0,
    total = 0;
  dense.forEach((pose, i) => {
    const other = partner.has(i) ? delta[partner.get(i)!] : null;
    pose.keypoints.forEach((p, k) => {
      if (!(p.score > minScore)) return;
      total++;
      const q = other?.keypoints[k];
      if (q != null && Math.hypot(q.y - p.y, q.x - p.x) <= limit) correct++;
    });
  });
  return {correct, total, pck: total > 0 ? correct / total : undefined};
}

export interface ClassifierAgreement {
  rows: number;
  /** Rows whose largest logit is the same class in both. */
  top1Agreement: number;
  /** max over rows of max |delta - dense| / max |dense|. */
  maxRelError: number;
}

/** Top-1 agreement and logit error of row-major [rows, classes] logits. */
export function classifierAgreement(
  dense: ArrayLike<number>,
  delta: ArrayLike<number>,
  classes: number,
): ClassifierAgreement {
  if (dense.length !== delta.length || classes < 1 || dense.length % classes !== 0) {
    throw new Error(`classifierAgreement: ${dense.length} and ${delta.length} logits do not form rows of ${classes}`);
  }
  const rows = dense.length / classes;
  let agree = 0,
    maxRelError = 0;
  for (let r = 0; r < rows; r++) {
    let [ba, bb, scale, err] = [0, 0, 0, 0];
    for (let c = 0; c < classes; c++) {
      const [a, b] = [dense[r * classes + c], delta[r * classes + c]];
      if (a > dense[r * classes + ba]) ba = c;
      if (b > delta[r * classes + bb]) bb = c;
      scale = Math.max(scale, Math.abs(a));
      err = Math.max(err, Math.abs(a - b));
    }
    if (ba === bb) agree++;
    maxRelError = Math.max(maxRelError, err / Math.max(scale, 1e-12));
  }
  return {rows, top1Agreement: agree / rows, maxRelError};
}

/** PoseNet's outputs: [heatmaps (17), offsets (34), displacementFwd (32), displacementBwd (32)], rank 4. */
export function isPosenetOutputs(outputs: tf.Tensor[]): boolean {
  return (
    outputs.length === 4 &&
    outputs.every((o) => o.rank === 4) &&
    outputs.map((o) => o.shape[3]).join() === '17,34,32,32'
  );
}

/** A classifier's output: one [rows, classes] tensor. */
export function isClassifierOutput(outputs: tf.Tensor[]): boolean {
  return outputs.length === 1 && outputs[0].rank === 2;
}

/**
 * Poses of batch row 0 of PoseNet's outputs (multi-person decoding), in the pixels of a frame of
 * `frameHeight` x `frameWidth` that was resized to the model input of `inputHeight` x `inputWidth`.
 */
export function posesOf(
  outputs: tf.Tensor[],
  inputHeight: number,
  inputWidth: number,
  frameHeight = inputHeight,
  frameWidth = inputWidth,
  options: MultiPoseOptions = {},
): Pose[] {
  const poses = decodeMultiplePoses(posenetMaps(outputs), options);
  return scalePoses(poses, frameHeight / inputHeight, frameWidth / inputWidth);
}
