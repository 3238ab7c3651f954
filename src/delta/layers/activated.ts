/**
 * Delta layers whose output goes through an activation: the linear layers with an `activation`
 * option (conv2d, dense, ...) and the activation layers themselves. The activation keeps per-stream
 * buffers (unless it is linear) and, for relu/relu6/leakyRelu/sigmoid/tanh, truncates with the
 * layer's threshold.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';
import type {Activation as TfActivation} from '@tensorflow/tfjs-layers/dist/activations';

import {
  accumulatedActivation,
  applyDeltaActivation,
  DeltaActivationFn,
  deltaActivationOf,
  truncatingActivation,
} from './activation_state';
import {AnyLayerClass, DeltaClass, deltaMixin} from './base';

/** A fraction in (0, 1]. */
export function checkFlushAbove(where: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new Error(`${where}: flushAbove must be a fraction in (0, 1], got ${JSON.stringify(value)}`);
  }
  return value;
}

export interface ActivatedMembers {
  /** What the layer's activation becomes in the delta stream. */
  deltaActivation(): DeltaActivationFn;
  /** Applies the activation to this frame's pre-activation delta (`owned`: made by the layer itself). */
  activate(y: Tensor, first: boolean, owned?: boolean): Tensor;
  /**
   * When more than this fraction of the pixels of a frame's delta are active, the activation flushes
   * every pixel (no truncation: state A = A + R + delta, R = 0, output f(A') - f(A), dense): five passes
   * where the truncating accumulator costs a dozen, for a frame it would send almost whole anyway. The
   * test reads the delta's mask back once per frame. Null (default): always truncate. Saved in the config.
   */
  flushAbove: number | null;
}

export type ActivatedClass<TBase extends AnyLayerClass> = DeltaClass<TBase> &
  (abstract new (...args: any[]) => ActivatedMembers); // eslint-disable-line @typescript-eslint/no-explicit-any

export function activatedMixin<TBase extends AnyLayerClass>(Base: TBase, dense: string): ActivatedClass<TBase> {
  abstract class Activated extends deltaMixin(Base, {dense}) implements ActivatedMembers {
    flushAbove: number | null;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      const value = (args[0] as {flushAbove?: number | null} | undefined)?.flushAbove;
      this.flushAbove = value == null ? null : checkFlushAbove(`layer '${this.name}'`, value);
    }

    override getConfig(): tf.serialization.ConfigDict {
      const config = super.getConfig();
      if (this.flushAbove != null) config.flushAbove = this.flushAbove;
      return config;
    }

    deltaActivation(): DeltaActivationFn {
      return deltaActivationOf((this as unknown as {activation?: TfActivation | null}).activation);
    }

    override holdsBuffers(): boolean {
      return this.deltaActivation().kind !== 'linear';
    }

    override truncatesNow(): boolean {
      return truncatingActivation(this.deltaActivation());
    }

    activate(y: Tensor, first: boolean, owned = false): Tensor {
      return applyDeltaActivation(
        this.stream,
        this.deltaActivation(),
        y,
        this.absoluteThreshold(),
        first,
        'act',
        owned,
        this.flushAbove,
      );
    }

    /** The activation of the accumulated input (what the truncation test compares changes of). */
    override denseValues(): Tensor | null {
      return accumulatedActivation(this.stream, this.deltaActivation());
    }
  }
  return Activated as unknown as ActivatedClass<TBase>;
}
