/**
 * The companion kernels (DeltaAdd, DeltaConcat, ... in ops/kernel_names.ts), written once with standard tfjs ops, so
 * any backend that has the standard kernels can run them: the 'cpu' and 'tensorflow' lists include them, and 'cuda'
 * registers them under its native companions.
 */
import type {KernelConfig} from '@tensorflow/tfjs-core';

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
import {fusedDeltaConv2DConfig, fusedDeltaDepthwiseConv2DConfig} from './FusedDeltaConvs';
import {storeHalfConfig} from './StoreHalf';

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
  fusedDeltaConv2DConfig,
  fusedDeltaDepthwiseConv2DConfig,
  storeHalfConfig,
];

export function sharedKernelConfigs(backendName: string): KernelConfig[] {
  return factories.map((f) => f(backendName));
}
