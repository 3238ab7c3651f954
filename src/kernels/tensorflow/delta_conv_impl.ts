/**
 * Delta convolution (regular and depthwise) from TF ops, with two routes chosen per call:
 *
 * - tile: the output is cut into T x T tiles; a tile whose receptive field holds any active input
 *   pixel is active. The input patches of the active tiles (tile + halo) are gathered into a batch,
 *   convolved 'valid' by TF, and scattered into a zero output. Work scales with the active tiles.
 *   A pointwise (1x1, stride 1, unpadded) conv uses single-pixel tiles: rows gathered, one matmul.
 * - dense: the whole delta (inactive pixels hold exact zeros) is convolved. Cheaper once most tiles
 *   are active, because gathering the patches and scattering the results cost memory passes that
 *   the dense convolution does not pay, and halos recompute input pixels.
 *
 * The output mask is the set of pixels whose receptive field holds an active in-bounds input pixel
 * (the reach). On these routes it is computed on the host from the input mask, read back once per call
 * (one byte a pixel; TF eager runs synchronously on tfjs-node, so the read waits for nothing but the
 * mask), and the same read decides the route. Neither route needs to zero the output outside the reach:
 * every input there is an exact zero, so the convolution gives zeros (+0 or -0) already.
 * Where tfjs-delta's native TF ops are built, depthwise convs, 1x1 convs and regular convs of fewer than
 * 8 input channels run on them instead, with no host read (nativeDepthwise, nativePointwise, nativeReachDense).
 * With a bias (first frame of a stream) the output is dense, as in the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {KernelConfig, Tensor, TensorInfo} from '@tensorflow/tfjs-core';

import {attachMask, maskShapeOf} from '../../ops/mask';
import {deltaConv2DInfo, isPointwise, reachOnHost} from '../conv_geometry';
import {tensorflowNativeOps, tensorflowNativeOpsUnavailableReason} from './native_ops';
import {ConvGeometry, explicitPads, NodeBackend, TfAttr, TfOps} from './tf_ops';

export type DeltaConvRoute = 'auto' | 'native' | 'tile' | 'dense';

export interface TensorflowDeltaConvOptions {
  /**
   * 'auto' runs depthwise and pointwise convs with a mask on tfjs-delta's native ops where they are built
   * (native_ops.ts), and picks between the TF-op routes per call from the active-tile fraction otherwise; the others
   * force a route (benchmarks, tests; 'native' throws where the ops are unavailable, and applies to convs with a mask
   * that are depthwise, pointwise or of fewer than 8 input channels only).
   */
  route: DeltaConvRoute;
  /** Output tile side; 0 picks it per layer (tileSideFor). */
  tile: number;
}

const options: TensorflowDeltaConvOptions = {route: 'auto', tile: 0};

/** The route the 'tensorflow' delta convs are set to take. */
export function tensorflowDeltaConvRoute(): DeltaConvRoute {
  return options.route;
}

/** Sets the 'tensorflow' delta conv routing; returns the previous options. */
export function setTensorflowDeltaConvOptions(next: Partial<TensorflowDeltaConvOptions>): TensorflowDeltaConvOptions {
  const previous = {...options};
  Object.assign(options, next);
  return previous;
}

/**
 * What the calls did, for benchmarks and tests: the last call's route, active tiles of all tiles
 * and tile side, and how many calls took each route since the counts were last zeroed.
 */
export const lastDeltaConvCall = {route: 'dense' as 'native' | 'tile' | 'dense', activeTiles: 0, tiles: 0, tile: 0};
export const deltaConvRouteCounts = {native: 0, tile: 0, dense: 0};

/**
 * The output tile side: a side that divides both output dimensions saves the crop of the scattered
 * output; smaller tiles follow the mask more closely but recompute relatively more halo.
 */
export function tileSideFor(outHeight: number, outWidth: number): number {
  for (const t of [8, 12, 6, 16, 4]) {
    if (outHeight % t === 0 && outWidth % t === 0) return t;
  }
  return 8;
}

/** Regular convs of fewer input channels run as TF's dense conv with the native reach (nativeReachDense). */
export const NATIVE_DENSE_BELOW_CHANNELS = 8;

/**
 * The active-tile fraction above which the dense route is faster, measured on tfjs-node (2-core CPU,
 * benchmarks/ops/delta_conv_tensorflow.ts, results in benchmarks/results/delta_conv_tensorflow_cpu-2core.json).
 * Gathering patches and scattering results are memory passes over input and output; they pay only
 * where the convolution does enough arithmetic per pixel. A 3x3 conv with 64 input channels was
 * faster on the tile route even with every tile active (TF convolves many small patches faster than
 * one large image here); depthwise 3x3 crossed at 0-0.48 (two runs, four shapes; the tile route
 * rarely pays for so little arithmetic), and a 3-channel first layer at 0.04-0.07 (without the native ops: with
 * them such a layer runs nativeReachDense).
 */
export function crossoverFor(depthwise: boolean, kernelArea: number, inChannels: number): number {
  if (depthwise) return 0.1;
  if (inChannels < 8) return 0.05;
  if (kernelArea === 1) return 0.2;
  return 0.9;
}

/**
 * The active-pixel fraction above which a pointwise conv takes the dense route (same benchmark):
 * the gather and the zero-filled scatter cost about what a narrow conv does, so the crossover grows
 * with the input channels; measured (two runs) 0.03-0.09 at 24, 0.12-0.25 at 96, 0.20-0.46 at 192 and
 * 0.27-0.59 at 384 channels.
 */
export function pixelCrossoverFor(inChannels: number): number {
  return Math.min(0.5, inChannels / 600);
}

/** The 'tensorflow' kernel of DeltaConv2D (depthwise = false) or DeltaDepthwiseConv2D. */
export function deltaConvConfig(kernelName: string, depthwise: boolean): KernelConfig {
  return {
    kernelName,
    backendName: 'tensorflow',
    kernelFunc: ({inputs, backend, attrs}) => {
      const {x, filter, bias} = inputs as {x: TensorInfo; filter: TensorInfo; bias?: TensorInfo};
      const info = deltaConv2DInfo(x, filter, attrs, depthwise);
      const g: ConvGeometry = {
        strides: [info.strideHeight, info.strideWidth],
        dilations: [info.dilationHeight, info.dilationWidth],
        pads: explicitPads(info),
      };
      const ops = new TfOps(backend as NodeBackend);
      const conv = (input: TensorInfo, geometry: ConvGeometry) => {
        const y = depthwise ? ops.depthwiseConv2d(input, filter, geometry) : ops.conv2d(input, filter, geometry);
        // tfjs sizes a numeric pad's output from the filter's height, stride and dilation in both dimensions, so with
        // a window that is not square TF's conv (explicit pads, no negative trailing pad) can give more columns or
        // rows than tfjs counts: those are cut off, as the reference never computes them.
        const [outH, outW] = [info.outHeight, info.outWidth];
        return geometry === g && (y.shape[1] !== outH || y.shape[2] !== outW)
          ? ops.slice(y, [0, 0, 0, 0], [info.batchSize, outH, outW, y.shape[3]!])
          : y;
      };
      return tf.tidy(() => {
        lastDeltaConvCall.route = 'dense';
        if (bias != null) return ops.biasAdd(conv(x, g), bias);
        const out = routed();
        deltaConvRouteCounts[lastDeltaConvCall.route]++;
        return out;
      });

      function routed(): Tensor {
        const mask = ops.boolMask(x);
        const pointwise = !depthwise && isPointwise(info);
        if (
          (depthwise || pointwise || info.inChannels < NATIVE_DENSE_BELOW_CHANNELS) &&
          mask != null &&
          nativeRoute(depthwise ? 'deltaDepthwiseConv2d' : 'deltaConv2d')
        ) {
          if (pointwise) return nativePointwise(ops, x, mask, filter, conv, g);
          lastDeltaConvCall.route = 'native';
          return depthwise
            ? nativeDepthwise(ops, x, mask, filter, info, g)
            : nativeReachDense(ops, x, mask, info, g, conv);
        }
        if (mask == null) {
          // A dense input still leaves output pixels that see only padding inactive.
          const active = reachOnHost(new Uint8Array(info.batchSize * info.inHeight * info.inWidth).fill(1), info);
          const out = conv(x, g);
          if (!pointwise && active.includes(0)) {
            attachMask(ops.backend, out, tf.tensor(active, [info.batchSize, info.outHeight, info.outWidth], 'bool'));
          }
          return out;
        }
        const flags = ops.backend.readSync(mask.dataId) as Uint8Array;
        if (pointwise) return pixelOrDense(ops, x, mask, flags, filter, conv, g);
        const active = reachOnHost(flags, info);
        const out =
          options.route === 'dense' || info.outHeight * info.outWidth === 0
            ? conv(x, g)
            : tileOrDense(ops, x, active, info, g, conv, depthwise);
        attachMask(ops.backend, out, tf.tensor(active, [info.batchSize, info.outHeight, info.outWidth], 'bool'));
        return out;
      }
    },
  };
}

/**
 * Whether a conv with a mask that the native ops take (depthwise, pointwise, or regular with fewer than 8 input
 * channels) takes them: where they are built, unless a TF-op route is forced ('native' forced where they are not
 * built is an error naming `op`).
 */
function nativeRoute(op: string): boolean {
  if (options.route !== 'native' && !(options.route === 'auto' && tensorflowNativeOps() != null)) return false;
  if (tensorflowNativeOps() == null)
    throw new Error(`${op}: the native route is unavailable: ${tensorflowNativeOpsUnavailableReason()}`);
  return true;
}

/**
 * The active pixels' rows of a pointwise conv's input (TfjsDeltaGatherRows: no host read, their count is the rows'
 * shape), or null, taking the dense route, when more of them are active than `crossover` of the pixels ('auto').
 */
export function gatherActiveRows(
  ops: TfOps,
  x: TensorInfo,
  mask: Tensor,
  crossover: number,
): {rows: Tensor; index: Tensor} | null {
  const [rows, index] = ops.backend.executeMultipleOutputs('TfjsDeltaGatherRows', [], [x, mask], 2);
  const n = rows.shape[0];
  Object.assign(lastDeltaConvCall, {activeTiles: n, tiles: mask.size, tile: 1});
  if (options.route === 'auto' && n > crossover * mask.size) {
    lastDeltaConvCall.route = 'dense';
    return null;
  }
  lastDeltaConvCall.route = 'native';
  return {rows, index};
}

/**
 * The active-pixel fraction above which a pointwise conv takes the dense route with the native ops (TfjsDeltaGatherRows
 * and TfjsDeltaScatterRows around TF's MatMul), measured on tfjs-node (2-core CPU,
 * benchmarks/ops/delta_conv_tensorflow.ts): about 0.15-0.2 at 24 input channels, 0.45 at 96, 0.65-0.7 at 192, and
 * 1 at 384, where the rows alone cost what the dense op does. The fixed part is the zero-filled output.
 */
export function nativePixelCrossoverFor(inChannels: number): number {
  return Math.min(0.9, 0.1 + inChannels / 320);
}

/** A pointwise conv on its active rows only: gathered, multiplied by the filter, put back in a zero output. */
function nativePointwise(
  ops: TfOps,
  x: TensorInfo,
  mask: Tensor,
  filter: TensorInfo,
  conv: (input: TensorInfo, geometry: ConvGeometry) => Tensor,
  g: ConvGeometry,
): Tensor {
  const [inC, outC] = [filter.shape[2], filter.shape[3]];
  const active = gatherActiveRows(ops, x, mask, nativePixelCrossoverFor(inC));
  const out =
    active == null
      ? conv(x, g)
      : ops.backend.executeSingleOutput(
          'TfjsDeltaScatterRows',
          [],
          [ops.matMul(active.rows, ops.reshape(filter, [inC, outC])), active.index, mask],
        );
  // A zero input pixel gives a zero output pixel through a 1x1 conv: the output mask is the input's.
  attachMask(ops.backend, out, ops.reshape(mask, maskShapeOf(out.shape)));
  return out;
}

/**
 * tfjs-delta's TfjsDeltaDepthwiseConv2D (native/tensorflow/depthwise_conv.cc): each output pixel whose window holds
 * an active input pixel, from those inputs, and its mask (the reach), with no host read.
 */
function nativeDepthwise(
  ops: TfOps,
  x: TensorInfo,
  mask: Tensor,
  filter: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  g: ConvGeometry,
): Tensor {
  const [y, reach] = ops.backend.executeMultipleOutputs(
    'TfjsDeltaDepthwiseConv2D',
    windowAttrs(ops, info, g),
    [x, mask, filter],
    2,
  );
  attachMask(ops.backend, y, reach);
  return y;
}

/** The window attributes of the native conv ops (native/tensorflow/conv_window.h). */
function windowAttrs(ops: TfOps, info: tf.backend_util.Conv2DInfo, g: ConvGeometry): TfAttr[] {
  return [
    ops.int('stride_h', g.strides[0]),
    ops.int('stride_w', g.strides[1]),
    ops.int('dilation_h', g.dilations[0]),
    ops.int('dilation_w', g.dilations[1]),
    ops.int('pad_top', g.pads[0][0]),
    ops.int('pad_left', g.pads[1][0]),
    ops.int('out_height', info.outHeight),
    ops.int('out_width', info.outWidth),
  ];
}

/**
 * A regular conv of few input channels (a network's first layer) with the native ops: TF's conv of the whole delta
 * (its inactive pixels are zeros, so the output is zero outside the reach) and the reach from TfjsDeltaConvReach,
 * with no host read. Gathering tiles pays for so few channels only below ~5% of the tiles active
 * (crossoverFor), and reading the mask and computing the reach on the host cost about what TF's conv of the frame
 * does (576x768, 3 -> 32 channels, stride 2: 2.7-3.8 ms against 2.9-4.5 with the host's reach,
 * benchmarks/ops/delta_conv_tensorflow.ts).
 */
function nativeReachDense(
  ops: TfOps,
  x: TensorInfo,
  mask: Tensor,
  info: tf.backend_util.Conv2DInfo,
  g: ConvGeometry,
  conv: (input: TensorInfo, geometry: ConvGeometry) => Tensor,
): Tensor {
  const out = conv(x, g);
  const reach = ops.backend.executeSingleOutput(
    'TfjsDeltaConvReach',
    [...windowAttrs(ops, info, g), ops.int('kernel_h', info.filterHeight), ops.int('kernel_w', info.filterWidth)],
    [mask],
  );
  attachMask(ops.backend, out, reach);
  return out;
}

/**
 * A 1x1 stride-1 unpadded conv reaches no neighbour, so its tiles can be single pixels: the active
 * pixels' rows are gathered, multiplied by the filter and scattered back, and the output mask is the
 * input mask. Activity after a thresholded accumulate is scattered pixel by pixel, which leaves few
 * whole tiles inactive but many pixels. The host read is the input mask itself (one byte a pixel).
 */
function pixelOrDense(
  ops: TfOps,
  x: TensorInfo,
  mask: Tensor,
  flags: Uint8Array,
  filter: TensorInfo,
  conv: (input: TensorInfo, geometry: ConvGeometry) => Tensor,
  g: ConvGeometry,
): Tensor {
  const [batch, h, w, inC] = x.shape;
  const outC = filter.shape[3];
  let n = 0;
  for (let i = 0; i < flags.length; i++) if (flags[i]) n++;
  Object.assign(lastDeltaConvCall, {activeTiles: n, tiles: flags.length, tile: 1});
  let out: Tensor;
  if (options.route === 'dense' || (options.route === 'auto' && n > pixelCrossoverFor(inC) * flags.length)) {
    out = conv(x, g);
  } else {
    lastDeltaConvCall.route = 'tile';
    if (n === 0) {
      out = ops.fill([batch, h, w, outC], 0);
    } else {
      const at = new Int32Array(n);
      for (let i = 0, j = 0; i < flags.length; i++) if (flags[i]) at[j++] = i;
      const rows = ops.gather(ops.reshape(x, [flags.length, inC]), tf.tensor1d(at, 'int32'));
      const product = ops.matMul(rows, ops.reshape(filter, [inC, outC]));
      out = ops.reshape(ops.scatterNd(tf.tensor2d(at, [n, 1], 'int32'), product, [flags.length, outC]), [
        batch,
        h,
        w,
        outC,
      ]);
    }
  }
  // A zero input pixel gives a zero output pixel through a 1x1 conv, so no select is needed.
  attachMask(ops.backend, out, ops.reshape(mask, maskShapeOf(out.shape)));
  return out;
}

/** The tile route, or the dense one when too many tiles are active; the caller attaches the mask. */
function tileOrDense(
  ops: TfOps,
  x: TensorInfo,
  active: Uint8Array,
  info: tf.backend_util.Conv2DInfo,
  g: ConvGeometry,
  conv: (input: TensorInfo, geometry: ConvGeometry) => Tensor,
  depthwise: boolean,
): Tensor {
  const [batch, , , inC] = x.shape;
  const {outHeight: outH, outWidth: outW} = info;
  const t = options.tile > 0 ? options.tile : tileSideFor(outH, outW);
  const [tilesY, tilesX] = [Math.ceil(outH / t), Math.ceil(outW / t)];
  const [tiledH, tiledW] = [tilesY * t, tilesX * t];
  const tileCount = batch * tilesY * tilesX;
  const flags = new Uint8Array(tileCount);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const row = (b * outH + oy) * outW;
      const tileRow = (b * tilesY + Math.floor(oy / t)) * tilesX;
      for (let ox = 0; ox < outW; ox++) if (active[row + ox]) flags[tileRow + Math.floor(ox / t)] = 1;
    }
  }
  const tiles: number[] = [];
  for (let i = 0; i < tileCount; i++) if (flags[i]) tiles.push(i);
  const n = tiles.length;
  const [sy, sx] = g.strides;
  const patchH = (t - 1) * sy + info.effectiveFilterHeight;
  const patchW = (t - 1) * sx + info.effectiveFilterWidth;
  Object.assign(lastDeltaConvCall, {activeTiles: n, tiles: tileCount, tile: t});
  if (
    options.route === 'auto' &&
    n > crossoverFor(depthwise, info.filterHeight * info.filterWidth, info.inChannels) * tileCount
  ) {
    return conv(x, g);
  }
  lastDeltaConvCall.route = 'tile';
  const outC = info.outChannels;
  if (n === 0) return ops.fill([batch, outH, outW, outC], 0);
  // The input padded so that every tile's patch lies inside it, rows and columns beyond the last
  // patch cropped.
  const paddedH = (tilesY * t - 1) * sy + info.effectiveFilterHeight;
  const paddedW = (tilesX * t - 1) * sx + info.effectiveFilterWidth;
  const padded = ops.window(x, [0, -g.pads[0][0], -g.pads[1][0], 0], [batch, paddedH, paddedW, inC]);
  const gatherAt = new Int32Array(n * patchH * patchW);
  const scatterAt = new Int32Array(n * t * t);
  let gi = 0;
  let si = 0;
  for (const tile of tiles) {
    const b = Math.floor(tile / (tilesY * tilesX));
    const ty = Math.floor(tile / tilesX) % tilesY;
    const tx = tile % tilesX;
    const inBase = (b * paddedH + ty * t * sy) * paddedW + tx * t * sx;
    for (let i = 0; i < patchH; i++) {
      for (let j = 0; j < patchW; j++) gatherAt[gi++] = inBase + i * paddedW + j;
    }
    const outBase = (b * tiledH + ty * t) * tiledW + tx * t;
    for (let i = 0; i < t; i++) {
      for (let j = 0; j < t; j++) scatterAt[si++] = outBase + i * tiledW + j;
    }
  }
  const flat = ops.reshape(padded, [batch * paddedH * paddedW, inC]);
  const patches = ops.reshape(ops.gather(flat, tf.tensor1d(gatherAt, 'int32')), [n, patchH, patchW, inC]);
  const tileOut = conv(patches, {
    strides: g.strides,
    dilations: g.dilations,
    pads: [
      [0, 0],
      [0, 0],
    ],
  });
  const scattered = ops.scatterNd(
    tf.tensor2d(scatterAt, [n * t * t, 1], 'int32'),
    ops.reshape(tileOut, [n * t * t, outC]),
    [batch * tiledH * tiledW, outC],
  );
  const full = ops.reshape(scattered, [batch, tiledH, tiledW, outC]);
  return tiledH === outH && tiledW === outW ? full : ops.slice(full, [0, 0, 0, 0], [batch, outH, outW, outC]);
}
