/**
 * Registers the kernels of every tfjs-delta op for backend 'tensorflow' (tfjs-node and
 * tfjs-node-gpu). Registering for a backend that was never loaded is harmless: the kernels are
 * only looked up when 'tensorflow' is the active backend.
 */
import type {KernelConfig} from '@tensorflow/tfjs-core';

import {sharedKernelConfigs} from '../composite/register_all_kernels';
import {registerKernelConfigs} from '../register';
import {conv3DGatedConfig} from './Conv3DGated';
import {deltaConv2DConfig} from './DeltaConv2D';
import {deltaConv2DTransposeConfig} from './DeltaConv2DTranspose';
import {deltaDepthwiseConv2DConfig} from './DeltaDepthwiseConv2D';
import {deltaMaxPoolConfig} from './DeltaMaxPool';
import {deltaSparsifyConfig} from './DeltaSparsify';
import {fusedDeltaConv2DConfig} from './FusedDeltaConv2D';
import {wrapTfjsNodeKernels} from './tfjs_node_kernels';
import {sparseAccumulateConfig} from './SparseAccumulate';

export const tensorflowKernelConfigs: KernelConfig[] = [
  deltaConv2DConfig,
  deltaDepthwiseConv2DConfig,
  deltaConv2DTransposeConfig,
  sparseAccumulateConfig,
  deltaSparsifyConfig,
  deltaMaxPoolConfig,
  conv3DGatedConfig,
  fusedDeltaConv2DConfig, // before the shared list, whose composed FusedDeltaConv2D it replaces
  ...sharedKernelConfigs('tensorflow'),
];

export function registerTensorflowKernels(): void {
  registerKernelConfigs(tensorflowKernelConfigs);
  wrapTfjsNodeKernels(); // when tfjs-node is already loaded; else its loader calls it (cli/backend.ts)
}
