/**
 * Delta batch normalization: inference batch norm is affine per channel, so it is folded into
 * scale = gamma / sqrt(movingVariance + epsilon) and offset = beta - movingMean * scale; a frame's
 * delta is multiplied by scale (mask kept) and the offset is added once, on a stream's first frame.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor1D} from '@tensorflow/tfjs-core';
import type {LayerVariable} from '@tensorflow/tfjs-layers';

import {deltaScaleShift} from '../../ops/delta_scale_shift';
import {deltaMixin, layerClass} from './base';

export class DeltaBatchNormalization extends deltaMixin(layerClass('BatchNormalization'), {dense: 'BatchNormalization'}) {
  static override className = 'DeltaBatchNormalization';
  declare axis: number;
  declare epsilon: number;
  declare center: boolean;
  declare scale: boolean;
  declare gamma: LayerVariable|null;
  declare beta: LayerVariable|null;
  declare movingMean: LayerVariable;
  declare movingVariance: LayerVariable;

  /** The folded per-channel [scale, offset]. */
  folded(): [Tensor1D, Tensor1D] {
    return tf.tidy(() => {
      const inv = tf.rsqrt(tf.add(this.movingVariance.read(), this.epsilon));
      const scale = (this.scale && this.gamma != null ? tf.mul(inv, this.gamma.read()) : inv) as Tensor1D;
      const shift = tf.neg(tf.mul(this.movingMean.read(), scale));
      const offset = (this.center && this.beta != null ? tf.add(this.beta.read(), shift) : shift) as Tensor1D;
      return [scale, offset];
    });
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const axis = this.axis < 0 ? this.axis + x.rank : this.axis;
    if (axis !== x.rank - 1) {
      throw new Error(`tfjs-delta: layer '${this.name}' (${this.getClassName()}) normalizes axis ${this.axis} ` +
          `of a rank-${x.rank} input; delta batch normalization supports only the channel (last) axis`);
    }
    const [scale, offset] = this.folded();
    return first ? deltaScaleShift(x, scale, offset) : deltaScaleShift(x, scale);
  }
}
