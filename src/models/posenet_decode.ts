/**
 * Decoding PoseNet's four outputs into poses, as @tensorflow-models/posenet does (its
 * decodeMultiplePoses and decodeSinglePose, tested against them in test/models/posenet_decode.test.ts):
 *
 *   multi-person  every heatmap cell that scores at least `scoreThreshold` and is the maximum of its
 *                 3x3 neighbourhood is a root candidate, best first; a candidate within `nmsRadius` of
 *                 the same keypoint of a pose already found is dropped; otherwise the pose grows from
 *                 the root along the 16 edges of the pose tree (backward displacements towards the
 *                 nose, then forward ones towards the limbs), each new keypoint refined twice by the
 *                 short-range offsets of the cell it lands in. A pose's score is the mean score of its
 *                 keypoints that no earlier pose already covers.
 *   single-person each keypoint at its heatmap argmax cell, refined by that cell's offsets.
 *
 * Positions are in model-input pixels: keypoint = cell * outputStride + offset. That holds for inputs of
 * outputStride * k + 1 pixels, the sizes PoseNet was trained at (posenetInputSize): with an even size,
 * 'same' padding shifts each stride-2 layer's grid by half a step, 15 px in all at stride 16.
 */
import * as tf from '@tensorflow/tfjs-core';

export const PART_NAMES = [
  'nose',
  'leftEye',
  'rightEye',
  'leftEar',
  'rightEar',
  'leftShoulder',
  'rightShoulder',
  'leftElbow',
  'rightElbow',
  'leftWrist',
  'rightWrist',
  'leftHip',
  'rightHip',
  'leftKnee',
  'rightKnee',
  'leftAnkle',
  'rightAnkle',
];

const id = (name: string) => PART_NAMES.indexOf(name);

/** The tree the displacements follow, parent -> child; edge i owns displacement channels i (y) and 16 + i (x). */
const POSE_CHAIN: Array<[number, number]> = (
  [
    ['nose', 'leftEye'],
    ['leftEye', 'leftEar'],
    ['nose', 'rightEye'],
    ['rightEye', 'rightEar'],
    ['nose', 'leftShoulder'],
    ['leftShoulder', 'leftElbow'],
    ['leftElbow', 'leftWrist'],
    ['leftShoulder', 'leftHip'],
    ['leftHip', 'leftKnee'],
    ['leftKnee', 'leftAnkle'],
    ['nose', 'rightShoulder'],
    ['rightShoulder', 'rightElbow'],
    ['rightElbow', 'rightWrist'],
    ['rightShoulder', 'rightHip'],
    ['rightHip', 'rightKnee'],
    ['rightKnee', 'rightAnkle'],
  ] as Array<[string, string]>
).map(([a, b]) => [id(a), id(b)]);

/** The limbs drawn between keypoints (PoseNet's connected parts). */
export const SKELETON: Array<[number, number]> = (
  [
    ['leftHip', 'leftShoulder'],
    ['leftElbow', 'leftShoulder'],
    ['leftElbow', 'leftWrist'],
    ['leftHip', 'leftKnee'],
    ['leftKnee', 'leftAnkle'],
    ['rightHip', 'rightShoulder'],
    ['rightElbow', 'rightShoulder'],
    ['rightElbow', 'rightWrist'],
    ['rightHip', 'rightKnee'],
    ['rightKnee', 'rightAnkle'],
    ['leftShoulder', 'rightShoulder'],
    ['leftHip', 'rightHip'],
  ] as Array<[string, string]>
).map(([a, b]) => [id(a), id(b)]);

export interface Keypoint {
  y: number;
  x: number;
  score: number;
}

export interface Pose {
  keypoints: Keypoint[];
  score: number;
}

/** One image's outputs, channel-last, row-major: scores (sigmoid of the heatmaps) [h, w, 17], offsets [h, w, 34], displacements [h, w, 32]. */
export interface PosenetMaps {
  height: number;
  width: number;
  scores: ArrayLike<number>;
  offsets: ArrayLike<number>;
  displacementsFwd: ArrayLike<number>;
  displacementsBwd: ArrayLike<number>;
}

export interface MultiPoseOptions {
  outputStride?: number;
  maxDetections?: number;
  /** Root candidates score at least this. */
  scoreThreshold?: number;
  /** Model-input pixels. */
  nmsRadius?: number;
}

export const MULTI_POSE_DEFAULTS: Required<MultiPoseOptions> = {
  outputStride: 16,
  maxDetections: 10,
  scoreThreshold: 0.5,
  nmsRadius: 20,
};

function checkMaps(maps: PosenetMaps): number {
  const cells = maps.height * maps.width;
  const k = maps.scores.length / cells;
  if (!Number.isInteger(k) || k < 1 || maps.offsets.length !== cells * 2 * k) {
    throw new Error(
      `posenet decode: scores (${maps.scores.length}) and offsets (${maps.offsets.length}) do not fit a ` +
        `${maps.height}x${maps.width} grid with 2 offsets per keypoint`,
    );
  }
  return k;
}

const clamp = (a: number, lo: number, hi: number) => (a < lo ? lo : a > hi ? hi : a);

/** Single-person decoding: each keypoint at its heatmap argmax cell (the first maximum) plus its offsets. */
export function decodeSinglePose(maps: PosenetMaps, outputStride = 16): Pose {
  const k = checkMaps(maps);
  const {scores, offsets, width} = maps;
  const cells = maps.height * width;
  const keypoints: Keypoint[] = [];
  for (let j = 0; j < k; j++) {
    let best = 0;
    for (let c = 1; c < cells; c++) if (scores[c * k + j] > scores[best * k + j]) best = c;
    const cy = Math.floor(best / width);
    const cx = best % width;
    keypoints.push({
      y: cy * outputStride + offsets[best * 2 * k + j],
      x: cx * outputStride + offsets[best * 2 * k + k + j],
      score: scores[best * k + j],
    });
  }
  return {keypoints, score: keypoints.reduce((s, p) => s + p.score, 0) / k};
}

/** Multi-person decoding (PoseNet's decodeMultiplePoses); poses in the order found, best root first. */
export function decodeMultiplePoses(maps: PosenetMaps, options: MultiPoseOptions = {}): Pose[] {
  const {outputStride, maxDetections, scoreThreshold, nmsRadius} = {...MULTI_POSE_DEFAULTS, ...options};
  const k = checkMaps(maps);
  const {height, width, scores, offsets} = maps;
  const edges = POSE_CHAIN.length;
  for (const [name, d] of [
    ['displacementsFwd', maps.displacementsFwd],
    ['displacementsBwd', maps.displacementsBwd],
  ] as const) {
    if (d.length !== height * width * 2 * edges)
      throw new Error(`posenet decode: ${name} holds ${d.length} values, not ${height}x${width}x${2 * edges}`);
  }
  const score = (y: number, x: number, j: number) => scores[(y * width + x) * k + j];
  const imageCoords = (y: number, x: number, j: number) => {
    const o = (y * width + x) * 2 * k;
    return {y: y * outputStride + offsets[o + j], x: x * outputStride + offsets[o + k + j]};
  };

  const candidates: Array<{score: number; y: number; x: number; id: number}> = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let j = 0; j < k; j++) {
        const s = score(y, x, j);
        if (s < scoreThreshold) continue;
        let isMax = true;
        for (let yy = Math.max(y - 1, 0); isMax && yy < Math.min(y + 2, height); yy++) {
          for (let xx = Math.max(x - 1, 0); xx < Math.min(x + 2, width); xx++) {
            if (score(yy, xx, j) > s) {
              isMax = false;
              break;
            }
          }
        }
        if (isMax) candidates.push({score: s, y, x, id: j});
      }
    }
  }
  candidates.sort((a, b) => b.score - a.score);

  const squaredRadius = nmsRadius * nmsRadius;
  const poses: Pose[] = [];
  const nearExisting = (p: {y: number; x: number}, j: number) =>
    poses.some((pose) => {
      const q = pose.keypoints[j];
      return (q.y - p.y) ** 2 + (q.x - p.x) ** 2 <= squaredRadius;
    });
  const nearestCell = (p: {y: number; x: number}) => ({
    y: clamp(Math.round(p.y / outputStride), 0, height - 1),
    x: clamp(Math.round(p.x / outputStride), 0, width - 1),
  });
  const traverse = (edge: number, source: Keypoint, target: number, displacements: ArrayLike<number>): Keypoint => {
    const c = nearestCell(source);
    const d = (c.y * width + c.x) * 2 * edges;
    let point = {y: source.y + displacements[d + edge], x: source.x + displacements[d + edges + edge]};
    for (let step = 0; step < 2; step++) {
      const t = nearestCell(point);
      const o = imageCoords(t.y, t.x, target);
      point = {y: o.y, x: o.x};
    }
    const t = nearestCell(point);
    return {...point, score: score(t.y, t.x, target)};
  };

  for (const root of candidates) {
    if (poses.length >= maxDetections) break;
    const rootPoint = imageCoords(root.y, root.x, root.id);
    if (nearExisting(rootPoint, root.id)) continue;
    const keypoints: Array<Keypoint | undefined> = new Array(k);
    keypoints[root.id] = {...rootPoint, score: root.score};
    for (let e = edges - 1; e >= 0; e--) {
      const [parent, child] = POSE_CHAIN[e];
      if (keypoints[child] && !keypoints[parent])
        keypoints[parent] = traverse(e, keypoints[child]!, parent, maps.displacementsBwd);
    }
    for (let e = 0; e < edges; e++) {
      const [parent, child] = POSE_CHAIN[e];
      if (keypoints[parent] && !keypoints[child])
        keypoints[child] = traverse(e, keypoints[parent]!, child, maps.displacementsFwd);
    }
    const full = keypoints as Keypoint[];
    const uncovered = full.reduce((s, p, j) => (nearExisting(p, j) ? s : s + p.score), 0);
    poses.push({keypoints: full, score: uncovered / k});
  }
  return poses;
}

/**
 * The maps of batch row `row` of PoseNet's outputs [heatmaps, offsets, displacementFwd, displacementBwd]
 * (the order of models.posenet), read to the host, the heatmaps through a sigmoid.
 */
export function posenetMaps(outputs: tf.Tensor[], row = 0): PosenetMaps {
  if (outputs.length !== 4 || outputs.some((o) => o.rank !== 4))
    throw new Error('posenet decode: expected the 4 rank-4 outputs of PoseNet');
  const [, height, width] = outputs[0].shape as number[];
  const read = (t: tf.Tensor, sigmoid = false) =>
    tf.tidy(() => {
      const r = tf.slice(t, [row, 0, 0, 0], [1, -1, -1, -1]);
      return (sigmoid ? tf.sigmoid(r) : r).dataSync() as Float32Array;
    });
  return {
    height,
    width,
    scores: read(outputs[0], true),
    offsets: read(outputs[1]),
    displacementsFwd: read(outputs[2]),
    displacementsBwd: read(outputs[3]),
  };
}

/** Poses scaled from model-input pixels to frame pixels (PoseNet's scalePose). */
export function scalePoses(poses: Pose[], scaleY: number, scaleX: number): Pose[] {
  return poses.map((p) => ({
    score: p.score,
    keypoints: p.keypoints.map((q) => ({y: q.y * scaleY, x: q.x * scaleX, score: q.score})),
  }));
}

/**
 * A model input size for a frame: the aspect ratio kept, longer side about `longSide`, each side
 * outputStride * k + 1 (see the header).
 */
export function posenetInputSize(
  frameHeight: number,
  frameWidth: number,
  longSide = 385,
  outputStride = 16,
): [number, number] {
  const scale = Math.min(1, longSide / Math.max(frameHeight, frameWidth));
  const fit = (v: number) => Math.max(1, Math.round((v * scale - 1) / outputStride)) * outputStride + 1;
  return [fit(frameHeight), fit(frameWidth)];
}
