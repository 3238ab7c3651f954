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
import type {StatePrecision} from '../../ops/kernel_names';
import {AnyLayerClass, DeltaClass, deltaMixin} from './base';

/** A fraction in (0, 1]. */
export function checkFlushAbove(where: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new Error(`${where}: flushAbove must be a fraction in (0, 1], got ${JSON.stringify(value)}`);
  }
  return value;
}

/** 'fp32' or 'fp16', and not 'fp16' with flushAbove (whose dense flush computes in float32). */
export function checkStatePrecision(
  where: string,
  value: unknown,
  flushAbove: number | null | undefined,
): StatePrecision {
  if (value !== 'fp32' && value !== 'fp16') {
    throw new Error(`${where}: statePrecision must be 'fp32' or 'fp16', got ${JSON.stringify(value)}`);
  }
  if (value === 'fp16' && flushAbove != null) {
    throw new Error(
      `${where}: statePrecision 'fp16' does not combine with flushAbove (${flushAbove}); drop one of them`,
    );
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
  /**
   * How a truncating activation stores its state (sparseAccumulate's statePrecision): 'fp32' (default) or 'fp16',
   * half the bytes of state and of its traffic on 'cuda', within half's rounding of the float32 result. Saved in the
   * config when 'fp16'.
   */
  statePrecision: StatePrecision;
  /**
   * The name of the dense model's activation layer this layer computes as its own activation (toDelta's
   * foldActivations), or null. Thresholds given by that name apply to this layer. Saved in the config.
   */
  foldedActivation: string | null;
}

export type ActivatedClass<TBase extends AnyLayerClass> = DeltaClass<TBase> &
  (abstract new (...args: any[]) => ActivatedMembers); // eslint-disable-line @typescript-eslint/no-explicit-any

export function activatedMixin<TBase extends AnyLayerClass>(Base: TBase, dense: string): ActivatedClass<TBase> {
  abstract class Activated extends deltaMixin(Base, {dense}) implements ActivatedMembers {
    flushAbove: number | null;
    statePrecision: StatePrecision;
    foldedActivation: string | null;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      const config = args[0] as
        | {flushAbove?: number | null; statePrecision?: StatePrecision; foldedActivation?: {name: string} | null}
        | undefined;
      this.foldedActivation = config?.foldedActivation?.name ?? null;
      const where = `layer '${this.name}'`;
      this.flushAbove = config?.flushAbove == null ? null : checkFlushAbove(where, config.flushAbove);
      this.statePrecision = checkStatePrecision(where, config?.statePrecision ?? 'fp32', this.flushAbove);
    }

    override getConfig(): tf.serialization.ConfigDict {
      const config = super.getConfig();
      if (this.flushAbove != null) config.flushAbove = this.flushAbove;
      if (this.statePrecision !== 'fp32') config.statePrecision = this.statePrecision;
      // As {name}: a saved config's string values come back camel-cased (tfjs-layers' serialization), but 'name' keys.
      if (this.foldedActivation != null) config.foldedActivation = {name: this.foldedActivation};
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
        this.statePrecision,
      );
    }

    /** The activation of the accumulated input (what the truncation test compares changes of). */
    override denseValues(): Tensor | null {
      return accumulatedActivation(this.stream, this.deltaActivation());
    }
  }
  return Activated as unknown as ActivatedClass<TBase>;
}
