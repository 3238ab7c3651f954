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

export class DeltaBatchNormalization extends deltaMixin(layerClass('BatchNormalization'), {
  dense: 'BatchNormalization',
}) {
  static override className = 'DeltaBatchNormalization';
  declare axis: number;
  declare epsilon: number;
  declare center: boolean;
  declare scale: boolean;
  declare gamma: LayerVariable | null;
  declare beta: LayerVariable | null;
  declare movingMean: LayerVariable;
  declare movingVariance: LayerVariable;

  /** The folded [scale, offset], cached per weight values (their dataIds change when weights are assigned). */
  private foldedCache: {key: unknown[]; value: [Tensor1D, Tensor1D]} | null = null;

  /**
   * The folded per-channel [scale, offset]. Cached: recomputing it each frame cost five small kernels per
   * layer (a third of a delta ResNet-50's launches); the cache is owned by the layer.
   */
  folded(): [Tensor1D, Tensor1D] {
    const key: unknown[] = [this.movingVariance, this.gamma, this.movingMean, this.beta].map(
      (v) => v?.read().dataId ?? null,
    );
    key.push(this.epsilon, this.scale, this.center);
    const cached = this.foldedCache;
    if (cached != null && cached.key.every((k, i) => k === key[i])) return cached.value;
    const value = tf.tidy(() => {
      const inv = tf.rsqrt(tf.add(this.movingVariance.read(), this.epsilon));
      const scale = (this.scale && this.gamma != null ? tf.mul(inv, this.gamma.read()) : inv) as Tensor1D;
      const shift = tf.neg(tf.mul(this.movingMean.read(), scale));
      const offset = (this.center && this.beta != null ? tf.add(this.beta.read(), shift) : shift) as Tensor1D;
      return [tf.keep(scale), tf.keep(offset)] as [Tensor1D, Tensor1D];
    });
    this.dropFolded();
    this.foldedCache = {key, value};
    return value;
  }

  private dropFolded(): void {
    this.foldedCache?.value.forEach((t) => t.dispose());
    this.foldedCache = null;
  }

  /** A stream reset (and the layer's disposal, which resets) also frees the cache: nothing outlives the stream. */
  override resetDeltaState(): void {
    super.resetDeltaState();
    this.dropFolded();
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const axis = this.axis < 0 ? this.axis + x.rank : this.axis;
    if (axis !== x.rank - 1) {
      throw new Error(
        `tfjs-delta: layer '${this.name}' (${this.getClassName()}) normalizes axis ${this.axis} ` +
          `of a rank-${x.rank} input; delta batch normalization supports only the channel (last) axis`,
      );
    }
    const [scale, offset] = this.folded();
    return first ? deltaScaleShift(x, scale, offset) : deltaScaleShift(x, scale);
  }
}
