/**
 * Delta pooling: max pooling keeps the accumulated input (max is not linear), average and global
 * average pooling are linear; global max pooling is a max pool over the whole frame.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor4D} from '@tensorflow/tfjs-core';

import {deltaAvgPool} from '../../ops/delta_avg_pool';
import {deltaGlobalAvgPool} from '../../ops/delta_global_avg_pool';
import {deltaMaxPool} from '../../ops/delta_max_pool';
import {deltaReshape} from '../../ops/delta_reshape';
import {deltaMixin, layerClass, pair, requireChannelsLast, StreamState} from './base';

type Pad = 'same' | 'valid';

/** Max pooling of this frame's delta against the stream's accumulated input. */
function maxPoolStream(
  stream: StreamState,
  x: Tensor,
  pool: [number, number],
  strides: [number, number],
  pad: Pad,
): Tensor4D {
  const {delta, accumulated} = deltaMaxPool(
    (stream.get('A') ?? tf.zerosLike(x)) as Tensor4D,
    x as Tensor4D,
    pool,
    strides,
    pad,
  );
  stream.set('A', accumulated);
  return delta;
}

export class DeltaMaxPooling2D extends deltaMixin(layerClass('MaxPooling2D'), {dense: 'MaxPooling2D'}) {
  static override className = 'DeltaMaxPooling2D';
  declare poolSize: number[];
  declare strides: number[];
  declare padding: string;
  declare dataFormat: string;

  override holdsBuffers(): boolean {
    return true;
  }

  override deltaCall([x]: Tensor[]): Tensor {
    requireChannelsLast(this, this.dataFormat);
    return maxPoolStream(this.stream, x, pair(this.poolSize), pair(this.strides), this.padding as Pad);
  }
}

export class DeltaAveragePooling2D extends deltaMixin(layerClass('AveragePooling2D'), {dense: 'AveragePooling2D'}) {
  static override className = 'DeltaAveragePooling2D';
  declare poolSize: number[];
  declare strides: number[];
  declare padding: string;
  declare dataFormat: string;

  override deltaCall([x]: Tensor[]): Tensor {
    requireChannelsLast(this, this.dataFormat);
    return deltaAvgPool(x as Tensor4D, pair(this.poolSize), pair(this.strides), this.padding as Pad);
  }
}

export class DeltaGlobalAveragePooling2D extends deltaMixin(layerClass('GlobalAveragePooling2D'), {
  dense: 'GlobalAveragePooling2D',
}) {
  static override className = 'DeltaGlobalAveragePooling2D';
  declare dataFormat: string;

  override deltaCall([x]: Tensor[]): Tensor {
    requireChannelsLast(this, this.dataFormat);
    return deltaGlobalAvgPool(x as Tensor4D);
  }
}

export class DeltaGlobalMaxPooling2D extends deltaMixin(layerClass('GlobalMaxPooling2D'), {
  dense: 'GlobalMaxPooling2D',
}) {
  static override className = 'DeltaGlobalMaxPooling2D';
  declare dataFormat: string;

  override holdsBuffers(): boolean {
    return true;
  }

  override deltaCall([x]: Tensor[]): Tensor {
    requireChannelsLast(this, this.dataFormat);
    const [batch, height, width, channels] = x.shape;
    const pooled = maxPoolStream(this.stream, x, [height, width], [height, width], 'valid');
    return deltaReshape(pooled, [batch, channels]);
  }
}
