/**
 * tfjs-delta: delta (sparse frame-difference) convolutions, gated 3D convolutions and the
 * companions they need, as tfjs ops with kernels for the 'cpu' backend (the reference) and,
 * where available, 'tensorflow' (tfjs-node) and 'cuda'.
 *
 * Importing the package registers its kernels and gradients; it does not choose a backend.
 */
import {registerCpuKernels} from '../kernels/cpu/register_all_kernels';
import {registerTensorflowKernels} from '../kernels/tensorflow/register_all_kernels';
import {registerConv3DGatedGradient} from '../ops/conv3d_gated_grad';
import {registerNoGradients} from '../ops/no_gradient';

export {deltaConv2d} from '../ops/delta_conv2d';
export {deltaDepthwiseConv2d} from '../ops/delta_depthwise_conv2d';
export {deltaConv2dTranspose} from '../ops/delta_conv2d_transpose';
export {sparseAccumulate} from '../ops/sparse_accumulate';
export type {SparseAccumulateConfig, SparseAccumulateResult} from '../ops/sparse_accumulate';
export {deltaMaxPool} from '../ops/delta_max_pool';
export type {DeltaMaxPoolResult} from '../ops/delta_max_pool';
export {conv3dGated} from '../ops/conv3d_gated';
export type {Conv3DGatedConfig, Pad3D} from '../ops/conv3d_gated';
export type {Activation, PadSpec2D, DimRoundingMode} from '../ops/validation';
export * as kernelNames from '../ops/kernel_names';
export {activeFraction, getMask, isDense, withMask} from './mask';

registerCpuKernels();
registerTensorflowKernels();  // harmless without tfjs-node: kernels of an absent backend are never looked up
registerConv3DGatedGradient();
registerNoGradients();

// Node file-system IO (issue 5): model.save / tf.loadLayersModel with plain paths and file:// URLs.
export {nodeFileSystem, registerNodeFileSystemRouters} from './io/node_file_system';
export type {NodeFileSystemOptions} from './io/node_file_system';
