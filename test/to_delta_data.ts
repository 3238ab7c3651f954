/**
 * Data for the delta-model tests and benchmarks:
 *  - real video: vtest.avi (Debian's opencv-doc, a static camera over a street;
 *    scripts/fetch-test-data.sh installs it and ffmpeg), decoded once per process with ffmpeg to
 *    raw RGB at a small size and kept in memory;
 *  - a real third-party LayersModel: the Keras MobileNetV2 that the nsfwjs npm package ships
 *    (depthwise convs, batch norm, ReLU6, residual adds), loaded from its files.
 */
import {spawnSync} from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {expectClose} from './support/util';

import {ffmpegBinary} from '../src/video/ffmpeg';

export const VTEST = process.env.TFJS_DELTA_VTEST ?? '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

/** Why the video cannot be had, or null when it can. */
export function videoUnavailable(): string|null {
  if (!fs.existsSync(VTEST)) return `${VTEST} is missing: run scripts/fetch-test-data.sh (installs opencv-doc and ffmpeg)`;
  try {
    ffmpegBinary();
  } catch (e) {
    return `${(e as Error).message}; run scripts/fetch-test-data.sh`;
  }
  return null;
}

const cache = new Map<string, Uint8Array>();

/** At least the first `count` frames of vtest.avi as RGB bytes, height x width (area-averaged down). */
export function vtestBytes(count: number, height: number, width: number): Uint8Array {
  const key = `${height}x${width}`;
  const cached = cache.get(key);
  const frameBytes = height * width * 3;
  if (cached != null && cached.length >= count * frameBytes) return cached;
  // Decode generously (the tests walk through the frames one by one), within the 795 it has.
  const decode = Math.min(795, Math.max(count, 2 * (cached?.length ?? 0) / frameBytes, 320));
  const run = spawnSync(ffmpegBinary(), ['-hide_banner', '-loglevel', 'error', '-i', VTEST, '-frames:v', String(decode),
    '-vf', `scale=${width}:${height}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
  {maxBuffer: decode * frameBytes + (1 << 20)});
  if (run.status !== 0) throw new Error(`ffmpeg could not decode ${VTEST}: ${run.stderr?.toString().trim()}`);
  const bytes = new Uint8Array(run.stdout.buffer, run.stdout.byteOffset, run.stdout.byteLength);
  if (bytes.length < count * frameBytes) {
    throw new Error(`${VTEST} gave ${bytes.length / frameBytes} frames at ${width}x${height}, ${count} wanted`);
  }
  cache.set(key, bytes);
  return bytes;
}

/** Frame `index` as a float32 [batch, height, width, 3] tensor in [0, 1] (batch rows: frames index, index+offset, ...). */
export function vtestFrame(index: number, height: number, width: number, batch = 1, offset = 100): tf.Tensor4D {
  const frameBytes = height * width * 3;
  const bytes = vtestBytes(index + (batch - 1) * offset + 1, height, width);
  return tf.tidy(() => {
    const rows = Array.from({length: batch}, (_, b) => {
      const start = (index + b * offset) * frameBytes;
      return tf.tensor3d(bytes.subarray(start, start + frameBytes), [height, width, 3], 'int32');
    });
    return tf.div(tf.cast(tf.stack(rows), 'float32'), 255) as tf.Tensor4D;
  });
}

/** max |a - b| / max |b|: the relative error the delta tests bound. */
export function relativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(actual, expected))), tf.max(tf.abs(expected))).dataSync()[0]);
}

// ---- random models and sequences --------------------------------------------------------------

/** Random non-zero weights (biases and BN statistics included), from `seed`. */
export function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  let k = 0;
  for (const layer of model.layers) {
    const names = layer.weights.map(w => w.originalName);
    layer.setWeights(layer.getWeights().map((w, i) => tf.tidy(() => {
      k++;
      if (/moving_variance|gamma/.test(names[i])) return tf.randomUniform(w.shape, 0.5, 1.5, 'float32', seed + k);
      // He-like scale for kernels, so activations keep their magnitude through deep stacks.
      const fanIn = w.rank >= 2 ? w.size / w.shape[w.rank - 1] : 4;
      return tf.randomNormal(w.shape, 0, Math.min(0.5, Math.sqrt(2 / fanIn)), 'float32', seed + k);
    })));
  }
}

/** A random walk: ~15% of the pixels (all channels) get a new random offset each frame. */
export function nextFrame(previous: tf.Tensor|null, shape: number[], seed: number, t: number): tf.Tensor {
  return tf.tidy(() => {
    if (previous == null) return tf.randomUniform(shape, -1, 1, 'float32', seed);
    const moved = tf.less(tf.randomUniform(shape.slice(0, -1), 0, 1, 'float32', seed + 2 * t), 0.15);
    const step = tf.randomNormal(shape, 0, 0.5, 'float32', seed + 2 * t + 1);
    return tf.add(previous, tf.mul(step, tf.expandDims(tf.cast(moved, 'float32'), -1)));
  });
}

export function runParity(dense: tfl.LayersModel, delta: tfl.LayersModel, shapes: number[][], frames: number, seed: number,
                          ctx: string, onFrame?: (t: number) => void, tolerance = 1e-5): void {
  let xs: tf.Tensor[]|null = null;
  for (let t = 0; t < frames; t++) {
    const next = shapes.map((s, i) => nextFrame(xs?.[i] ?? null, s, seed + 1000 * i, t));
    tf.dispose(xs ?? []);
    xs = next;
    tf.tidy(() => {
      const want = dense.predictOnBatch(xs!.length === 1 ? xs![0] : xs!) as tf.Tensor;
      const got = delta.predictOnBatch(xs!.length === 1 ? xs![0] : xs!) as tf.Tensor;
      expectClose(got, want, `${ctx} frame ${t}`, tolerance, tolerance);
    });
    onFrame?.(t);
  }
  tf.dispose(xs ?? []);
}

/**
 * A small ResNet-style classifier: conv-BN-ReLU stem with max pooling, basic residual blocks
 * (conv-BN-ReLU-conv-BN + add + ReLU; a strided one with a 1x1 projection), global average
 * pooling and a dense head. Random weights from `seed`, BN statistics included.
 */
export function resnetStyle(seed: number, inputShape: Array<number|null> = [null, null, 3], width = 16): tfl.LayersModel {
  const L = tfl.layers;
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor|tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
  const convBn = (x: tfl.SymbolicTensor, filters: number, kernelSize: number, strides: number, name: string) =>
    apply(L.batchNormalization({name: `${name}_bn`}), apply(L.conv2d({filters, kernelSize, strides, padding: 'same', useBias: false, name}), x));
  const block = (x: tfl.SymbolicTensor, filters: number, strides: number, name: string) => {
    let y = apply(L.reLU({name: `${name}_relu1`}), convBn(x, filters, 3, strides, `${name}_conv1`));
    y = convBn(y, filters, 3, 1, `${name}_conv2`);
    const shortcut = strides === 1 ? x : convBn(x, filters, 1, strides, `${name}_proj`);
    return apply(L.reLU({name: `${name}_relu2`}), apply(L.add({name: `${name}_add`}), [y, shortcut]));
  };
  const input = tfl.input({shape: inputShape, name: 'frames'});
  let x = apply(L.reLU({name: 'stem_relu'}), convBn(input, width, 3, 2, 'stem_conv'));
  x = apply(L.maxPooling2d({poolSize: 2, name: 'stem_pool'}), x);
  x = block(x, width, 1, 'block1');
  x = block(x, width, 1, 'block2');
  x = block(x, 2 * width, 2, 'block3');
  x = apply(L.globalAveragePooling2d({name: 'pool'}), x);
  const logits = apply(L.dense({units: 10, name: 'logits'}), x);
  const model = tfl.model({inputs: input, outputs: logits, name: 'resnet_style'});
  randomizeWeights(model, seed);
  return model;
}

// ---- nsfwjs's MobileNetV2 ------------------------------------------------------------------

interface ModelJson {
  modelTopology: {model_config: {config: {layers: Array<{class_name: string, config: Record<string, unknown>}>}}};
  weightsManifest: Array<{paths: string[], weights: tf.io.WeightsManifestEntry[]}>;
}

function nsfwjsModelDir(): string {
  let dir = path.dirname(require.resolve('nsfwjs'));
  while (path.basename(dir) !== 'nsfwjs') {
    if (dir === path.dirname(dir)) throw new Error('nsfwjs is not installed (npm install --save-dev nsfwjs)');
    dir = path.dirname(dir);
  }
  return path.join(dir, 'dist', 'models', 'mobilenet_v2');
}

/** The model.json of nsfwjs's MobileNetV2 and its weights (the package ships both as JS modules). */
function nsfwjsArtifacts(): {json: ModelJson, weights: ArrayBuffer} {
  const dir = nsfwjsModelDir();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const json = JSON.parse(JSON.stringify(require(path.join(dir, 'model.min.js')))) as ModelJson;
  const shards = json.weightsManifest.flatMap(group => group.paths).map(p => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const buffer = Buffer.from(require(path.join(dir, `${p}.min.js`)) as string, 'base64');
    return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
  });
  return {json, weights: tf.io.concatenateArrayBuffers(shards)};
}

/**
 * nsfwjs's MobileNetV2 (trained at 224x224) for `height` x `width` frames: the input shape is
 * changed and its final 7x7 average pool becomes a pool over the whole final feature map, so the
 * classifier head gets the same 1280 features and every pretrained weight is used as it is.
 */
export async function loadNsfwMobileNetV2(height: number, width: number): Promise<tfl.LayersModel> {
  const {json, weights} = nsfwjsArtifacts();
  const layers = json.modelTopology.model_config.config.layers;
  layers.find(l => l.class_name === 'InputLayer')!.config.batch_input_shape = [null, height, width, 3];
  const pool = layers.find(l => l.class_name === 'AveragePooling2D')!;
  // Find the final feature map's size with a weightless build.
  pool.config.pool_size = pool.config.strides = [1, 1];
  const probe = await tfl.models.modelFromJSON({modelTopology: json.modelTopology} as unknown as tf.io.ModelJSON);
  const [, h, w] = (probe.getLayer(pool.config.name as string).input as tfl.SymbolicTensor).shape as number[];
  probe.dispose();
  pool.config.pool_size = pool.config.strides = [h, w];
  const weightSpecs = json.weightsManifest.flatMap(group => group.weights);
  return tfl.loadLayersModel(tf.io.fromMemory({modelTopology: json.modelTopology, weightSpecs, weightData: weights}));
}
