/**
 * Models shared by the delta tests and benchmarks:
 *  - a real third-party LayersModel: the Keras MobileNetV2 that the nsfwjs npm package ships
 *    (depthwise convs, batch norm, ReLU6, residual adds), loaded from its files;
 *  - ResNet-50 + pose head with seeded random weights;
 *  - PoseNet-MobileNetV1 with its trained weights (scripts/fetch-posenet.sh);
 *  - the relative error the delta tests and benchmarks bound.
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {posenetJsonPath} from '../src/io/cache';
import {posenet} from '../src/models/posenet';
import {resnet} from '../src/models/resnet';

/** max |a - b| / max |b|: the relative error the delta tests bound. */
export function relativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(actual, expected))), tf.max(tf.abs(expected))).dataSync()[0]);
}

// ---- random models and sequences --------------------------------------------------------------

/** Random non-zero weights (biases and BN statistics included), from `seed`. */
export function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  let k = 0;
  for (const layer of model.layers) {
    const names = layer.weights.map((w) => w.originalName);
    layer.setWeights(
      layer.getWeights().map((w, i) =>
        tf.tidy(() => {
          k++;
          if (/moving_variance|gamma/.test(names[i])) return tf.randomUniform(w.shape, 0.5, 1.5, 'float32', seed + k);
          // He-like scale for kernels, so activations keep their magnitude through deep stacks.
          const fanIn = w.rank >= 2 ? w.size / w.shape[w.rank - 1] : 4;
          return tf.randomNormal(w.shape, 0, Math.min(0.5, Math.sqrt(2 / fanIn)), 'float32', seed + k);
        }),
      ),
    );
  }
}

export const RESNET_SEED = 2024;

/**
 * A fresh ResNet-50 + pose head with randomizeWeights(seed) (He-scaled kernels, random BN statistics). Not
 * calibrated: BN statistics set from real activations (as a trained net has) made this random net chaotic, its
 * heatmap argmax flipping at thresholds of 0.005, so its outputs grow through the residual stages instead.
 */
export function seededResNet50Pose(seed = RESNET_SEED): tfl.LayersModel {
  const model = resnet({depth: 50, head: 'pose', inputShape: [null, null, 3], weightInit: 'zeros'});
  randomizeWeights(model, seed);
  return model;
}

// ---- nsfwjs's MobileNetV2 ------------------------------------------------------------------

interface ModelJson {
  modelTopology: {model_config: {config: {layers: Array<{class_name: string; config: Record<string, unknown>}>}}};
  weightsManifest: Array<{paths: string[]; weights: tf.io.WeightsManifestEntry[]}>;
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
function nsfwjsArtifacts(): {json: ModelJson; weights: ArrayBuffer} {
  const dir = nsfwjsModelDir();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const json = JSON.parse(JSON.stringify(require(path.join(dir, 'model.min.js')))) as ModelJson;
  const shards = json.weightsManifest
    .flatMap((group) => group.paths)
    .map((p) => {
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
 *
 * Delta default: `{threshold: 0.01, thresholdScale: 'activation', calibrationFrames}`; on vtest.avi
 * at 128x96 ('cpu', benchmarks/models/delta_defaults.ts) error mean 0.15%, max 0.49%, top class
 * always the dense one's; 0.05 skips 25% of the work at 2.5% / 9.8% error, top class still the same.
 */
export async function loadNsfwMobileNetV2(height: number, width: number): Promise<tfl.LayersModel> {
  const {json, weights} = nsfwjsArtifacts();
  const layers = json.modelTopology.model_config.config.layers;
  layers.find((l) => l.class_name === 'InputLayer')!.config.batch_input_shape = [null, height, width, 3];
  const pool = layers.find((l) => l.class_name === 'AveragePooling2D')!;
  // Find the final feature map's size with a weightless build.
  pool.config.pool_size = pool.config.strides = [1, 1];
  const probe = await tfl.models.modelFromJSON({modelTopology: json.modelTopology} as unknown as tf.io.ModelJSON);
  const [, h, w] = (probe.getLayer(pool.config.name as string).input as tfl.SymbolicTensor).shape as number[];
  probe.dispose();
  pool.config.pool_size = pool.config.strides = [h, w];
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  return tfl.loadLayersModel(tf.io.fromMemory({modelTopology: json.modelTopology, weightSpecs, weightData: weights}));
}

// ---- PoseNet-MobileNetV1 ------------------------------------------------------------------

/** Why PoseNet's trained weights cannot be had, or null when they can. */
export function posenetUnavailable(): string | null {
  const file = posenetJsonPath();
  return fs.existsSync(file) ? null : `${file} is missing: run scripts/fetch-posenet.sh (needs the npm registry)`;
}

/** PoseNet-MobileNetV1 with its trained weights (input: RGB in [-1, 1]; four outputs). */
export function loadPoseNet(): Promise<tfl.LayersModel> {
  return posenet(posenetJsonPath());
}
