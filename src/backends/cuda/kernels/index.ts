/** Registers every native 'cuda' kernel, then the CPU fallback for the remaining 'cpu' kernels. */
import {registerConvKernels} from './conv';
import {registerDeltaKernels} from './delta';
import {registerDeltaCompanionKernels} from './delta_companion';
import {registerDeltaMaskKernels} from './delta_mask';
import {registerElementwiseKernels} from './elementwise';
import {registerFrameBytesKernels} from './frame_bytes';
import {registerCpuFallbacks} from './fallback';
import {registerMatMulKernels} from './matmul';
import {registerReducePoolKernels} from './reduce_pool';
import {registerTransformKernels} from './transform';
import {nativeKernels} from './util';

let registered = false;

export function registerCudaKernels(): void {
  if (!registered) {
    registered = true;
    registerElementwiseKernels();
    registerConvKernels();
    registerMatMulKernels();
    registerReducePoolKernels();
    registerTransformKernels();
    registerDeltaMaskKernels();
    registerDeltaKernels();
    registerFrameBytesKernels();
    registerDeltaCompanionKernels();
  }
  registerCpuFallbacks(); // again on later calls: picks up 'cpu' kernels registered since
}

export {nativeKernels};
export {registerCpuFallbacks, strictKernels} from './fallback';
