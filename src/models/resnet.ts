/**
 * ResNet-18/34/50 with torchvision's layout and names (v1.5: the stride of a bottleneck sits in its
 * 3x3 conv), as plain tf.layers models (NHWC), plus the SimpleBaseline pose head (Xiao et al.,
 * ECCV 2018: three 4x4 stride-2 transposed convs + BN + ReLU, then a 1x1 conv to the heatmaps).
 *
 * Every layer is named after its PyTorch module ('conv1', 'bn1', 'layer2.0.downsample.0', 'fc',
 * 'deconv_layers.0', 'final_layer'), so a torchvision or SimpleBaseline state dict loads name by
 * name (loadResNetWeights). PyTorch's padding is reproduced exactly: explicit zero padding before
 * 'valid' convs where stride 2 would make TF's 'same' pad differently, and before the max pool
 * (zero padding equals PyTorch's -inf padding there, because the pool follows a ReLU).
 *
 * The models are ordinary dense LayersModels of standard layers; `delta: true` (or toDelta options)
 * returns their delta twin (src/delta/to_delta.ts), with the same layer names. Its batch norms are
 * folded into the convolutions before them, so state dicts load into the dense model:
 * resnetFromCheckpoint(file, {delta}) loads first and converts after.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {toDelta, ToDeltaOptions} from '../delta/to_delta';
import {loadPyTorchCheckpoint, LoadCheckpointOptions, StateDict} from './pytorch/checkpoint';
import {buildAndLoad, loadStateDict, mappingFromModel, WeightMapping} from './pytorch/mapping';

export interface ResNetOptions {
  /** 18, 34 or 50. Default 50. */
  depth?: 18 | 34 | 50;
  /**
   * 'classifier': global average pool + fc (torchvision's logits); 'pose': SimpleBaseline's
   * deconv head to `joints` heatmaps at 1/4 of the input resolution; 'none': the layer4 features.
   * Default 'classifier'.
   */
  head?: 'classifier' | 'pose' | 'none';
  /** Classifier outputs. Default 1000. */
  numClasses?: number;
  /** Pose head: channels of the transposed convs (default 256) and heatmaps (default 17, COCO). */
  deconvChannels?: number;
  joints?: number;
  /** Channels of the stem and of layer1's 3x3 convs; 64 in torchvision. */
  width?: number;
  /**
   * Initial weights: 'random' (tfjs's defaults, for training) or 'zeros' (much faster to build;
   * for weights loaded next, as resnetFromCheckpoint does). Default 'random'.
   */
  weightInit?: 'random' | 'zeros';
  /** [height, width, 3]; null sizes accept any resolution (default). */
  inputShape?: [number | null, number | null, number];
  /**
   * Build the delta model (toDelta of the dense one, with weights of its own and batch norms folded
   * into the convolutions): true, or toDelta's options (thresholds, stats, ...). Default: the dense model.
   */
  delta?: boolean | ToDeltaOptions;
  name?: string;
}

const LAYERS: {[depth: number]: {bottleneck: boolean; blocks: number[]}} = {
  18: {bottleneck: false, blocks: [2, 2, 2, 2]},
  34: {bottleneck: false, blocks: [3, 4, 6, 3]},
  50: {bottleneck: true, blocks: [3, 4, 6, 3]},
};

type T = tfl.SymbolicTensor;

/** The kernelInitializer of every conv / dense layer ('zeros', or undefined for tfjs's default). */
type Init = 'zeros' | undefined;

function apply(layer: tfl.layers.Layer, x: T | T[]): T {
  return layer.apply(x) as T;
}

/** PyTorch Conv2d(k, stride, padding=(k-1)/2, bias=False) as tfjs layers. */
function conv(init: Init, x: T, name: string, filters: number, kernel: number, stride: number): T {
  const pad = (kernel - 1) / 2;
  if (stride === 1 || pad === 0) {
    return apply(
      tfl.layers.conv2d({
        name,
        filters,
        kernelSize: kernel,
        strides: stride,
        padding: pad === 0 ? 'valid' : 'same',
        useBias: false,
        kernelInitializer: init,
      }),
      x,
    );
  }
  const padded = apply(tfl.layers.zeroPadding2d({name: `${name}.pad`, padding: pad}), x);
  return apply(
    tfl.layers.conv2d({
      name,
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: 'valid',
      useBias: false,
      kernelInitializer: init,
    }),
    padded,
  );
}

function bn(x: T, name: string): T {
  // PyTorch's BatchNorm2d: eps 1e-5, running average momentum 0.1 (Keras counts it the other way).
  return apply(tfl.layers.batchNormalization({name, axis: -1, epsilon: 1e-5, momentum: 0.9}), x);
}

function relu(x: T, name: string): T {
  return apply(tfl.layers.reLU({name}), x);
}

function block(
  init: Init,
  x: T,
  name: string,
  inChannels: number,
  planes: number,
  stride: number,
  bottleneck: boolean,
): {y: T; channels: number} {
  const out = bottleneck ? planes * 4 : planes;
  let h: T;
  if (bottleneck) {
    h = relu(bn(conv(init, x, `${name}.conv1`, planes, 1, 1), `${name}.bn1`), `${name}.relu1`);
    h = relu(bn(conv(init, h, `${name}.conv2`, planes, 3, stride), `${name}.bn2`), `${name}.relu2`);
    h = bn(conv(init, h, `${name}.conv3`, out, 1, 1), `${name}.bn3`);
  } else {
    h = relu(bn(conv(init, x, `${name}.conv1`, planes, 3, stride), `${name}.bn1`), `${name}.relu1`);
    h = bn(conv(init, h, `${name}.conv2`, planes, 3, 1), `${name}.bn2`);
  }
  const residual =
    stride !== 1 || inChannels !== out
      ? bn(conv(init, x, `${name}.downsample.0`, out, 1, stride), `${name}.downsample.1`)
      : x;
  return {y: relu(apply(tfl.layers.add({name: `${name}.add`}), [h, residual]), `${name}.relu`), channels: out};
}

/** Builds the model (random weights; load trained ones with loadResNetWeights / resnetFromCheckpoint). */
export function resnet(options: ResNetOptions = {}): tfl.LayersModel {
  const depth = options.depth ?? 50;
  const spec = LAYERS[depth];
  if (spec == null) throw new Error(`resnet: depth must be 18, 34 or 50, got ${depth}`);
  const head = options.head ?? 'classifier';
  if (!['classifier', 'pose', 'none'].includes(head))
    throw new Error(`resnet: head must be 'classifier', 'pose' or 'none', got ${head}`);
  const width = options.width ?? 64;
  const init: Init = options.weightInit === 'zeros' ? 'zeros' : undefined;
  const input = tfl.input({shape: (options.inputShape ?? [null, null, 3]) as number[], name: 'image'});

  let x = relu(bn(conv(init, input, 'conv1', width, 7, 2), 'bn1'), 'relu');
  x = apply(tfl.layers.zeroPadding2d({name: 'maxpool.pad', padding: 1}), x);
  x = apply(tfl.layers.maxPooling2d({name: 'maxpool', poolSize: 3, strides: 2, padding: 'valid'}), x);
  let channels = width;
  spec.blocks.forEach((count, stage) => {
    for (let b = 0; b < count; b++) {
      const r = block(
        init,
        x,
        `layer${stage + 1}.${b}`,
        channels,
        width * 2 ** stage,
        b === 0 && stage > 0 ? 2 : 1,
        spec.bottleneck,
      );
      x = r.y;
      channels = r.channels;
    }
  });

  if (head === 'classifier') {
    x = apply(tfl.layers.globalAveragePooling2d({name: 'avgpool'}), x);
    x = apply(tfl.layers.dense({name: 'fc', units: options.numClasses ?? 1000, kernelInitializer: init}), x);
  } else if (head === 'pose') {
    const deconv = options.deconvChannels ?? 256;
    for (let i = 0; i < 3; i++) {
      // ConvTranspose2d(k4, s2, p1): TF's 'same' pads the same (1 each side) and doubles the size.
      x = apply(
        tfl.layers.conv2dTranspose({
          name: `deconv_layers.${3 * i}`,
          filters: deconv,
          kernelSize: 4,
          strides: 2,
          padding: 'same',
          useBias: false,
          kernelInitializer: init,
        }),
        x,
      );
      x = relu(bn(x, `deconv_layers.${3 * i + 1}`), `deconv_layers.${3 * i + 2}`);
    }
    x = apply(
      tfl.layers.conv2d({name: 'final_layer', filters: options.joints ?? 17, kernelSize: 1, kernelInitializer: init}),
      x,
    );
  }
  const dense = tfl.model({
    inputs: input,
    outputs: x,
    name: options.name ?? `resnet${depth}${head === 'classifier' ? '' : `_${head}`}`,
  });
  if (options.delta == null || options.delta === false) return dense;
  return deltaOf(dense, options.delta);
}

/** The delta twin of `dense` with weights of its own (folded batch norms make new ones anyway); `dense` is disposed. */
function deltaOf(dense: tfl.LayersModel, delta: true | ToDeltaOptions): tfl.LayersModel {
  try {
    return toDelta(dense, {...(delta === true ? {} : delta), shareWeights: false});
  } finally {
    dense.dispose();
  }
}

export function resnetWeightMapping(model: tfl.LayersModel): WeightMapping[] {
  return mappingFromModel(model);
}

/** Copies a torchvision / SimpleBaseline state dict into the model, checking every tensor first. */
export function loadResNetWeights(model: tfl.LayersModel, stateDict: StateDict): void {
  loadStateDict(model, resnetWeightMapping(model), stateDict, {context: `loading ResNet weights into '${model.name}'`});
}

/** The ResNet options a torchvision-named state dict implies (depth, width, head and its sizes). */
export function resnetOptionsFromStateDict(sd: StateDict): ResNetOptions {
  const conv1 = sd.get('conv1.weight');
  if (conv1 == null)
    throw new Error(
      `not a torchvision ResNet state dict: no 'conv1.weight' (keys: ${[...sd.keys()].slice(0, 6).join(', ')}, ...)`,
    );
  const count = (stage: number) => {
    let n = 0;
    while (sd.has(`layer${stage}.${n}.conv1.weight`)) n++;
    return n;
  };
  const blocks = [1, 2, 3, 4].map(count);
  const bottleneck = sd.has('layer1.0.conv3.weight');
  const depth = bottleneck ? 50 : blocks[2] === 6 ? 34 : 18;
  const expected = LAYERS[depth].blocks;
  if (!blocks.every((b, i) => b === expected[i]))
    throw new Error(`ResNet state dict has blocks [${blocks}], which is not ResNet-18/34/50`);
  const options: ResNetOptions = {depth: depth as 18 | 34 | 50, width: conv1.shape[0]};
  const fc = sd.get('fc.weight');
  const final = sd.get('final_layer.weight');
  if (fc != null) {
    options.head = 'classifier';
    options.numClasses = fc.shape[0];
  } else if (final != null) {
    options.head = 'pose';
    options.joints = final.shape[0];
    options.deconvChannels = final.shape[1];
  } else {
    options.head = 'none';
  }
  return options;
}

/** Reads a torchvision / SimpleBaseline checkpoint, builds the matching model and loads it. */
export async function resnetFromCheckpoint(
  source: string | Uint8Array | ArrayBuffer,
  options: ResNetOptions & LoadCheckpointOptions = {},
): Promise<tfl.LayersModel> {
  return resnetFromStateDict(await loadPyTorchCheckpoint(source, options), options);
}

/** The model a torchvision / SimpleBaseline state dict describes, with its weights. */
export function resnetFromStateDict(sd: StateDict, options: ResNetOptions = {}): tfl.LayersModel {
  const dense = buildAndLoad(
    () => resnet({weightInit: 'zeros', ...options, ...resnetOptionsFromStateDict(sd), delta: false}),
    (model) => loadResNetWeights(model, sd),
  );
  return options.delta == null || options.delta === false ? dense : deltaOf(dense, options.delta);
}
