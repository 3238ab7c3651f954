/**
 * relu6 as one kernel in tf.layers. tfjs-layers computes the 'relu6' activation as `minimum(6, relu(x))` and a
 * `ReLU` layer with a maxValue as `clipByValue(relu(x), 0, maxValue)`: two passes over the activation where one
 * does (tfjs-layers fuses only relu, linear and elu into its convs). MobileNets apply relu6 after every conv, so a
 * dense PoseNet or MobileNetV2 spends a pass per layer on it. These classes replace tfjs-layers' two under the same
 * class names: models built or loaded afterwards use them, and save exactly as before. The values are the same:
 * `min(max(x, 0), 6)` either way.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import type {Relu6 as LayersRelu6} from '@tensorflow/tfjs-layers/dist/activations';
import type {ReLU as LayersReLU} from '@tensorflow/tfjs-layers/dist/layers/advanced_activations';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';

import {envFlag} from '../../io/env';

// tfjs-layers' own classes, as its import registered them (its deep modules are ES modules: the registry is how a
// CommonJS package reaches them).
const registered = tf.serialization.SerializationMap.getMap().classNameMap;
/** tfjs-layers' 'relu6' activation and ReLU layer, which these replace (their parents). */
export const layersRelu6 = registered.relu6[0] as unknown as typeof LayersRelu6;
export const layersReLU = registered.ReLU[0] as unknown as typeof LayersReLU;

/** The 'relu6' activation as tf.relu6 (one Relu6 kernel). */
export class Relu6 extends layersRelu6 {
  static override className = 'relu6' as const;
  override apply(x: tf.Tensor): tf.Tensor {
    return tf.relu6(x);
  }
}

/** tfjs-layers' ReLU layer: with maxValue 6 one Relu6 kernel, with another maxValue >= 0 one ClipByValue. */
export class ReLUOneKernel extends layersReLU {
  static override className = 'ReLU';
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (this.maxValue == null || !(this.maxValue >= 0) || (Array.isArray(inputs) && inputs.length !== 1)) {
      return super.call(inputs, kwargs);
    }
    const maxValue = this.maxValue;
    return tf.tidy(() => (maxValue === 6 ? tf.relu6(x) : tf.clipByValue(x, 0, maxValue)));
  }
}

/**
 * Registers the one-kernel relu6 classes with tfjs-layers' serialization (the package's import does it), unless
 * TFJS_DELTA_LAYERS_RELU6=0 keeps tfjs-layers' own. Layers made before keep the classes they were made with.
 */
export function registerOneKernelRelu6(): void {
  if (!envFlag('TFJS_DELTA_LAYERS_RELU6', true)) return;
  tf.serialization.registerClass(Relu6);
  tf.serialization.registerClass(ReLUOneKernel);
}
