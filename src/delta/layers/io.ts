/**
 * The ends of a delta model. DeltaInput turns frames into deltas (DeltaCNN's sparsify): a pixel is
 * sent when some channel moved by more than the threshold since it was last sent (optionally
 * tested on a dilated neighbourhood); what is not sent stays pending, because the next frame's
 * delta is taken against what was sent. DeltaOutput (densify) sums the deltas back into frames.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';

import {deltaSparsify} from '../../ops/delta_sparsify';
import {activeFraction} from '../../ops/mask';
import {deltaMixin, resetDownstream} from './base';

export interface DeltaInputArgs extends LayerArgs {
  /** Per-pixel change threshold on max over channels |frame - sent| (default: the global default). */
  threshold?: number;
  /**
   * Test the change on a (dilation x dilation) neighbourhood (an odd size > 1): a pixel is sent
   * when any pixel near it moved. DeltaCNN found this helps on noisy video. Default 1 (off).
   */
  dilation?: number;
  /**
   * Restart the stream when more than this fraction of the input pixels changed (in (0, 1]; default:
   * never): the frame is then sent whole and every delta layer downstream starts over from it, which
   * costs what the dense model costs, where following a mostly changed frame delta by delta costs more
   * (a moving camera, a scene cut). The test reads the input mask back once per frame.
   */
  restartAbove?: number;
}

export class DeltaInput extends deltaMixin(tfl.layers.Layer, {dense: null, truncates: true}) {
  static className = 'DeltaInput';
  readonly dilation: number;
  readonly restartAbove: number | null;

  constructor(args: DeltaInputArgs = {}) {
    super(args);
    const dilation = args.dilation ?? 1;
    if (!Number.isInteger(dilation) || dilation < 1 || (dilation > 1 && dilation % 2 === 0)) {
      throw new Error(
        `layer '${this.name}' (DeltaInput): dilation must be 1 or an odd integer > 1, got ${JSON.stringify(args.dilation)}`,
      );
    }
    this.dilation = dilation;
    const restart = args.restartAbove;
    if (restart != null && !(typeof restart === 'number' && restart > 0 && restart <= 1)) {
      throw new Error(
        `layer '${this.name}' (DeltaInput): restartAbove must be a fraction in (0, 1], got ${JSON.stringify(restart)}`,
      );
    }
    this.restartAbove = restart ?? null;
  }

  override holdsBuffers(): boolean {
    return true;
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const frame = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const sent = this.stream.get('A');
    // A first frame is sent whole; the state is a copy because deltaSparsify later updates it in place.
    const sendWhole = () => {
      this.stream.set('A', tf.add(frame, 0));
      return frame;
    };
    if (first || sent == null) return sendWhole();
    const out = deltaSparsify(frame, sent, {
      threshold: this.absoluteThreshold(),
      dilation: this.dilation,
      inPlace: true,
    }); // owns `sent`
    this.stream.set('A', out.sent);
    if (this.restartAbove != null && activeFraction(out.delta) > this.restartAbove) {
      resetDownstream(this);
      return sendWhole();
    }
    return out.delta;
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
    const config: tf.serialization.ConfigDict = {...super.getConfig(), dilation: this.dilation};
    if (this.restartAbove != null) config.restartAbove = this.restartAbove;
    return config;
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
