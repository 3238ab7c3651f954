/**
 * tfjs-delta: delta (sparse frame-difference) convolutions, gated 3D convolutions and the
 * companions they need, as tfjs ops with kernels for the 'cpu' backend (the reference) and,
 * where available, 'tensorflow' (tfjs-node) and 'cuda'.
 *
 * Importing the package registers its kernels and gradients, and tf.layers classes that run tfjs's fused ops
 * (layers/fused_layers.ts); it does not choose a backend.
 */
import {registerCpuKernels} from './kernels/cpu/register_all_kernels';
import {registerTensorflowKernels} from './kernels/tensorflow/register_all_kernels';
import {registerConv3DGatedGradient} from './ops/conv3d_gated_grad';
import {registerNoGradients} from './ops/no_gradient';
import {registerFusedLayers} from './layers/fused_layers';

export {deltaConv2d} from './ops/delta_conv2d';
export {deltaDepthwiseConv2d} from './ops/delta_depthwise_conv2d';
export {fusedDeltaConv2d} from './ops/fused_delta_conv2d';
export type {FusedDeltaConv2dArgs} from './ops/fused_delta_conv2d';
export {fusedDeltaDepthwiseConv2d} from './ops/fused_delta_depthwise_conv2d';
export type {FusedDeltaDepthwiseConv2dArgs} from './ops/fused_delta_depthwise_conv2d';
export {deltaConv2dTranspose} from './ops/delta_conv2d_transpose';
export {sparseAccumulate} from './ops/sparse_accumulate';
export type {SparseAccumulateConfig, SparseAccumulateResult} from './ops/sparse_accumulate';
export {storeHalf} from './ops/store_half';
export type {StatePrecision} from './ops/kernel_names';
export {deltaSparsify} from './ops/delta_sparsify';
export type {DeltaSparsifyConfig, DeltaSparsifyResult} from './ops/delta_sparsify';
export {deltaMaxPool} from './ops/delta_max_pool';
export type {DeltaMaxPoolResult} from './ops/delta_max_pool';
export {conv3dGated} from './ops/conv3d_gated';
export type {Conv3DGatedConfig, Pad3D} from './ops/conv3d_gated';
export type {Activation, PadSpec2D, DimRoundingMode} from './ops/validation';
export * as kernelNames from './ops/kernel_names';
export {activeFraction, getMask, isDense, withMask} from './ops/mask';
export {pointwiseConvsAsMatMul} from './kernels/tensorflow/PointwiseConv';
export {transposedConvsByPhases} from './kernels/tensorflow/TransposedConv';
export {loadTfjsNode, wrapTfjsNodeKernels} from './kernels/tensorflow/tfjs_node_kernels';

registerCpuKernels();
registerTensorflowKernels(); // harmless without tfjs-node: kernels of an absent backend are never looked up
registerConv3DGatedGradient();
registerNoGradients();

// Node file-system IO: model.save / tf.loadLayersModel with plain paths and file:// URLs.
export {nodeFileSystem, registerNodeFileSystemRouters} from './io/node_file_system';
export type {NodeFileSystemOptions} from './io/node_file_system';

// Companion delta ops: one backend-agnostic kernel per op (registered with each backend's kernels above).
export {deltaAdd} from './ops/delta_add';
export {deltaConcat} from './ops/delta_concat';
export {deltaScaleShift} from './ops/delta_scale_shift';
export {deltaDense} from './ops/delta_dense';
export {deltaUpSampling2d} from './ops/delta_up_sampling2d';
export {deltaPad2d} from './ops/delta_pad2d';
export {deltaAvgPool} from './ops/delta_avg_pool';
export {deltaGlobalAvgPool} from './ops/delta_global_avg_pool';
export {deltaReshape} from './ops/delta_reshape';
export {framesFromBytes, framesToBytes} from './ops/frame_bytes';
export {deltaLayers, DELTA_LAYER_CLASSES} from './delta/layers/index';
export * as deltaLayerClasses from './delta/layers/index';
export {getDefaultThreshold, isDeltaLayer, setDefaultThreshold} from './delta/layers/base';
export type {DeltaLayer, LayerFrameStats} from './delta/layers/base';
export {
  deltaLayersOf,
  foldableActivations,
  foldableBatchNorms,
  foldBatchNorms,
  getDeltaStats,
  setDeltaStats,
  toDelta,
  toDense,
} from './delta/to_delta';
export type {
  DeltaFrameStats,
  FoldBatchNormsOptions,
  LayerStats,
  ToDeltaOptions,
  ToDenseOptions,
} from './delta/to_delta';
export {
  getThresholds,
  getThresholdScales,
  loadThresholds,
  saveThresholds,
  setThresholds,
  setThresholdScales,
  truncatingLayers,
  tuneThresholds,
} from './delta/thresholds';
export type {ScaledThresholds, ThresholdMap, TuneOptions, TuneResult} from './delta/thresholds';
export {calibrateThresholdScales} from './delta/calibrate';
export {fromGraphModel, SUPPORTED_GRAPH_OPS} from './delta/graph/from_graph_model';
export type {FromGraphModelOptions, GraphModelSource, GraphNodeDef} from './delta/graph/from_graph_model';
export {ChannelPadding, ConstantOp, Resize2D} from './delta/graph/layers';
export type {ChannelPaddingArgs, ConstantOpArgs, ConstantOpKind, Resize2DArgs} from './delta/graph/layers';
export type {ScaleMap} from './delta/calibrate';

// PyTorch checkpoints: torch.save zip / legacy and safetensors readers, mapping onto tfjs weights.
export * as pytorch from './models/pytorch/index';
export {loadPyTorchCheckpoint} from './models/pytorch/checkpoint';

// Models: FLAVR, ResNet / pose, as LayersModels with PyTorch weight loaders.
export * as models from './models/index';

// The 'cuda' backend: opt-in, `await useCudaIfAvailable()` or tf.setBackend('cuda').
export * from './backends/cuda/index';

// Compiled streaming plans on 'cuda': one CUDA-graph replay per frame.
export {CompiledStream, compileStream} from './stream/compile_stream';
export type {CompiledStreamInfo, CompileStreamOptions, StreamPrecision} from './stream/compile_stream';

// tf.layers classes on tfjs's fused ops (README, "Fused tf.layers").
export {FusedConv2D, FusedDepthwiseConv2D} from './layers/fused_layers';

// Last, once every module above has taken the tf.layers classes it extends: the delta layers extend tfjs-layers'
// own; from here on activations made by name and layers made through the registry (loaded models) are the fused ones.
registerFusedLayers();
