/**
 * Small weightless layers the models need and tfjs-layers lacks, each serializable:
 *   ZeroPadding3D        explicit zero padding of NDHWC (PyTorch's Conv3d padding, done before a 'valid' conv)
 *   ReflectionPadding2D  PyTorch's ReflectionPad2d on NHWC
 *   PadToMultiple        pads the two spatial axes (height, width) at their end up to a multiple of n
 *   CropLike             crops the two spatial axes of its first input to the size of its second input's
 *   MeanShift            x + sign * mean(reference) over all axes but batch and channels (reference: the
 *                        second input, or x itself when there is one input)
 *   FoldFrames           [N, T, H, W, C] -> [N, H, W, T*C], channel t*C + c (PyTorch's cat(unbind(x, 2), 1))
 *   UnfoldFrames         [N, H, W, F*C] -> [N, F, H, W, C] (PyTorch's split(x, C, dim=1), stacked)
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerArgs} from '@tensorflow/tfjs-layers/dist/engine/topology';

type Pair = [number, number];

function one(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

function oneShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
  return (Array.isArray(s[0]) ? s[0] : s) as tfl.Shape;
}

function grow(n: number | null, p: Pair): number | null {
  return n == null ? null : n + p[0] + p[1];
}

function checkPairs(layer: string, pads: unknown, count: number): Pair[] {
  const ok =
    Array.isArray(pads) &&
    pads.length === count &&
    pads.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0));
  if (!ok)
    throw new Error(`${layer}: padding must be ${count} pairs of non-negative integers, got ${JSON.stringify(pads)}`);
  return (pads as Pair[]).map((p) => [p[0], p[1]] as Pair);
}

export interface ZeroPadding3DArgs extends LayerArgs {
  /** [[front, back], [top, bottom], [left, right]], or one number for all six sides. */
  padding: number | [Pair, Pair, Pair];
}

export class ZeroPadding3D extends tfl.layers.Layer {
  static readonly className = 'ZeroPadding3D';
  readonly padding: [Pair, Pair, Pair];
  constructor(args: ZeroPadding3DArgs) {
    super(args);
    const p = args.padding;
    this.padding = checkPairs(
      'ZeroPadding3D',
      typeof p === 'number'
        ? [
            [p, p],
            [p, p],
            [p, p],
          ]
        : p,
      3,
    ) as [Pair, Pair, Pair];
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const x = oneShape(s);
    return [x[0], grow(x[1], this.padding[0]), grow(x[2], this.padding[1]), grow(x[3], this.padding[2]), x[4]];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.pad(one(inputs), [[0, 0], ...this.padding, [0, 0]]);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), padding: this.padding};
  }
}

export interface ReflectionPadding2DArgs extends LayerArgs {
  /** [[top, bottom], [left, right]], or one number for all four sides. */
  padding: number | [Pair, Pair];
}

export class ReflectionPadding2D extends tfl.layers.Layer {
  static readonly className = 'ReflectionPadding2D';
  readonly padding: [Pair, Pair];
  constructor(args: ReflectionPadding2DArgs) {
    super(args);
    const p = args.padding;
    this.padding = checkPairs(
      'ReflectionPadding2D',
      typeof p === 'number'
        ? [
            [p, p],
            [p, p],
          ]
        : p,
      2,
    ) as [Pair, Pair];
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const x = oneShape(s);
    return [x[0], grow(x[1], this.padding[0]), grow(x[2], this.padding[1]), x[3]];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs) as tf.Tensor4D;
    const [[t, b], [l, r]] = this.padding;
    if (Math.max(t, b) >= x.shape[1] || Math.max(l, r) >= x.shape[2]) {
      throw new Error(
        `ReflectionPadding2D '${this.name}': padding ${JSON.stringify(this.padding)} needs an input larger ` +
          `than it, got [${x.shape}] (PyTorch's ReflectionPad2d has the same limit)`,
      );
    }
    return tf.mirrorPad(
      x,
      [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ],
      'reflect',
    );
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), padding: this.padding};
  }
}

export interface PadToMultipleArgs extends LayerArgs {
  multiple: number;
  /** 'reflect' (default; PyTorch's F.pad mode='reflect') or 'zero'. */
  mode?: 'reflect' | 'zero';
}

/** Pads height and width (axes rank-3 and rank-2) at their end up to a multiple of `multiple`. */
export class PadToMultiple extends tfl.layers.Layer {
  static readonly className = 'PadToMultiple';
  readonly multiple: number;
  readonly mode: 'reflect' | 'zero';
  constructor(args: PadToMultipleArgs) {
    super(args);
    if (!(Number.isInteger(args.multiple) && args.multiple > 0)) {
      throw new Error(`PadToMultiple: multiple must be a positive integer, got ${args.multiple}`);
    }
    this.multiple = args.multiple;
    this.mode = args.mode ?? 'reflect';
  }
  private up(n: number | null): number | null {
    return n == null ? null : Math.ceil(n / this.multiple) * this.multiple;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const x = [...oneShape(s)];
    const r = x.length;
    x[r - 3] = this.up(x[r - 3]);
    x[r - 2] = this.up(x[r - 2]);
    return x;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs);
    const r = x.rank;
    const [h, w] = [x.shape[r - 3], x.shape[r - 2]];
    const [ph, pw] = [this.up(h)! - h, this.up(w)! - w];
    if (ph === 0 && pw === 0) return tf.clone(x);
    const pads = x.shape.map(() => [0, 0] as Pair);
    pads[r - 3] = [0, ph];
    pads[r - 2] = [0, pw];
    if (this.mode === 'zero') return tf.pad(x, pads);
    if (ph >= h || pw >= w) {
      throw new Error(
        `PadToMultiple '${this.name}': reflect-padding [${h}, ${w}] to a multiple of ${this.multiple} ` +
          `needs height and width above ${this.multiple - 1}; use mode 'zero' for inputs this small`,
      );
    }
    // tf.mirrorPad handles rank <= 4: fold leading axes into the batch for rank 5.
    if (r === 5) {
      const [n, t, , , c] = x.shape;
      const y = tf.mirrorPad(
        tf.reshape(x, [n * t, h, w, c]) as tf.Tensor4D,
        [
          [0, 0],
          [0, ph],
          [0, pw],
          [0, 0],
        ],
        'reflect',
      );
      return tf.reshape(y, [n, t, h + ph, w + pw, c]);
    }
    return tf.mirrorPad(x as tf.Tensor4D, pads as Array<[number, number]>, 'reflect');
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), multiple: this.multiple, mode: this.mode};
  }
}

/** Crops height and width (axes rank-3, rank-2) of inputs[0] to those of inputs[1], keeping the start. */
export class CropLike extends tfl.layers.Layer {
  static readonly className = 'CropLike';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [x, ref] = s as tfl.Shape[];
    const out = [...x];
    out[x.length - 3] = ref[ref.length - 3];
    out[x.length - 2] = ref[ref.length - 2];
    return out;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [x, ref] = inputs as tf.Tensor[];
    const size = [...x.shape];
    size[x.rank - 3] = ref.shape[ref.rank - 3];
    size[x.rank - 2] = ref.shape[ref.rank - 2];
    return tf.slice(
      x,
      x.shape.map(() => 0),
      size,
    );
  }
}

export interface MeanShiftArgs extends LayerArgs {
  /** -1 subtracts the mean, +1 adds it back. */
  sign: 1 | -1;
}

/**
 * inputs [x, reference] or x alone (reference = x): x + sign * mean(reference) over every axis but
 * the first and last. (Pass one input rather than [x, x]: tfjs-layers' executor counts a tensor
 * given twice to one layer as two uses and may dispose it early.)
 */
export class MeanShift extends tfl.layers.Layer {
  static readonly className = 'MeanShift';
  readonly sign: 1 | -1;
  constructor(args: MeanShiftArgs) {
    super(args);
    if (args.sign !== 1 && args.sign !== -1) throw new Error(`MeanShift: sign must be 1 or -1, got ${args.sign}`);
    this.sign = args.sign;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return oneShape(s);
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, ref] = Array.isArray(inputs) ? [inputs[0], inputs[inputs.length - 1]] : [inputs, inputs];
      const axes = ref.shape.map((_, i) => i).slice(1, -1);
      const mean = tf.mean(ref, axes, true);
      // Broadcast [N, 1, ..., C] against x of any rank with the same N and C.
      const m = tf.reshape(mean, [x.shape[0], ...new Array(x.rank - 2).fill(1), x.shape[x.rank - 1]]);
      return this.sign > 0 ? tf.add(x, m) : tf.sub(x, m);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), sign: this.sign};
  }
}

/** [N, T, H, W, C] -> [N, H, W, T*C] with channel index t*C + c. */
export class FoldFrames extends tfl.layers.Layer {
  static readonly className = 'FoldFrames';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, t, h, w, c] = oneShape(s);
    return [n, h, w, t == null || c == null ? null : t * c];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs);
      const [n, t, h, w, c] = x.shape;
      return tf.reshape(tf.transpose(x, [0, 2, 3, 1, 4]), [n, h, w, t * c]);
    });
  }
}

export interface UnfoldFramesArgs extends LayerArgs {
  frames: number;
}

/** [N, H, W, F*C] -> [N, F, H, W, C], frame f taking channels [f*C, (f+1)*C). */
export class UnfoldFrames extends tfl.layers.Layer {
  static readonly className = 'UnfoldFrames';
  readonly frames: number;
  constructor(args: UnfoldFramesArgs) {
    super(args);
    if (!(Number.isInteger(args.frames) && args.frames > 0))
      throw new Error(`UnfoldFrames: frames must be a positive integer, got ${args.frames}`);
    this.frames = args.frames;
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, h, w, c] = oneShape(s);
    return [n, this.frames, h, w, c == null ? null : c / this.frames];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs);
      const [n, h, w, c] = x.shape;
      if (c % this.frames !== 0)
        throw new Error(`UnfoldFrames '${this.name}': ${c} channels do not split into ${this.frames} frames`);
      return tf.transpose(tf.reshape(x, [n, h, w, this.frames, c / this.frames]), [0, 3, 1, 2, 4]);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig(), frames: this.frames};
  }
}

for (const cls of [ZeroPadding3D, ReflectionPadding2D, PadToMultiple, CropLike, MeanShift, FoldFrames, UnfoldFrames]) {
  tf.serialization.registerClass(cls);
}
