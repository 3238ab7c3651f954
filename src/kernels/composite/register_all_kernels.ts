/**
 * Registers the companion kernels (ops/companion_kernel_names.ts) for a backend. They are written
 * once, with standard tfjs ops, so any backend that has the standard kernels can run them:
 *   registerSharedKernels('cpu'); registerSharedKernels('tensorflow');
 * Registering for a backend that was never loaded is harmless. Also registers the ops' refusal of
 * gradients (once).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig} from '@tensorflow/tfjs-core';

import {registerKernelConfigs} from '../register';

import {registerCompanionNoGradients} from '../../ops/companion_no_gradient';
import {COMPANION_KERNELS} from '../../ops/companion_kernel_names';
import {deltaAddConfig} from './DeltaAdd';
import {deltaAvgPoolConfig} from './DeltaAvgPool';
import {deltaConcatConfig} from './DeltaConcat';
import {deltaDenseConfig} from './DeltaDense';
import {deltaGlobalAvgPoolConfig} from './DeltaGlobalAvgPool';
import {deltaPad2DConfig} from './DeltaPad2D';
import {deltaReshapeConfig} from './DeltaReshape';
import {deltaScaleShiftConfig} from './DeltaScaleShift';
import {deltaUpSampling2DConfig} from './DeltaUpSampling2D';
import {framesFromBytesConfig, framesToBytesConfig} from './FramesBytes';

const factories: Array<(backendName: string) => KernelConfig> = [
  deltaAddConfig,
  deltaConcatConfig,
  deltaScaleShiftConfig,
  deltaDenseConfig,
  deltaUpSampling2DConfig,
  deltaPad2DConfig,
  deltaAvgPoolConfig,
  deltaGlobalAvgPoolConfig,
  deltaReshapeConfig,
  framesFromBytesConfig,
  framesToBytesConfig,
];

export function sharedKernelConfigs(backendName: string): KernelConfig[] {
  return factories.map(f => f(backendName));
}

export function registerSharedKernels(backendName: string): void {
  registerKernelConfigs(sharedKernelConfigs(backendName));
  if (tf.getGradient(COMPANION_KERNELS[0][0]) == null) registerCompanionNoGradients();
}
