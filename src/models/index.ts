/**
 * Ready-made models as ordinary tfjs LayersModels, and their PyTorch weight loaders.
 *   flavr(...)               FLAVR frame interpolation (2x/4x/8x), built from conv3dGated layers
 *   flavrFromCheckpoint(p)   the model an official-format FLAVR checkpoint describes, weights loaded
 *   resnet(...)              ResNet-18/34/50 (torchvision names), classifier, SimpleBaseline pose head or trunk
 *   resnetFromCheckpoint(p)  the model a torchvision / SimpleBaseline state dict describes, weights loaded
 *   posenet(path)            PoseNet-MobileNetV1 rebuilt from its tfjs graph model, trained weights mapped in
 *   decodeMultiplePoses(m)   PoseNet outputs -> poses, as @tensorflow-models/posenet decodes them
 *   fromGraphModel(g)        any convolutional tfjs graph model (tfjs-converter) as a LayersModel
 */
export {
  flavr,
  flavrFromCheckpoint,
  flavrFromStateDict,
  flavrOptionsFromStateDict,
  flavrWeightMapping,
  loadFlavrWeights,
} from './flavr';
export type {FlavrOptions} from './flavr';
export {Conv3DGatedLayer, conv3dGatedLayer} from './layers/conv3d_gated_layer';
export type {Conv3DGatedLayerArgs, Padding3D} from './layers/conv3d_gated_layer';
export {
  CropLike,
  FoldFrames,
  MeanShift,
  PadToMultiple,
  ReflectionPadding2D,
  UnfoldFrames,
  ZeroPadding3D,
} from './layers/shape_layers';
export {
  loadResNetWeights,
  resnet,
  resnetFromCheckpoint,
  resnetFromStateDict,
  resnetOptionsFromStateDict,
  resnetWeightMapping,
} from './resnet';
export type {ResNetOptions} from './resnet';
export {posenet, posenetDeltaDefaults, posenetFromArtifacts} from './posenet';
// The converter lives with toDelta (one floor down), which converts graph models with it.
export {fromGraphModel, SUPPORTED_GRAPH_OPS} from '../delta/graph/from_graph_model';
export type {FromGraphModelOptions, GraphModelSource} from '../delta/graph/from_graph_model';
export {
  decodeMultiplePoses,
  decodeSinglePose,
  MULTI_POSE_DEFAULTS,
  PART_NAMES,
  posenetInputSize,
  posenetMaps,
  scalePoses,
  SKELETON,
} from './posenet_decode';
export type {Keypoint, MultiPoseOptions, Pose, PosenetMaps} from './posenet_decode';
