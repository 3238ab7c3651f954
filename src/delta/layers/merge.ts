/** Delta add (mask union) and concatenate (union along channels, concatenated masks otherwise). */
import type {Tensor} from '@tensorflow/tfjs-core';

import {deltaAdd} from '../../ops/delta_add';
import {deltaConcat} from '../../ops/delta_concat';
import {deltaMixin, layerClass} from './base';

export class DeltaAdd extends deltaMixin(layerClass('Add'), {dense: 'Add'}) {
  static override className = 'DeltaAdd';

  override deltaCall(inputs: Tensor[]): Tensor {
    return inputs.reduce((sum, x) => deltaAdd(sum, x));
  }
}

export class DeltaConcatenate extends deltaMixin(layerClass('Concatenate'), {dense: 'Concatenate'}) {
  static override className = 'DeltaConcatenate';
  declare axis: number;

  override deltaCall(inputs: Tensor[]): Tensor {
    return deltaConcat(inputs, this.axis);
  }
}
