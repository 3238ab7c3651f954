/** Registers kernel configs, leaving alone any kernel already registered under the same name and backend. */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig} from '@tensorflow/tfjs-core';

export function registerKernelConfigs(configs: KernelConfig[]): void {
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
  }
}
