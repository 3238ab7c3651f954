/**
 * Conv3DGated: a tfjs layer around the conv3dGated op (conv3d or transposed conv3d + bias + SE
 * gate + activation), with explicit PyTorch-style padding. FLAVR's encoder blocks (conv2 + fg)
 * and decoder blocks (Conv_3d / upConv3D) are each one of these.
 *
 * Weights: kernel [kd, kh, kw, in, filters] ([kd, kh, kw, filters, in] when transposed, as
 * tf.conv3dTranspose), bias [filters] (if useBias), gateKernel [filters, filters] (in x out),
 * gateBias [filters].
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';

import {conv3dGated} from '../../ops/conv3d_gated';
import type {Activation} from '../../ops/validation';

type Triple = [number, number, number];
type Pairs3 = [[number, number], [number, number], [number, number]];

export type Padding3D = 'same' | 'valid' | number | Pairs3;

export interface Conv3DGatedLayerArgs extends LayerArgs {
  filters: number;
  kernelSize: number | Triple;
  strides?: number | Triple;
  /** 'same' | 'valid' | a number (every side) | [[front, back], [top, bottom], [left, right]]. */
  padding?: Padding3D;
  transpose?: boolean;
  useBias?: boolean;
  activation?: Activation;
  /** leakyRelu slope (default 0.2, FLAVR's). */
  alpha?: number;
  /** Initializer of kernel and gateKernel: 'glorotUniform' (default) or 'zeros' (fast, for weights loaded next). */
  kernelInitializer?: 'glorotUniform' | 'zeros';
}

function triple(v: number | Triple): Triple {
  return typeof v === 'number' ? [v, v, v] : [v[0], v[1], v[2]];
}

function pairs(p: number | Pairs3): Pairs3 {
  return typeof p === 'number'
    ? [
        [p, p],
        [p, p],
        [p, p],
      ]
    : ([[...p[0]], [...p[1]], [...p[2]]] as Pairs3);
}

function firstTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

export class Conv3DGatedLayer extends tfl.layers.Layer {
  static readonly className = 'Conv3DGated';
  readonly filters: number;
  readonly kernelSize: Triple;
  readonly strides: Triple;
  readonly padding: Padding3D;
  readonly transpose: boolean;
  readonly useBias: boolean;
  readonly activation: Activation;
  readonly alpha: number;
  readonly kernelInitializer: 'glorotUniform' | 'zeros';
  private kernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;
  private gateKernel: tfl.LayerVariable | null = null;
  private gateBias: tfl.LayerVariable | null = null;

  constructor(args: Conv3DGatedLayerArgs) {
    super(args);
    if (!(Number.isInteger(args.filters) && args.filters > 0)) {
      throw new Error(`Conv3DGated: filters must be a positive integer, got ${args.filters}`);
    }
    this.filters = args.filters;
    this.kernelSize = triple(args.kernelSize);
    this.strides = triple(args.strides ?? 1);
    this.padding = typeof args.padding === 'object' ? pairs(args.padding) : (args.padding ?? 'same');
    this.transpose = args.transpose ?? false;
    this.useBias = args.useBias ?? true;
    this.activation = args.activation ?? 'linear';
    this.alpha = args.alpha ?? 0.2;
    this.kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const inChannels = shape[shape.length - 1];
    if (shape.length !== 5 || inChannels == null) {
      throw new Error(`Conv3DGated '${this.name}': expects NDHWC input with known channels, got [${shape}]`);
    }
    const [kd, kh, kw] = this.kernelSize;
    const kernelShape = this.transpose
      ? [kd, kh, kw, this.filters, inChannels]
      : [kd, kh, kw, inChannels, this.filters];
    const f = this.filters;
    const init = () =>
      this.kernelInitializer === 'zeros' ? tfl.initializers.zeros() : tfl.initializers.glorotUniform({});
    this.kernel = this.addWeight('kernel', kernelShape, 'float32', init());
    if (this.useBias) this.bias = this.addWeight('bias', [f], 'float32', tfl.initializers.zeros());
    this.gateKernel = this.addWeight('gateKernel', [f, f], 'float32', init());
    this.gateBias = this.addWeight('gateBias', [f], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  private explicitPad(): Pairs3 | null {
    return typeof this.padding === 'string' ? null : pairs(this.padding);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const pad = this.explicitPad();
    const out = [1, 2, 3].map((axis) => {
      const n = shape[axis];
      if (n == null) return null;
      const [k, s] = [this.kernelSize[axis - 1], this.strides[axis - 1]];
      if (this.transpose) {
        if (pad != null) return (n - 1) * s + k - pad[axis - 1][0] - pad[axis - 1][1];
        return this.padding === 'same' ? n * s : (n - 1) * s + k;
      }
      if (pad != null) return Math.floor((n + pad[axis - 1][0] + pad[axis - 1][1] - k) / s) + 1;
      return this.padding === 'same' ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
    });
    return [shape[0], out[0], out[1], out[2], this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstTensor(inputs) as tf.Tensor5D;
      const pad = this.explicitPad();
      return conv3dGated({
        x,
        filter: this.kernel!.read() as tf.Tensor5D,
        bias: this.bias?.read(),
        gateKernel: this.gateKernel!.read(),
        gateBias: this.gateBias!.read(),
        strides: this.strides,
        pad: pad == null ? (this.padding as 'same' | 'valid') : [[0, 0], pad[0], pad[1], pad[2], [0, 0]],
        transpose: this.transpose,
        activation: this.activation,
        alpha: this.alpha,
      });
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding as tf.serialization.ConfigDictValue,
      transpose: this.transpose,
      useBias: this.useBias,
      activation: this.activation,
      alpha: this.alpha,
      kernelInitializer: this.kernelInitializer,
    };
  }
}

tf.serialization.registerClass(Conv3DGatedLayer);

export function conv3dGatedLayer(args: Conv3DGatedLayerArgs): Conv3DGatedLayer {
  return new Conv3DGatedLayer(args);
}
