/** What a 'cuda' kernel receives: tfjs's kernel arguments with the backend typed as ours. */
import type {NamedAttrMap, TensorInfo} from '@tensorflow/tfjs-core';

import type {CudaBackend} from '../backend';

export interface CudaKernelArgs<A = NamedAttrMap> {
  inputs: {[name: string]: TensorInfo};
  backend: CudaBackend;
  attrs: A;
}
export type CudaKernel<A = NamedAttrMap> = (args: CudaKernelArgs<A>) => TensorInfo | TensorInfo[];
