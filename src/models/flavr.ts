/**
 * FLAVR (Kalluri et al., WACV 2023), the `UNet_3D_3D` of github.com/tarun005/FLAVR with its shipped
 * settings (unet_18 encoder, 4 input frames, concat joins, transposed-conv up-sampling, no BN), as
 * a tfjs LayersModel.
 *
 * Input  [N, 4, H, W, 3]: four frames in [0, 1], any H and W.
 * Output [N, factor - 1, H, W, 3]: the frames between input frames 1 and 2, in time order.
 *
 * What happens, exactly as PyTorch's model does it on a multiple-of-8 input: reflect-pad H and W at
 * their end to multiples of 8 (cropped back at the end: the model itself needs multiples of 8), per-
 * sample, per-channel mean over frames, rows and columns subtracted (and added back to every output
 * frame), R3D-18 encoder with SE gates (stem conv 3x7x7 stride (1,2,2) + ReLU; four stages of two
 * BasicBlocks, conv1 + ReLU, conv2 + gate, + residual, ReLU), a decoder of gated 3-D convs and
 * transposed convs with LeakyReLU(0.2) and concat skips, the four frames' features stacked frame-
 * major into channels, a 1x1 fusion conv + LeakyReLU, ReflectionPad2d(3) + 7x7 conv to 3 channels
 * per output frame.
 *
 * Layers carry their PyTorch module names ('encoder.layer2.0.conv1.0', 'decoder.1.upconv', ...), so
 * loading an official checkpoint is a name-by-name copy (see loadFlavrWeights). Padding is PyTorch's:
 * explicit symmetric pads before 'valid' convs where TF's 'same' would differ (stride 2).
 */
import * as tfl from '@tensorflow/tfjs-layers';

import {CheckpointError, loadPyTorchCheckpoint, LoadCheckpointOptions, StateDict} from './pytorch/checkpoint';
import {buildAndLoad, loadStateDict, mappingFromModel, WeightMapping} from './pytorch/mapping';
import {Conv3DGatedLayer} from './layers/conv3d_gated_layer';
import {
  CropLike,
  FoldFrames,
  MeanShift,
  PadToMultiple,
  ReflectionPadding2D,
  UnfoldFrames,
  ZeroPadding3D,
} from './layers/shape_layers';

type Widths = [number, number, number, number];

export interface FlavrOptions {
  /** Frame-rate factor: 2 (one output frame), 4 (three) or 8 (seven). Default 2. */
  factor?: 2 | 4 | 8;
  /**
   * Biases on the encoder's stem and 3x3x3 convs. The official 4x/8x weights have them, the 2x
   * weights do not; default: factor > 2, as in the official code.
   */
  encoderBias?: boolean;
  /** Encoder depth: 18 (unet_18, the shipped one) or 34 (unet_34). Default 18. */
  depth?: 18 | 34;
  /** Channels of the stem/layer1, layer2, layer3, layer4. Default [64, 128, 256, 512]. */
  widths?: Widths;
  /**
   * Initial weights: 'random' (tfjs's defaults, for training) or 'zeros' (much faster to build;
   * for weights loaded next, as flavrFromCheckpoint does). Default 'random'.
   */
  weightInit?: 'random' | 'zeros';
  /** How H and W are padded to multiples of 8: 'reflect' (default) or 'zero'. */
  padMode?: 'reflect' | 'zero';
  name?: string;
}

interface Resolved {
  factor: 2 | 4 | 8;
  encoderBias: boolean;
  depth: 18 | 34;
  widths: Widths;
  padMode: 'reflect' | 'zero';
  zeros: boolean;
  name: string;
}

function resolve(options: FlavrOptions): Resolved {
  const factor = options.factor ?? 2;
  if (![2, 4, 8].includes(factor)) throw new Error(`flavr: factor must be 2, 4 or 8, got ${factor}`);
  const depth = options.depth ?? 18;
  if (depth !== 18 && depth !== 34) throw new Error(`flavr: depth must be 18 or 34, got ${depth}`);
  const widths = options.widths ?? [64, 128, 256, 512];
  if (widths.length !== 4 || !widths.every((w) => Number.isInteger(w) && w > 0)) {
    throw new Error(`flavr: widths must be 4 positive integers, got ${JSON.stringify(widths)}`);
  }
  return {
    factor,
    depth,
    widths,
    encoderBias: options.encoderBias ?? factor > 2,
    padMode: options.padMode ?? 'reflect',
    zeros: options.weightInit === 'zeros',
    name: options.name ?? `flavr_${factor}x`,
  };
}

type T = tfl.SymbolicTensor;

function apply(layer: tfl.layers.Layer, x: T | T[]): T {
  return layer.apply(x) as T;
}

type Triple = [number, number, number];

/** Builds FLAVR as a LayersModel (random weights; load trained ones with loadFlavrWeights). */
export function flavr(options: FlavrOptions = {}): tfl.LayersModel {
  const o = resolve(options);
  const kernelInitializer = o.zeros ? 'zeros' : undefined;
  const gatedInit = o.zeros ? 'zeros' : 'glorotUniform';

  /** PyTorch Conv3d(k, stride, padding=p) [+ ReLU]: explicit pad + 'valid' unless TF's 'same' is identical. */
  const conv3d = (
    x: T,
    name: string,
    filters: number,
    kernel: Triple,
    strides: Triple,
    pad: Triple,
    useBias: boolean,
    relu: boolean,
  ): T => {
    const same = strides.every((s) => s === 1) && kernel.every((k, i) => k === 2 * pad[i] + 1);
    if (!same && pad.some((p) => p > 0)) {
      x = apply(
        new ZeroPadding3D({
          name: `${name}.pad`,
          padding: [
            [pad[0], pad[0]],
            [pad[1], pad[1]],
            [pad[2], pad[2]],
          ],
        }),
        x,
      );
    }
    return apply(
      tfl.layers.conv3d({
        name,
        filters,
        kernelSize: kernel,
        strides,
        padding: same ? 'same' : 'valid',
        useBias,
        activation: relu ? 'relu' : 'linear',
        kernelInitializer,
      }),
      x,
    );
  };
  /** BasicBlock: conv1 + ReLU, conv2 + SE gate (fg), + residual (1x1x1 downsample if needed), ReLU. */
  const basicBlock = (x: T, name: string, inChannels: number, planes: number, stride: 1 | 2): T => {
    const s: Triple = [1, stride, stride];
    const h = conv3d(x, `${name}.conv1.0`, planes, [3, 3, 3], s, [1, 1, 1], o.encoderBias, true);
    const g = apply(
      new Conv3DGatedLayer({
        name: `${name}.conv2`,
        filters: planes,
        kernelSize: 3,
        padding: 'same',
        useBias: o.encoderBias,
        kernelInitializer: gatedInit,
      }),
      h,
    );
    const residual =
      stride !== 1 || inChannels !== planes
        ? conv3d(x, `${name}.downsample.0`, planes, [1, 1, 1], s, [0, 0, 0], false, false)
        : x;
    const sum = apply(tfl.layers.add({name: `${name}.add`}), [g, residual]);
    return apply(tfl.layers.reLU({name: `${name}.relu`}), sum);
  };
  /** Conv_3d (3x3x3) or upConv3D (ConvTranspose3d k(3,4,4) s(1,2,2) p1), each + SE gate, then LeakyReLU(0.2). */
  const gated = (x: T, name: string, filters: number, up: boolean): T =>
    apply(
      new Conv3DGatedLayer(
        up
          ? {
              name,
              filters,
              kernelSize: [3, 4, 4],
              strides: [1, 2, 2],
              padding: 1,
              transpose: true,
              activation: 'leakyRelu',
              alpha: 0.2,
              kernelInitializer: gatedInit,
            }
          : {
              name,
              filters,
              kernelSize: 3,
              padding: 'same',
              activation: 'leakyRelu',
              alpha: 0.2,
              kernelInitializer: gatedInit,
            },
      ),
      x,
    );
  const cat = (name: string, a: T, b: T) => apply(tfl.layers.concatenate({name, axis: -1}), [a, b]);

  const [c0, c1, c2, c3] = o.widths;
  const blocks = o.depth === 18 ? [2, 2, 2, 2] : [3, 4, 6, 3];
  const frames = tfl.input({shape: [4, null, null, 3] as number[], name: 'frames'});
  const padded = apply(new PadToMultiple({name: 'pad_to_8', multiple: 8, mode: o.padMode}), frames);
  const x = apply(new MeanShift({name: 'subtract_mean', sign: -1}), padded);

  const x0 = conv3d(x, 'encoder.stem.0', c0, [3, 7, 7], [1, 2, 2], [1, 3, 3], o.encoderBias, true);
  const skips: T[] = [x0];
  let h = x0;
  let inChannels = c0;
  const planes = [c0, c1, c2, c3];
  const strides: Array<1 | 2> = [1, 2, 2, 1];
  for (let stage = 0; stage < 4; stage++) {
    for (let b = 0; b < blocks[stage]; b++) {
      h = basicBlock(h, `encoder.layer${stage + 1}.${b}`, inChannels, planes[stage], b === 0 ? strides[stage] : 1);
      inChannels = planes[stage];
    }
    skips.push(h);
  }
  const [, x1, x2, x3, x4] = skips;
  let d = cat('decoder.0.cat', gated(x4, 'decoder.0.conv', c2, false), x3);
  d = cat('decoder.1.cat', gated(d, 'decoder.1.upconv', c1, true), x2);
  d = cat('decoder.2.cat', gated(d, 'decoder.2.upconv', c0, true), x1);
  d = cat('decoder.3.cat', gated(d, 'decoder.3.conv', c0, false), x0);
  d = gated(d, 'decoder.4.upconv', c0, true);

  let f = apply(new FoldFrames({name: 'fold_frames'}), d);
  f = apply(
    tfl.layers.conv2d({name: 'feature_fuse.conv.0', filters: c0, kernelSize: 1, useBias: false, kernelInitializer}),
    f,
  );
  f = apply(tfl.layers.leakyReLU({name: 'feature_fuse.lrelu', alpha: 0.2}), f);
  f = apply(new ReflectionPadding2D({name: 'outconv.0', padding: 3}), f);
  f = apply(
    tfl.layers.conv2d({
      name: 'outconv.1',
      filters: 3 * (o.factor - 1),
      kernelSize: 7,
      padding: 'valid',
      kernelInitializer,
    }),
    f,
  );
  let out = apply(new UnfoldFrames({name: 'split_frames', frames: o.factor - 1}), f);
  out = apply(new MeanShift({name: 'add_mean', sign: 1}), [out, padded]);
  out = apply(new CropLike({name: 'crop'}), [out, frames]);
  return tfl.model({inputs: frames, outputs: out, name: o.name});
}

/** The PyTorch key of each FLAVR weight: layer names are module names, gates live elsewhere. */
export function flavrWeightMapping(model: tfl.LayersModel): WeightMapping[] {
  return mappingFromModel(model, (layer, weight) => {
    if (weight !== 'gateKernel' && weight !== 'gateBias') {
      // Conv3DGated layers hold the conv of '<name>.0' (decoder Conv_3d / upConv3D; encoder conv2 Sequential).
      return /^(encoder\.layer\d+\.\d+\.conv2|decoder\.\d+\.(conv|upconv))$/.test(layer)
        ? `${layer}.0.${weight === 'kernel' ? 'weight' : 'bias'}`
        : undefined;
    }
    const param = weight === 'gateKernel' ? 'weight' : 'bias';
    const enc = /^(encoder\.layer\d+\.\d+)\.conv2$/.exec(layer);
    return enc != null ? `${enc[1]}.fg.attn_layer.0.${param}` : `${layer}.1.attn_layer.0.${param}`;
  });
}

/**
 * Copies a FLAVR state dict (official names, 'module.' already stripped by loadPyTorchCheckpoint)
 * into the model; every missing, unexpected or mis-shaped tensor is reported in one error.
 */
export function loadFlavrWeights(model: tfl.LayersModel, stateDict: StateDict): void {
  loadStateDict(model, flavrWeightMapping(model), stateDict, {context: `loading FLAVR weights into '${model.name}'`});
}

/** The FLAVR options an official-format state dict was trained with (factor, encoder biases, depth, widths). */
export function flavrOptionsFromStateDict(
  sd: StateDict,
): Required<Pick<FlavrOptions, 'factor' | 'encoderBias' | 'depth' | 'widths'>> {
  const shape = (key: string) => {
    const t = sd.get(key);
    if (t == null) {
      throw new CheckpointError(
        `not a FLAVR state dict: no '${key}' (keys: ${[...sd.keys()].slice(0, 6).join(', ')}, ...)`,
      );
    }
    return t.shape;
  };
  const out = shape('outconv.1.weight')[0];
  const factor = out / 3 + 1;
  if (factor !== 2 && factor !== 4 && factor !== 8) {
    throw new CheckpointError(`FLAVR outconv has ${out} output channels: expected 3, 9 or 21 (factor 2, 4 or 8)`);
  }
  const widths = [1, 2, 3, 4].map((i) => shape(`encoder.layer${i}.0.conv1.0.weight`)[0]) as Widths;
  const depth = sd.has('encoder.layer3.5.conv1.0.weight') ? 34 : 18;
  return {factor, encoderBias: sd.has('encoder.stem.0.bias'), depth, widths};
}

/**
 * Reads an official-format FLAVR checkpoint (.pth training checkpoint, bare state dict or
 * safetensors), builds the matching model (factor, biases and widths read from the tensors) and
 * loads the weights into it.
 */
export async function flavrFromCheckpoint(
  source: string | Uint8Array | ArrayBuffer,
  options: FlavrOptions & LoadCheckpointOptions = {},
): Promise<tfl.LayersModel> {
  return flavrFromStateDict(await loadPyTorchCheckpoint(source, options), options);
}

/** The model an official-format FLAVR state dict describes, with its weights (see flavrFromCheckpoint). */
export function flavrFromStateDict(sd: StateDict, options: FlavrOptions = {}): tfl.LayersModel {
  return buildAndLoad(
    () => flavr({weightInit: 'zeros', ...options, ...flavrOptionsFromStateDict(sd)}),
    (model) => loadFlavrWeights(model, sd),
  );
}
