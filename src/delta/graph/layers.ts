/**
 * The few layers fromGraphModel needs where tf.layers has none: arithmetic with a constant tensor
 * (a graph's BiasAdd / Add / Sub / Mul / RealDiv by a Const, which tf.layers.rescaling covers only for
 * scalars), zero padding of the channel axis (BlazeFace widens its residual branches that way), and
 * image resizing to a fixed size with TF's alignCorners / halfPixelCenters conventions
 * (tf.layers.upSampling2d and tf.layers.resizing each hard-wire one convention). Each computes exactly
 * what the graph op does with the same tfjs op, saves its configuration and constants like any layer,
 * and is registered for (de)serialization; delta twins in ../layers/graph_ops.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerVariable} from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';

type Shape = Array<number | null>;

function one(inputs: Tensor | Tensor[]): Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

function oneShape(shape: tfl.Shape | tfl.Shape[]): Shape {
  return (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
}

/** `c OP x` or `x OP c` with a constant c; 'rsub' is c - x. */
export type ConstantOpKind = 'add' | 'sub' | 'rsub' | 'mul' | 'div';
const CONSTANT_OPS: ConstantOpKind[] = ['add', 'sub', 'rsub', 'mul', 'div'];

export interface ConstantOpArgs extends LayerArgs {
  op: ConstantOpKind;
  /**
   * Shape of the constant, broadcast against the input without its batch axis (right-aligned, as
   * tfjs broadcasts); it may not enlarge the input. Its values are the layer's one weight.
   */
  constantShape: number[];
}

/** x + c, x - c, c - x, x * c or x / c with a constant c (a non-trainable weight). */
export class ConstantOp extends tfl.layers.Layer {
  static className = 'ConstantOp';
  readonly op: ConstantOpKind;
  readonly constantShape: number[];
  constant: LayerVariable | null = null;

  constructor(args: ConstantOpArgs) {
    super(args);
    if (!CONSTANT_OPS.includes(args.op)) {
      throw new Error(
        `ConstantOp: argument 'op' must be one of ${CONSTANT_OPS.join(', ')}, got ${JSON.stringify(args.op)}`,
      );
    }
    if (!Array.isArray(args.constantShape) || !args.constantShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(
        `ConstantOp: argument 'constantShape' must be positive integers, got ${JSON.stringify(args.constantShape)}`,
      );
    }
    this.op = args.op;
    this.constantShape = [...args.constantShape];
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = oneShape(inputShape).slice(1);
    const c = this.constantShape;
    const fits = c.length <= shape.length && c.every((d, i) => d === 1 || d === shape[shape.length - c.length + i]);
    if (!fits) {
      throw new Error(
        `ConstantOp '${this.name}': a constant of shape [${c}] does not broadcast to the input ` +
          `[${shape.map((d) => d ?? '?')}] (batch axis left out) without enlarging it`,
      );
    }
    this.constant = this.addWeight('constant', c, 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const x = one(inputs);
      const c = this.constant!.read();
      switch (this.op) {
        case 'add':
          return tf.add(x, c);
        case 'sub':
          return tf.sub(x, c);
        case 'rsub':
          return tf.sub(c, x);
        case 'mul':
          return tf.mul(x, c);
        default:
          return tf.div(x, c);
      }
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return oneShape(inputShape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), op: this.op, constantShape: this.constantShape};
  }
}

export interface ChannelPaddingArgs extends LayerArgs {
  /** Zero channels added before and after the input's channels (the last axis). */
  padding: [number, number];
}

/** Zero padding of the last (channel) axis. */
export class ChannelPadding extends tfl.layers.Layer {
  static className = 'ChannelPadding';
  readonly padding: [number, number];

  constructor(args: ChannelPaddingArgs) {
    super(args);
    const p = args.padding;
    if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`ChannelPadding: argument 'padding' must be two integers >= 0, got ${JSON.stringify(p)}`);
    }
    this.padding = [p[0], p[1]];
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = one(inputs);
    const paddings = x.shape.map((): [number, number] => [0, 0]);
    paddings[x.rank - 1] = this.padding;
    return tf.pad(x, paddings);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = [...oneShape(inputShape)];
    const c = shape[shape.length - 1];
    shape[shape.length - 1] = c == null ? null : c + this.padding[0] + this.padding[1];
    return shape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), padding: this.padding};
  }
}

export interface Resize2DArgs extends LayerArgs {
  /** Output height and width. */
  size: [number, number];
  method: 'bilinear' | 'nearest';
  alignCorners?: boolean;
  halfPixelCenters?: boolean;
}

/** tf.image.resizeBilinear / resizeNearestNeighbor of NHWC images to a fixed size. */
export class Resize2D extends tfl.layers.Layer {
  static className = 'Resize2D';
  readonly size: [number, number];
  readonly method: 'bilinear' | 'nearest';
  readonly alignCorners: boolean;
  readonly halfPixelCenters: boolean;

  constructor(args: Resize2DArgs) {
    super(args);
    const s = args.size;
    if (!Array.isArray(s) || s.length !== 2 || !s.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`Resize2D: argument 'size' must be two positive integers, got ${JSON.stringify(s)}`);
    }
    if (args.method !== 'bilinear' && args.method !== 'nearest') {
      throw new Error(
        `Resize2D: argument 'method' must be 'bilinear' or 'nearest', got ${JSON.stringify(args.method)}`,
      );
    }
    this.size = [s[0], s[1]];
    this.method = args.method;
    this.alignCorners = args.alignCorners ?? false;
    this.halfPixelCenters = args.halfPixelCenters ?? false;
  }

  /** The resize this layer does, on any NHWC tensor (the delta twin resizes masks with it too). */
  resize(x: Tensor): Tensor {
    const resize = this.method === 'bilinear' ? tf.image.resizeBilinear : tf.image.resizeNearestNeighbor;
    return resize(x as tf.Tensor4D, this.size, this.alignCorners, this.halfPixelCenters);
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = one(inputs);
    if (x.rank !== 4) {
      throw new Error(`Resize2D '${this.name}': input must be NHWC (rank 4), got shape [${x.shape}]`);
    }
    return this.resize(x);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = oneShape(inputShape);
    return [shape[0], this.size[0], this.size[1], shape[3]];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      size: this.size,
      method: this.method,
      alignCorners: this.alignCorners,
      halfPixelCenters: this.halfPixelCenters,
    };
  }
}

export const GRAPH_LAYER_CLASSES = [ConstantOp, ChannelPadding, Resize2D];
for (const cls of GRAPH_LAYER_CLASSES) tf.serialization.registerClass(cls);
