/**
 * Delta twins of the weighted layers: conv2d, depthwiseConv2d, separableConv2d, conv2dTranspose
 * and dense. Each computes the linear map of the frame's delta (bias only on a stream's first
 * frame) and then its activation (activated.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type {Tensor, Tensor1D, Tensor2D, Tensor4D} from '@tensorflow/tfjs-core';
import type {LayerVariable} from '@tensorflow/tfjs-layers';

import {deltaConv2d} from '../../ops/delta_conv2d';
import {deltaConv2dTranspose} from '../../ops/delta_conv2d_transpose';
import {deltaDense} from '../../ops/delta_dense';
import {deltaDepthwiseConv2d} from '../../ops/delta_depthwise_conv2d';
import {activatedMixin} from './activated';
import {layerClass, pair, product, requireChannelsLast} from './base';

type Pad = 'same'|'valid';

function padOf(layer: {name: string, getClassName(): string}, padding: string): Pad {
  if (padding !== 'same' && padding !== 'valid') {
    throw new Error(`tfjs-delta: layer '${layer.name}' (${layer.getClassName()}) has padding '${padding}'; ` +
        `delta layers support 'same' and 'valid'`);
  }
  return padding;
}

export class DeltaConv2D extends activatedMixin(layerClass('Conv2D'), 'Conv2D') {
  static override className = 'DeltaConv2D';
  declare kernel: LayerVariable;
  declare bias: LayerVariable|null;
  declare strides: number[];
  declare padding: string;
  declare dilationRate: number|number[];
  declare dataFormat: string;
  declare kernelSize: number[];

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    requireChannelsLast(this, this.dataFormat);
    const bias = first && this.bias != null ? this.bias.read() as Tensor1D : undefined;
    const y = deltaConv2d(x as Tensor4D, this.kernel.read() as Tensor4D, pair(this.strides), padOf(this, this.padding),
        'NHWC', pair(this.dilationRate), undefined, bias);
    return this.activate(y, first);
  }

  override macsPerFrame(inShape: number[], outShape: number[]): number {
    return product(outShape.slice(0, -1)) * product(this.kernelSize) * inShape[3] * outShape[3];
  }
}

export class DeltaDepthwiseConv2D extends activatedMixin(layerClass('DepthwiseConv2D'), 'DepthwiseConv2D') {
  static override className = 'DeltaDepthwiseConv2D';
  declare depthwiseKernel: LayerVariable;
  declare bias: LayerVariable|null;
  declare strides: number[];
  declare padding: string;
  declare dilationRate: number|number[];
  declare dataFormat: string;
  declare kernelSize: number[];

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    requireChannelsLast(this, this.dataFormat);
    const bias = first && this.bias != null ? this.bias.read() as Tensor1D : undefined;
    const y = deltaDepthwiseConv2d(x as Tensor4D, this.depthwiseKernel.read() as Tensor4D, pair(this.strides),
        padOf(this, this.padding), 'NHWC', pair(this.dilationRate), undefined, bias);
    return this.activate(y, first);
  }

  override macsPerFrame(_inShape: number[], outShape: number[]): number {
    return product(outShape) * product(this.kernelSize);
  }
}

export class DeltaSeparableConv2D extends activatedMixin(layerClass('SeparableConv2D'), 'SeparableConv2D') {
  static override className = 'DeltaSeparableConv2D';
  declare depthwiseKernel: LayerVariable;
  declare pointwiseKernel: LayerVariable;
  declare bias: LayerVariable|null;
  declare strides: number[];
  declare padding: string;
  declare dilationRate: number|number[];
  declare dataFormat: string;
  declare kernelSize: number[];

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    requireChannelsLast(this, this.dataFormat);
    const depthwise = deltaDepthwiseConv2d(x as Tensor4D, this.depthwiseKernel.read() as Tensor4D, pair(this.strides),
        padOf(this, this.padding), 'NHWC', pair(this.dilationRate));
    const bias = first && this.bias != null ? this.bias.read() as Tensor1D : undefined;
    const y = deltaConv2d(depthwise, this.pointwiseKernel.read() as Tensor4D, 1, 'valid', 'NHWC', 1, undefined, bias);
    return this.activate(y, first);
  }

  /** tfjs-layers 4.22's SeparableConv2D leaves depthMultiplier out of its config; keep it. */
  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), depthMultiplier: (this as unknown as {depthMultiplier: number}).depthMultiplier};
  }

  override macsPerFrame(_inShape: number[], outShape: number[]): number {
    const [kh, kw, cin, multiplier] = this.depthwiseKernel.shape as number[];
    return product(outShape.slice(0, -1)) * cin * multiplier * (kh * kw + outShape[3]);
  }
}

export class DeltaConv2DTranspose extends activatedMixin(layerClass('Conv2DTranspose'), 'Conv2DTranspose') {
  static override className = 'DeltaConv2DTranspose';
  declare kernel: LayerVariable;
  declare bias: LayerVariable|null;
  declare strides: number[];
  declare padding: string;
  declare dataFormat: string;
  declare kernelSize: number[];

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    requireChannelsLast(this, this.dataFormat);
    const outputShape = this.computeOutputShape(x.shape) as [number, number, number, number];
    const bias = first && this.bias != null ? this.bias.read() as Tensor1D : undefined;
    const y = deltaConv2dTranspose(x as Tensor4D, this.kernel.read() as Tensor4D, outputShape, pair(this.strides),
        padOf(this, this.padding), undefined, bias);
    return this.activate(y, first);
  }

  override macsPerFrame(inShape: number[], outShape: number[]): number {
    return product(inShape) * product(this.kernelSize) * outShape[3];
  }
}

export class DeltaDense extends activatedMixin(layerClass('Dense'), 'Dense') {
  static override className = 'DeltaDense';
  declare kernel: LayerVariable;
  declare bias: LayerVariable|null;

  override deltaCall([x]: Tensor[], first: boolean): Tensor {
    const bias = first && this.bias != null ? this.bias.read() as Tensor1D : undefined;
    return this.activate(deltaDense(x, this.kernel.read() as Tensor2D, bias), first);
  }

  override macsPerFrame(inShape: number[], outShape: number[]): number {
    return product(inShape) * outShape[outShape.length - 1];
  }
}
