/** Delta upSampling2d (mask replicated), zeroPadding2d (padding inactive), flatten and reshape. */
import type {Tensor, Tensor4D} from '@tensorflow/tfjs-core';

import {deltaPad2d} from '../../ops/delta_pad2d';
import {deltaReshape} from '../../ops/delta_reshape';
import {deltaUpSampling2d} from '../../ops/delta_up_sampling2d';
import {deltaMixin, layerClass, pair, requireChannelsLast} from './base';

export class DeltaUpSampling2D extends deltaMixin(layerClass('UpSampling2D'), {dense: 'UpSampling2D'}) {
  static override className = 'DeltaUpSampling2D';
  declare size: number[];
  declare interpolation: 'nearest' | 'bilinear';
  declare dataFormat: string;

  override deltaCall([x]: Tensor[]): Tensor {
    requireChannelsLast(this, this.dataFormat);
    return deltaUpSampling2d(x as Tensor4D, pair(this.size), this.interpolation);
  }
}

export class DeltaZeroPadding2D extends deltaMixin(layerClass('ZeroPadding2D'), {dense: 'ZeroPadding2D'}) {
  static override className = 'DeltaZeroPadding2D';
  declare padding: [[number, number], [number, number]];
  declare dataFormat: string;

  override deltaCall([x]: Tensor[]): Tensor {
    requireChannelsLast(this, this.dataFormat);
    return deltaPad2d(x as Tensor4D, this.padding);
  }
}

export class DeltaFlatten extends deltaMixin(layerClass('Flatten'), {dense: 'Flatten'}) {
  static override className = 'DeltaFlatten';
  declare dataFormat: string | undefined;

  override deltaCall([x]: Tensor[]): Tensor {
    requireChannelsLast(this, this.dataFormat);
    return deltaReshape(x, [x.shape[0], -1]);
  }
}

export class DeltaReshape extends deltaMixin(layerClass('Reshape'), {dense: 'Reshape'}) {
  static override className = 'DeltaReshape';

  override deltaCall([x]: Tensor[]): Tensor {
    return deltaReshape(x, this.computeOutputShape(x.shape) as number[]);
  }
}
