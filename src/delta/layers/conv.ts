/**
 * Delta twins of the weighted layers: conv2d, depthwiseConv2d, separableConv2d, conv2dTranspose
 * and dense. Each computes the linear map of the frame's delta (bias only on a stream's first
 * frame) and then its activation (activated.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor1D, Tensor2D, Tensor4D} from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type {LayerVariable} from '@tensorflow/tfjs-layers';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';

import {dilatedDepthwiseOutputShape} from '../../layers/fused_layers';
import {deltaConv2d} from '../../ops/delta_conv2d';
import {deltaConv2dTranspose} from '../../ops/delta_conv2d_transpose';
import {deltaDense} from '../../ops/delta_dense';
import {deltaDepthwiseConv2d} from '../../ops/delta_depthwise_conv2d';
import {fusedDeltaConv2d} from '../../ops/fused_delta_conv2d';
import {fusedDeltaDepthwiseConv2d} from '../../ops/fused_delta_depthwise_conv2d';
import {reachOnHost} from '../../kernels/conv_geometry';
import {hostBackend, maskOf} from '../../ops/mask';
import {applyFusedActivation} from './activation_state';
import {activatedMixin} from './activated';
import {layerClass, pair, product, requireChannelsLast} from './base';
import type {MaskReach} from './base';

type Pad = 'same' | 'valid';

/** The fields the tf.layers convolutions share (tfjs-layers types them on classes it does not export). */
interface ConvFields {
  name: string;
  bias: LayerVariable | null;
  strides: number[];
  padding: string;
  dilationRate?: number | number[];
  dataFormat: string;
  kernelSize: number[];
  getClassName(): string;
}

function padOf(layer: ConvFields): Pad {
  if (layer.padding !== 'same' && layer.padding !== 'valid') {
    throw new Error(
      `tfjs-delta: layer '${layer.name}' (${layer.getClassName()}) has padding '${layer.padding}'; ` +
        `delta layers support 'same' and 'valid'`,
    );
  }
  return layer.padding;
}

/** The bias to add to this frame: on a stream's first frame only. */
function biasOnce(layer: ConvFields, first: boolean): Tensor1D | undefined {
  return first && layer.bias != null ? (layer.bias.read() as Tensor1D) : undefined;
}

/**
 * The output pixels a conv computes on this frame: those whose window holds an active input pixel (null: every
 * pixel, for a dense input). A conv whose own activation truncates sends only some of them on, so its output mask
 * under-counts its work.
 */
function reachOf(layer: ConvFields, x: Tensor): Tensor | null {
  const mask = maskOf(x);
  if (mask == null) return null;
  const [kh, kw] = pair(layer.kernelSize);
  if (hostBackend()) {
    // One read of the mask and two passes over its bytes, where a one-channel pool is slow (TF compares scalar by
    // scalar: several ms a layer on tfjs-node).
    // As the pools below: a strided dilated conv's window is its whole dilated extent (computedReach counts so too).
    const [n, h, w, c] = x.shape;
    const [dh, dw] = pair(layer.dilationRate ?? 1);
    const strided = pair(layer.strides).some((st) => st > 1);
    const info = strided
      ? tf.backend_util.computeConv2DInfo(
          [n, h, w, c],
          [(kh - 1) * dh + 1, (kw - 1) * dw + 1, c, 1],
          pair(layer.strides),
          1,
          padOf(layer),
        )
      : tf.backend_util.computeConv2DInfo([n, h, w, c], [kh, kw, c, 1], 1, [dh, dw], padOf(layer));
    const reach = reachOnHost(mask.dataSync() as Uint8Array, info);
    return tf.tensor3d(reach, [info.batchSize, info.outHeight, info.outWidth], 'bool');
  }
  const window = tf.expandDims(tf.cast(mask, 'float32'), -1) as Tensor4D;
  const dilations = pair(layer.dilationRate ?? 1);
  // tf.pool takes a dilation or a stride above 1, not both; a strided dilated conv's window spans the dilated extent.
  const strided = pair(layer.strides).some((s) => s > 1);
  const reach = strided
    ? tf.maxPool(
        window,
        [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1],
        layer.strides as [number, number],
        padOf(layer),
      )
    : tf.pool(window, [kh, kw], 'max', padOf(layer), dilations, 1);
  return tf.greater(tf.squeeze(reach, [3]), 0); // bool, as masks are
}

/**
 * The pixels reachOf marks, as x's mask and the window reachOf pools with (for a count on the device): the dilated
 * taps at stride 1, the dilated extent when strided.
 */
function reachWindowOf(layer: ConvFields, x: Tensor): MaskReach | null {
  const mask = maskOf(x);
  if (mask == null) return null;
  const [n, h, w] = mask.shape;
  const [kh, kw] = pair(layer.kernelSize);
  const [dh, dw] = pair(layer.dilationRate ?? 1);
  const [sh, sw] = pair(layer.strides);
  const strided = sh > 1 || sw > 1;
  const window: [number, number] = strided ? [(kh - 1) * dh + 1, (kw - 1) * dw + 1] : [kh, kw];
  const dilations: [number, number] = strided ? [1, 1] : [dh, dw];
  const info = tf.backend_util.computeConv2DInfo(
    [n, h, w, 1],
    [window[0], window[1], 1, 1],
    [sh, sw],
    dilations,
    padOf(layer),
  );
  const {top, left} = info.padInfo;
  return {mask, window: [n, h, w, info.outHeight, info.outWidth, ...window, sh, sw, top, left, ...dilations]};
}

type DeltaConvOp = typeof deltaConv2d; // deltaDepthwiseConv2d takes the same arguments

/** `op` (a delta convolution) of this frame's delta with `kernel`, with the layer's geometry. */
function convolve(layer: ConvFields, op: DeltaConvOp, x: Tensor, kernel: LayerVariable, bias?: Tensor1D): Tensor4D {
  requireChannelsLast(layer as unknown as tfl.layers.Layer, layer.dataFormat);
  return op(
    x as Tensor4D,
    kernel.read() as Tensor4D,
    pair(layer.strides),
    padOf(layer),
    'NHWC',
    pair(layer.dilationRate ?? 1),
    undefined,
    bias,
  );
}

const fields = (layer: object) => layer as unknown as ConvFields;

type FusedConvOp = typeof fusedDeltaConv2d; // fusedDeltaDepthwiseConv2d takes the same arguments
type ActivatedConv = InstanceType<ReturnType<typeof activatedMixin>>;

/**
 * The layer's conv and its truncating activation as one fused op (after a stream's first frame), or null when the
 * activation does not fuse (applyFusedActivation).
 */
function fuseAccumulator(layer: ActivatedConv, op: FusedConvOp, x: Tensor, kernel: LayerVariable): Tensor | null {
  const conv = fields(layer);
  return applyFusedActivation(
    layer.stream,
    layer.deltaActivation(),
    layer.absoluteThreshold(),
    layer.flushAbove,
    (a, r, config) => {
      requireChannelsLast(layer, conv.dataFormat);
      return op({
        x: x as Tensor4D,
        filter: kernel.read() as Tensor4D,
        strides: pair(conv.strides),
        pad: padOf(conv),
        dilations: pair(conv.dilationRate ?? 1),
        accumulated: a as Tensor4D,
        residual: r as Tensor4D,
        ...config,
      });
    },
    layer.statePrecision,
  );
}

export class DeltaConv2D extends activatedMixin(layerClass('Conv2D'), 'Conv2D') {
  static override className = 'DeltaConv2D';
  declare kernel: LayerVariable;

  override computedMask([x]: Tensor[]): Tensor | null | undefined {
    return this.truncatesNow() ? reachOf(fields(this), x) : undefined;
  }

  override computedReach([x]: Tensor[]): MaskReach | null | undefined {
    return this.truncatesNow() ? reachWindowOf(fields(this), x) : undefined;
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const fused = first ? null : fuseAccumulator(this, fusedDeltaConv2d, x, this.kernel);
    if (fused != null) return fused;
    return this.activate(
      convolve(fields(this), deltaConv2d, x, this.kernel, biasOnce(fields(this), first)),
      first,
      true,
    );
  }

  override macsPerFrame(inShape: number[], outShape: number[]): number {
    return product(outShape.slice(0, -1)) * product(fields(this).kernelSize) * inShape[3] * outShape[3];
  }
}

export class DeltaDepthwiseConv2D extends activatedMixin(layerClass('DepthwiseConv2D'), 'DepthwiseConv2D') {
  static override className = 'DeltaDepthwiseConv2D';
  declare depthwiseKernel: LayerVariable;

  override computedMask([x]: Tensor[]): Tensor | null | undefined {
    return this.truncatesNow() ? reachOf(fields(this), x) : undefined;
  }

  override computedReach([x]: Tensor[]): MaskReach | null | undefined {
    return this.truncatesNow() ? reachWindowOf(fields(this), x) : undefined;
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const layer = fields(this);
    const fused = first ? null : fuseAccumulator(this, fusedDeltaDepthwiseConv2d, x, this.depthwiseKernel);
    if (fused != null) return fused;
    const y = convolve(layer, deltaDepthwiseConv2d, x, this.depthwiseKernel, biasOnce(layer, first));
    return this.activate(y, first, true);
  }

  override macsPerFrame(_inShape: number[], outShape: number[]): number {
    return product(outShape) * product(fields(this).kernelSize);
  }

  // The delta ops dilate; tfjs-layers' DepthwiseConv2D leaves the dilation out of its output shape.
  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return dilatedDepthwiseOutputShape(this, inputShape, super.computeOutputShape(inputShape) as Shape);
  }
}

export class DeltaSeparableConv2D extends activatedMixin(layerClass('SeparableConv2D'), 'SeparableConv2D') {
  static override className = 'DeltaSeparableConv2D';
  declare depthwiseKernel: LayerVariable;
  declare pointwiseKernel: LayerVariable;
  declare depthMultiplier: number;

  override computedMask([x]: Tensor[]): Tensor | null | undefined {
    return this.truncatesNow() ? reachOf(fields(this), x) : undefined;
  }

  override computedReach([x]: Tensor[]): MaskReach | null | undefined {
    return this.truncatesNow() ? reachWindowOf(fields(this), x) : undefined;
  }

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const depthwise = convolve(fields(this), deltaDepthwiseConv2d, x, this.depthwiseKernel);
    const y = deltaConv2d(
      depthwise,
      this.pointwiseKernel.read() as Tensor4D,
      1,
      'valid',
      'NHWC',
      1,
      undefined,
      biasOnce(fields(this), first),
    );
    return this.activate(y, first, true);
  }

  /** tfjs-layers 4.22's SeparableConv2D leaves depthMultiplier out of its config; keep it. */
  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), depthMultiplier: this.depthMultiplier};
  }

  override macsPerFrame(_inShape: number[], outShape: number[]): number {
    const [kh, kw, cin, multiplier] = this.depthwiseKernel.shape as number[];
    return product(outShape.slice(0, -1)) * cin * multiplier * (kh * kw + outShape[3]);
  }
}

export class DeltaConv2DTranspose extends activatedMixin(layerClass('Conv2DTranspose'), 'Conv2DTranspose') {
  static override className = 'DeltaConv2DTranspose';
  declare kernel: LayerVariable;

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const layer = fields(this);
    requireChannelsLast(this, layer.dataFormat);
    const outputShape = this.computeOutputShape(x.shape) as [number, number, number, number];
    const y = deltaConv2dTranspose(
      x as Tensor4D,
      this.kernel.read() as Tensor4D,
      outputShape,
      pair(layer.strides),
      padOf(layer),
      undefined,
      biasOnce(layer, first),
    );
    return this.activate(y, first, true);
  }

  override macsPerFrame(inShape: number[], outShape: number[]): number {
    return product(inShape) * product(fields(this).kernelSize) * outShape[3];
  }
}

export class DeltaDense extends activatedMixin(layerClass('Dense'), 'Dense') {
  static override className = 'DeltaDense';
  declare kernel: LayerVariable;

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    return this.activate(deltaDense(x, this.kernel.read() as Tensor2D, biasOnce(fields(this), first)), first, true);
  }

  override macsPerFrame(inShape: number[], outShape: number[]): number {
    return product(inShape) * outShape[outShape.length - 1];
  }
}
