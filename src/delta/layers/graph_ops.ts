/**
 * Delta twins of the layers fromGraphModel adds (../graph/layers.ts) and of tf.layers.multiply.
 *
 *  - ConstantOp: linear in x except for the added constant, which (like a bias) is applied once, on a
 *    stream's first frame; the mask is kept otherwise.
 *  - ChannelPadding, Resize2D: linear, so the delta is padded / resized; an output pixel is active when
 *    an active input pixel contributes to it (the mask resized the same way, > 0).
 *  - Multiply: not linear; the layer keeps each input's accumulated value and emits
 *    prod(A + delta) - prod(A), active where any input is (broadcast, so a changed [N, 1, 1, C]
 *    squeeze-excitation vector activates its whole frame). It does not truncate.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';

import {deltaScaleShift} from '../../ops/delta_scale_shift';
import {getMask, withMask} from '../../ops/mask';
import {ChannelPadding, ConstantOp, Resize2D} from '../graph/layers';
import {deltaMixin, layerClass} from './base';

/** `out` with the mask of `x` (when it has one): for ops that keep the pixel grid and map 0 to 0. */
function maskedLike(out: Tensor, x: Tensor): Tensor {
  const mask = getMask(x);
  return mask == null ? out : withMask(out, mask);
}

export class DeltaConstantOp extends deltaMixin(ConstantOp, {dense: 'ConstantOp'}) {
  static override className = 'DeltaConstantOp';

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const c = this.constant!.read();
    const channels = x.shape[x.rank - 1];
    const perChannel = this.constantShape.slice(0, -1).every((d) => d === 1);
    const vector = (): tf.Tensor1D =>
      c.size === channels ? tf.reshape(c, [channels]) : tf.mul(tf.ones([channels]), tf.reshape(c, []));
    const ones = (sign: number): tf.Tensor1D => tf.fill([channels], sign);
    switch (this.op) {
      case 'mul':
        return perChannel ? deltaScaleShift(x, vector()) : maskedLike(tf.mul(x, c), x);
      case 'div':
        return maskedLike(tf.div(x, c), x);
      case 'rsub':
        if (!first) return deltaScaleShift(x, ones(-1));
        return perChannel ? deltaScaleShift(x, ones(-1), vector()) : tf.sub(c, x);
      default: {
        // The constant belongs to the dense value once: later frames' deltas pass through unchanged.
        if (!first) return x;
        const offset = this.op === 'add' ? c : tf.neg(c);
        return perChannel
          ? deltaScaleShift(x, ones(1), this.op === 'add' ? vector() : tf.neg(vector()))
          : tf.add(x, offset);
      }
    }
  }
}

export class DeltaChannelPadding extends deltaMixin(ChannelPadding, {dense: 'ChannelPadding'}) {
  static override className = 'DeltaChannelPadding';

  override deltaCall([x]: Tensor[]): Tensor {
    return maskedLike(ChannelPadding.prototype.call.call(this, x) as Tensor, x);
  }
}

export class DeltaResize2D extends deltaMixin(Resize2D, {dense: 'Resize2D'}) {
  static override className = 'DeltaResize2D';

  override deltaCall([x]: Tensor[]): Tensor {
    const out = this.resize(x);
    const mask = getMask(x);
    if (mask == null) return out;
    const active = tf.greater(this.resize(tf.expandDims(tf.cast(mask, 'float32'), -1)), 0);
    return withMask(out, tf.squeeze(active, [3]));
  }
}

export class DeltaMultiply extends deltaMixin(layerClass('Multiply'), {dense: 'Multiply'}) {
  static override className = 'DeltaMultiply';

  override holdsBuffers(): boolean {
    return true;
  }

  override deltaCall(inputs: Tensor[]): Tensor {
    const sums = inputs.map((d, i) => {
      const previous = this.stream.get(`A${i}`);
      return previous == null ? tf.clone(d) : tf.add(previous, d);
    });
    const next = sums.reduce((p, s) => tf.mul(p, s));
    const previous = this.stream.get('Y');
    const change = previous == null ? tf.clone(next) : tf.sub(next, previous);
    sums.forEach((s, i) => this.stream.set(`A${i}`, s));
    this.stream.set('Y', next);
    const masks = inputs.map(getMask);
    if (masks.some((m) => m == null)) return change;
    const rank = change.rank - 1;
    const active = masks
      .map((m) => tf.reshape(m!, [...Array(rank - m!.rank).fill(1), ...m!.shape]))
      .reduce((a, m) => tf.logicalOr(a, m));
    return withMask(change, tf.broadcastTo(active, change.shape.slice(0, -1)));
  }
}
