/**
 * Delta activation layers: activation, reLU (maxValue 6 = relu6), leakyReLU through
 * sparseAccumulate with the layer's threshold; elu, softmax, pReLU, thresholdedReLU and
 * rescaling (functions of one pixel's channels) through the untruncated pointwise path.
 */
import type {Tensor} from '@tensorflow/tfjs-core';

import {ActivatedClass, activatedMixin} from './activated';
import type {DeltaActivationFn} from './activation_state';
import {LayerClass, layerClass} from './base';

export class DeltaActivation extends activatedMixin(layerClass('Activation'), 'Activation') {
  static override className = 'DeltaActivation';

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    return this.activate(x, first);
  }
}

/** The dense layer's own call as a pointwise function (for the untruncated path). */
function ownCall(Base: LayerClass, layer: object): (x: Tensor) => Tensor {
  return (x) => Base.prototype.call.call(layer, x, {}) as Tensor;
}

const ReLUBase = layerClass('ReLU');

export class DeltaReLU extends activatedMixin(ReLUBase, 'ReLU') {
  static override className = 'DeltaReLU';
  declare maxValue: number | null | undefined;

  override deltaActivation(): DeltaActivationFn {
    if (this.maxValue == null) return {kind: 'relu', alpha: 0};
    if (this.maxValue === 6) return {kind: 'relu6', alpha: 0};
    return {kind: 'pointwise', alpha: 0, fn: ownCall(ReLUBase, this)};
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    return this.activate(x, first);
  }
}

export class DeltaLeakyReLU extends activatedMixin(layerClass('LeakyReLU'), 'LeakyReLU') {
  static override className = 'DeltaLeakyReLU';
  declare alpha: number;

  override deltaActivation(): DeltaActivationFn {
    return {kind: 'leakyRelu', alpha: this.alpha};
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    return this.activate(x, first);
  }
}

/**
 * A delta twin for a layer that maps each pixel's channels on their own (no truncation): its
 * output delta is f(A + delta) - f(A) on the active pixels, f being the dense layer's call.
 */
function pointwiseTwin(
  dense: string,
  check?: (layer: Record<string, unknown>, rank: number) => string | null,
): ActivatedClass<LayerClass> & {className: string} {
  const Base = layerClass(dense);
  class Pointwise extends activatedMixin(Base, dense) {
    override deltaActivation(): DeltaActivationFn {
      return {kind: 'pointwise', alpha: 0, fn: ownCall(Base, this)};
    }

    override deltaCall([x]: Tensor[], first: boolean): Tensor {
      const problem = check?.(this as unknown as Record<string, unknown>, x.rank);
      if (problem != null) throw new Error(`tfjs-delta: layer '${this.name}' (${this.getClassName()}) ${problem}`);
      return this.activate(x, first);
    }
  }
  Object.defineProperty(Pointwise, 'className', {value: `Delta${dense}`});
  return Pointwise as unknown as ActivatedClass<LayerClass> & {className: string};
}

export const DeltaELU = pointwiseTwin('ELU');
export const DeltaSoftmax = pointwiseTwin('Softmax', (layer, rank) => {
  const axes = ([] as number[]).concat(layer.axis as number | number[]);
  return axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1)
    ? null
    : `normalizes axis ${JSON.stringify(layer.axis)}; a delta softmax must work on the channel (last) axis`;
});
export const DeltaPReLU = pointwiseTwin('PReLU');
export const DeltaThresholdedReLU = pointwiseTwin('ThresholdedReLU');
export const DeltaRescaling = pointwiseTwin('Rescaling');
