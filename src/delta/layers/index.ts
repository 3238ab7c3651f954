/**
 * The delta layers: registered for (de)serialization, looked up by the tf.layers class they
 * replace, and offered as factories with the same configuration objects as tf.layers:
 *
 *   const frames = tf.input({shape: [96, 128, 3]});
 *   let x = deltaLayers.input({threshold: 0.05}).apply(frames);      // sparsify
 *   x = deltaLayers.conv2d({filters: 16, kernelSize: 3, activation: 'relu'}).apply(x);
 *   ...
 *   const model = tf.model({inputs: frames, outputs: deltaLayers.output().apply(x)});  // densify
 *
 * One call = one frame; `model.resetStates()` starts new streams.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';

import {
  DeltaActivation,
  DeltaELU,
  DeltaLeakyReLU,
  DeltaPReLU,
  DeltaReLU,
  DeltaRescaling,
  DeltaSoftmax,
  DeltaThresholdedReLU,
} from './activations';
import type {LayerClass} from './base';
import {DeltaConv2D, DeltaConv2DTranspose, DeltaDense, DeltaDepthwiseConv2D, DeltaSeparableConv2D} from './conv';
import {DeltaChannelPadding, DeltaConstantOp, DeltaMultiply, DeltaResize2D} from './graph_ops';
import {DeltaInput, DeltaInputArgs, DeltaOutput} from './io';
import {DeltaAdd, DeltaConcatenate} from './merge';
import {DeltaBatchNormalization} from './normalization';
import {
  DeltaAveragePooling2D,
  DeltaGlobalAveragePooling2D,
  DeltaGlobalMaxPooling2D,
  DeltaMaxPooling2D,
} from './pooling';
import {DeltaFlatten, DeltaReshape, DeltaUpSampling2D, DeltaZeroPadding2D} from './reshaping';

export {
  DeltaActivation,
  DeltaELU,
  DeltaLeakyReLU,
  DeltaPReLU,
  DeltaReLU,
  DeltaRescaling,
  DeltaSoftmax,
  DeltaThresholdedReLU,
};
export {DeltaConv2D, DeltaConv2DTranspose, DeltaDense, DeltaDepthwiseConv2D, DeltaSeparableConv2D};
export {DeltaInput, DeltaOutput, DeltaAdd, DeltaConcatenate, DeltaBatchNormalization};
export {DeltaAveragePooling2D, DeltaGlobalAveragePooling2D, DeltaGlobalMaxPooling2D, DeltaMaxPooling2D};
export {DeltaFlatten, DeltaReshape, DeltaUpSampling2D, DeltaZeroPadding2D};
export {DeltaChannelPadding, DeltaConstantOp, DeltaMultiply, DeltaResize2D};
export type {DeltaInputArgs};

/** The delta twin of each supported tf.layers class, by class name. */
const TWINS: LayerClass[] = [
  DeltaConv2D,
  DeltaDepthwiseConv2D,
  DeltaSeparableConv2D,
  DeltaConv2DTranspose,
  DeltaDense,
  DeltaBatchNormalization,
  DeltaActivation,
  DeltaReLU,
  DeltaLeakyReLU,
  DeltaELU,
  DeltaSoftmax,
  DeltaPReLU,
  DeltaThresholdedReLU,
  DeltaRescaling,
  DeltaAdd,
  DeltaConcatenate,
  DeltaMaxPooling2D,
  DeltaAveragePooling2D,
  DeltaGlobalAveragePooling2D,
  DeltaGlobalMaxPooling2D,
  DeltaUpSampling2D,
  DeltaZeroPadding2D,
  DeltaFlatten,
  DeltaReshape,
  DeltaMultiply,
  DeltaConstantOp,
  DeltaChannelPadding,
  DeltaResize2D,
] as unknown as LayerClass[];

export const DELTA_LAYER_CLASSES: LayerClass[] = [DeltaInput, DeltaOutput, ...TWINS] as unknown as LayerClass[];

for (const cls of DELTA_LAYER_CLASSES)
  tf.serialization.registerClass(
    cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
  );

/** dense class name -> delta class. */
export const DELTA_TWINS = new Map<string, LayerClass>(
  TWINS.map((cls) => [(cls as unknown as {denseClassName: string}).denseClassName, cls]),
);

/** tf.layers classes that are the identity at inference: kept as they are in a delta model. */
export const IDENTITY_AT_INFERENCE = new Set([
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);

type Args<F> = F extends (args: infer A) => unknown ? A : never;
type WithThreshold<F> = Args<F> & {threshold?: number};
import type * as tfl from '@tensorflow/tfjs-layers';
type L = typeof tfl.layers;

/** Factories with the configuration objects of their tf.layers twins (plus `threshold` where it truncates). */
export const deltaLayers = {
  input: (args?: DeltaInputArgs) => new DeltaInput(args),
  output: (args?: LayerArgs) => new DeltaOutput(args),
  conv2d: (args: WithThreshold<L['conv2d']>) => new DeltaConv2D(args),
  depthwiseConv2d: (args: WithThreshold<L['depthwiseConv2d']>) => new DeltaDepthwiseConv2D(args),
  separableConv2d: (args: WithThreshold<L['separableConv2d']>) => new DeltaSeparableConv2D(args),
  conv2dTranspose: (args: WithThreshold<L['conv2dTranspose']>) => new DeltaConv2DTranspose(args),
  dense: (args: WithThreshold<L['dense']>) => new DeltaDense(args),
  batchNormalization: (args?: Args<L['batchNormalization']>) => new DeltaBatchNormalization(args ?? {}),
  activation: (args: WithThreshold<L['activation']>) => new DeltaActivation(args),
  reLU: (args?: WithThreshold<L['reLU']>) => new DeltaReLU(args ?? {}),
  leakyReLU: (args?: WithThreshold<L['leakyReLU']>) => new DeltaLeakyReLU(args ?? {}),
  elu: (args?: Args<L['elu']>) => new DeltaELU(args ?? {}),
  softmax: (args?: Args<L['softmax']>) => new DeltaSoftmax(args ?? {}),
  add: (args?: Args<L['add']>) => new DeltaAdd(args ?? {}),
  concatenate: (args?: Args<L['concatenate']>) => new DeltaConcatenate(args ?? {}),
  maxPooling2d: (args: Args<L['maxPooling2d']>) => new DeltaMaxPooling2D(args),
  averagePooling2d: (args: Args<L['averagePooling2d']>) => new DeltaAveragePooling2D(args),
  globalAveragePooling2d: (args?: Args<L['globalAveragePooling2d']>) => new DeltaGlobalAveragePooling2D(args ?? {}),
  globalMaxPooling2d: (args?: Args<L['globalMaxPooling2d']>) => new DeltaGlobalMaxPooling2D(args ?? {}),
  upSampling2d: (args: Args<L['upSampling2d']>) => new DeltaUpSampling2D(args),
  zeroPadding2d: (args?: Args<L['zeroPadding2d']>) => new DeltaZeroPadding2D(args ?? {}),
  flatten: (args?: Args<L['flatten']>) => new DeltaFlatten(args ?? {}),
  reshape: (args: Args<L['reshape']>) => new DeltaReshape(args),
};
