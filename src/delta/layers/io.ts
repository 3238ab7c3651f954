/**
 * The ends of a delta model. DeltaInput turns frames into deltas (DeltaCNN's sparsify): a pixel is
 * sent when some channel moved by more than the threshold since it was last sent (optionally
 * tested on a dilated neighbourhood); what is not sent stays pending, because the next frame's
 * delta is taken against what was sent. DeltaOutput (densify) sums the deltas back into frames.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor4D} from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';

import {sparseAccumulate} from '../../ops/sparse_accumulate';
import {withMask} from '../../ops/mask';
import {deltaMixin, resetDownstream} from './base';

export interface DeltaInputArgs extends LayerArgs {
  /** Per-pixel change threshold on max over channels |frame - sent| (default: the global default). */
  threshold?: number;
  /**
   * Test the change on a (dilation x dilation) neighbourhood (an odd size > 1): a pixel is sent
   * when any pixel near it moved. DeltaCNN found this helps on noisy video. Default 1 (off).
   */
  dilation?: number;
}

export class DeltaInput extends deltaMixin(tfl.layers.Layer, {dense: null, truncates: true}) {
  static className = 'DeltaInput';
  readonly dilation: number;

  constructor(args: DeltaInputArgs = {}) {
    super(args);
    const dilation = args.dilation ?? 1;
    if (!Number.isInteger(dilation) || dilation < 1 || (dilation > 1 && dilation % 2 === 0)) {
      throw new Error(
        `layer '${this.name}' (DeltaInput): dilation must be 1 or an odd integer > 1, got ${JSON.stringify(args.dilation)}`,
      );
    }
    this.dilation = dilation;
  }

  override holdsBuffers(): boolean {
    return true;
  }

  override deltaCall([x]: Tensor[]): Tensor {
    const frame = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const sent = this.stream.get('A') ?? tf.zerosLike(frame);
    const change = tf.sub(frame, sent);
    const threshold = this.absoluteThreshold();
    if (this.dilation === 1) {
      // No residual buffer is needed: what was not sent is the difference to `sent`, taken anew.
      const out = sparseAccumulate(sent, tf.zerosLike(frame), change, {threshold, inPlace: true}); // owns `sent`
      this.stream.set('A', out.accumulated);
      return out.delta;
    }
    if (frame.rank !== 4) {
      throw new Error(`layer '${this.name}' (DeltaInput): dilation needs NHWC frames, got shape [${frame.shape}]`);
    }
    const moved = tf.max(tf.abs(change), -1, true) as Tensor4D;
    const near = tf.maxPool(moved, this.dilation, 1, 'same');
    const delta = withMask(change, tf.squeeze(tf.greater(near, threshold), [3]));
    this.stream.set('A', tf.add(sent, delta));
    return delta;
  }

  /** The frame as sent so far. */
  override denseValues(): Tensor | null {
    return this.stream.get('A') ?? null;
  }

  /** A restarted stream restarts every delta layer after this one too. */
  override onStreamReset(): void {
    resetDownstream(this);
  }

  override resetStates(): void {
    this.resetDeltaState();
    resetDownstream(this);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), dilation: this.dilation};
  }
}

export class DeltaOutput extends deltaMixin(tfl.layers.Layer, {dense: null}) {
  static className = 'DeltaOutput';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override holdsBuffers(): boolean {
    return true;
  }

  override deltaCall([x]: Tensor[]): Tensor {
    const sum = tf.add(this.stream.get('A') ?? tf.zerosLike(x), x);
    this.stream.set('A', sum);
    return tf.clone(sum);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }
}
