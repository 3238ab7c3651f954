/**
 * Delta layers whose output goes through an activation: the linear layers with an `activation`
 * option (conv2d, dense, ...) and the activation layers themselves. The activation keeps per-stream
 * buffers (unless it is linear) and, for relu/relu6/leakyRelu/sigmoid/tanh, truncates with the
 * layer's threshold.
 */
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

export interface ActivatedMembers {
  /** What the layer's activation becomes in the delta stream. */
  deltaActivation(): DeltaActivationFn;
  /** Applies the activation to this frame's pre-activation delta (`owned`: made by the layer itself). */
  activate(y: Tensor, first: boolean, owned?: boolean): Tensor;
}

export type ActivatedClass<TBase extends AnyLayerClass> = DeltaClass<TBase> &
  (abstract new (...args: any[]) => ActivatedMembers); // eslint-disable-line @typescript-eslint/no-explicit-any

export function activatedMixin<TBase extends AnyLayerClass>(Base: TBase, dense: string): ActivatedClass<TBase> {
  abstract class Activated extends deltaMixin(Base, {dense}) implements ActivatedMembers {
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
      );
    }

    /** The activation of the accumulated input (what the truncation test compares changes of). */
    override denseValues(): Tensor | null {
      return accumulatedActivation(this.stream, this.deltaActivation());
    }
  }
  return Activated as unknown as ActivatedClass<TBase>;
}
