/**
 * tf.layers classes that run the fused ops tfjs offers, under tfjs-layers' own class names: the layers of a model
 * loaded (or deserialized) afterwards are these, and save exactly as before; the values are the same (but for a
 * dilated depthwise conv, which tfjs-layers computes undilated: a model saved with one needs tfjs-delta imported
 * where it is loaded).
 *  - relu6 as one kernel: tfjs-layers computes the 'relu6' activation as `minimum(6, relu(x))` and a `ReLU` layer
 *    with a maxValue as `clipByValue(relu(x), 0, maxValue)`, two passes where one does. Activations are made from
 *    their names through the registry, so every layer made afterwards with activation 'relu6' has it.
 *  - Conv2D fuses relu6 and sigmoid into tf.fused.conv2d as well (tfjs-layers fuses only relu, linear and elu);
 *  - DepthwiseConv2D runs tf.fused.depthwiseConv2d, bias and activation included (tfjs-layers runs the bare conv,
 *    then a bias add, then the activation: three ops; on 'cuda' the fused one is one kernel, depthwise.cu), and
 *    dilates where tfjs-layers' does not (below).
 * An activation tf.fused lacks runs after the fused op, as tfjs-layers runs it after its conv.
 * MobileNets apply relu6 after every conv, so a dense PoseNet or MobileNetV2 spends one to three passes per layer on
 * what these fuse. tf.layers.conv2d() and .depthwiseConv2d() construct tfjs-layers' classes directly: build with
 * `new FusedConv2D(args)` / `new FusedDepthwiseConv2D(args)`, or conv2dLayer / depthwiseConv2dLayer below (the model
 * builders here do).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import type {Relu6 as LayersRelu6} from '@tensorflow/tfjs-layers/dist/activations';
import type {ReLU as LayersReLU} from '@tensorflow/tfjs-layers/dist/layers/advanced_activations';
import type {Conv2D as LayersConv2D} from '@tensorflow/tfjs-layers/dist/layers/convolutional';
import type {DepthwiseConv2D as LayersDepthwiseConv2D} from '@tensorflow/tfjs-layers/dist/layers/convolutional_depthwise';
import type {Activation as FusedActivation} from '@tensorflow/tfjs-core/dist/ops/fused_types';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';

import {envFlag} from '../io/env';

/**
 * The class registered under `name` now (tfjs-layers' deep modules are ES modules: the registry is how a CommonJS
 * package reaches its classes; after registerFusedLayers, the ones here).
 */
function registeredClass<T>(name: string): T {
  return tf.serialization.SerializationMap.getMap().classNameMap[name][0] as unknown as T;
}
/** tfjs-layers' classes these replace (their parents), as its import registered them. */
export const layersRelu6 = registeredClass<typeof LayersRelu6>('relu6');
export const layersReLU = registeredClass<typeof LayersReLU>('ReLU');
export const layersConv2D = registeredClass<typeof LayersConv2D>('Conv2D');
export const layersDepthwiseConv2D = registeredClass<typeof LayersDepthwiseConv2D>('DepthwiseConv2D');

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

/** The activations tf.fused ops take, by tf.layers class name: the same function under the same name. */
const FUSABLE = new Set(['linear', 'relu', 'relu6', 'elu', 'sigmoid']);

/** Fields of tfjs-layers' conv layers (protected or private in its types). */
interface ConvFields {
  rank: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: string;
  dataFormat: string;
  dilationRate: [number, number];
  activation: {getClassName(): string; apply(x: tf.Tensor): tf.Tensor} | null;
  bias: {read(): tf.Tensor} | null;
  kernel?: {read(): tf.Tensor};
  depthwiseKernel?: {read(): tf.Tensor};
}

/**
 * What a tf.fused conv op takes besides its filter and dilations, for a channels-last 2-D conv layer called on one
 * tensor, and the activation to apply after it where tf.fused has no such activation; null where the layer must run
 * as tfjs-layers runs it.
 */
function fusedArgs(layer: ConvFields, inputs: tf.Tensor | tf.Tensor[]) {
  const name = layer.activation == null ? 'linear' : layer.activation.getClassName();
  const single = !Array.isArray(inputs) || inputs.length === 1;
  if (layer.rank !== 2 || layer.dataFormat !== 'channelsLast' || layer.padding === 'causal' || !single) return null;
  const fusable = FUSABLE.has(name);
  return {
    args: {
      x: (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D,
      strides: layer.strides,
      pad: (layer.padding === 'same' ? 'same' : 'valid') as 'same' | 'valid',
      dataFormat: 'NHWC' as const,
      bias: layer.bias?.read(),
      activation: (fusable ? name : 'linear') as FusedActivation,
    },
    after: fusable ? null : layer.activation,
  };
}

/** tfjs-layers' Conv2D, with relu6 and sigmoid fused into tf.fused.conv2d too. */
export class FusedConv2D extends layersConv2D {
  static override className = 'Conv2D';
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const layer = this as unknown as ConvFields;
    const fused = fusedArgs(layer, inputs);
    if (fused == null) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const filter = layer.kernel!.read() as tf.Tensor4D;
      const y = tf.fused.conv2d({...fused.args, filter, dilations: layer.dilationRate});
      return fused.after ? fused.after.apply(y) : y;
    });
  }
}

/**
 * The output shape of a channels-last depthwise conv layer with its dilation: tfjs-layers' DepthwiseConv2D leaves the
 * dilation out of its output shape (`base`, what it computes otherwise). Also the delta twin's.
 */
export function dilatedDepthwiseOutputShape(layer: unknown, inputShape: Shape | Shape[], base: Shape): Shape {
  const l = layer as ConvFields;
  const shape = base.slice();
  if (l.dataFormat !== 'channelsLast' || l.rank !== 2 || l.padding === 'causal') return shape;
  const input = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  for (const axis of [0, 1]) {
    const length = input[axis + 1];
    if (length == null) continue;
    const [k, d, stride] = [l.kernelSize[axis], l.dilationRate[axis], l.strides[axis]];
    const span = l.padding === 'same' ? length : length - (k + (k - 1) * (d - 1)) + 1;
    shape[axis + 1] = Math.floor((span + stride - 1) / stride);
  }
  return shape;
}

/** Whether tfjs-delta fuses (TFJS_DELTA_LAYERS_FUSED); FusedDepthwiseConv2D dilates either way. */
let fusing = true;

/**
 * tfjs-layers' DepthwiseConv2D as one tf.fused.depthwiseConv2d. It also dilates: tfjs-layers' own passes no dilation
 * to the op (nor to its output shape), so a dilated depthwise conv there computes an undilated one, where Keras and
 * TensorFlow (and fromGraphModel's graphs) dilate; so this class is registered even under TFJS_DELTA_LAYERS_FUSED=0,
 * and then runs undilated layers as tfjs-layers does. channelsFirst runs as tfjs-layers runs it.
 */
export class FusedDepthwiseConv2D extends layersDepthwiseConv2D {
  static override className = 'DepthwiseConv2D';
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const layer = this as unknown as ConvFields;
    const dilated = layer.dilationRate.some((d) => d !== 1);
    const fused = fusing || dilated ? fusedArgs(layer, inputs) : null;
    if (fused == null) return super.call(inputs, kwargs);
    if (dilated && layer.strides.some((s) => s !== 1)) {
      throw new Error(
        `tfjs-delta: DepthwiseConv2D '${this.name}': strides [${layer.strides}] and dilationRate ` +
          `[${layer.dilationRate}] are both above 1; tfjs's depthwise conv (as Keras's) takes one or the other`,
      );
    }
    return tf.tidy(() => {
      const filter = layer.depthwiseKernel!.read() as tf.Tensor4D;
      const y = tf.fused.depthwiseConv2d({...fused.args, filter, dilations: layer.dilationRate});
      return fused.after ? fused.after.apply(y) : y;
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return dilatedDepthwiseOutputShape(this, inputShape, super.computeOutputShape(inputShape) as Shape);
  }
}

/**
 * A Conv2D or DepthwiseConv2D layer of the class registered under that name, as a loaded model gets it: the fused
 * ones (under TFJS_DELTA_LAYERS_FUSED=0 tfjs-layers' Conv2D, and a DepthwiseConv2D that runs as tfjs-layers' but
 * dilates).
 */
export function conv2dLayer(args: ConstructorParameters<typeof LayersConv2D>[0]): InstanceType<typeof LayersConv2D> {
  return new (registeredClass<typeof LayersConv2D>('Conv2D'))(args);
}
export function depthwiseConv2dLayer(
  args: ConstructorParameters<typeof LayersDepthwiseConv2D>[0],
): InstanceType<typeof LayersDepthwiseConv2D> {
  return new (registeredClass<typeof LayersDepthwiseConv2D>('DepthwiseConv2D'))(args);
}

/**
 * Registers these classes with tfjs-layers' serialization (the package's import does it), unless
 * TFJS_DELTA_LAYERS_FUSED=0 keeps tfjs-layers' own: all but FusedDepthwiseConv2D, which then fuses nothing and only
 * dilates. Layers made before keep the classes they were made with.
 */
export function registerFusedLayers(): void {
  fusing = envFlag('TFJS_DELTA_LAYERS_FUSED', true);
  tf.serialization.registerClass(FusedDepthwiseConv2D);
  if (fusing) for (const cls of [Relu6, ReLUOneKernel, FusedConv2D]) tf.serialization.registerClass(cls);
}
