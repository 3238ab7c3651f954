/**
 * What every delta layer shares: per-stream state kept in JS fields (never weights), resets on
 * resetStates() or on a change of batch size or resolution, thresholds, per-frame statistics, and
 * weights that may be shared with the dense twin.
 *
 * Delta layers extend the tf.layers class they replace (tfjs-layers registers its classes by name
 * but does not export them), so they take the same configuration, build the same weights under
 * the same names, and serialize like it plus their own keys (`threshold`).
 *
 * State and streams (../shared/DESIGN.md §3): a delta model processes one frame per call; each
 * batch row is an independent stream; the first frame is a delta from an all-zero state, with
 * biases and offsets applied once. Layers with buffers (activations, max pooling, the input and
 * output layers) are `stateful` like tfjs RNNs, so `model.resetStates()` reaches them; the input
 * layer also resets everything downstream (the linear layers' "bias applied" flags).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';
// Loads tfjs-layers (which registers its layer classes) even where only its types are used.
import '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import type {DisposeResult} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';

import {activeFraction, maskFraction} from '../../ops/mask';

export type AnyLayerClass = abstract new (...args: any[]) => tfl.layers.Layer; // eslint-disable-line @typescript-eslint/no-explicit-any
export type LayerClass = (new (...args: any[]) => tfl.layers.Layer) & {className: string}; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The tf.layers class registered under `className` (tfjs-layers registers but does not export them). */
export function layerClass(className: string): LayerClass {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry == null) throw new Error(`tfjs-delta: tf.layers class '${className}' is not registered`);
  return entry[0] as unknown as LayerClass;
}

// ---- thresholds --------------------------------------------------------------------------

let defaultThreshold = 0;

export function checkThreshold(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${where}: threshold must be a finite number >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A threshold scale: finite and >= 0 (0: the layer's dense output was 0 on every sample frame). */
export function checkScale(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${where}: threshold scale must be a finite number >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The threshold of every truncating delta layer that has none of its own (initially 0: exact). */
export function setDefaultThreshold(threshold: number): void {
  defaultThreshold = checkThreshold('setDefaultThreshold', threshold);
}

export function getDefaultThreshold(): number {
  return defaultThreshold;
}

// ---- stream state ------------------------------------------------------------------------

function describeChange(before: number[][], after: number[][]): string {
  const [b, a] = [before[0], after[0]];
  if (before.length === 1 && after.length === 1 && b.length === a.length) {
    if (b[0] !== a[0] && b.slice(1).every((d, i) => d === a[i + 1]))
      return `batch size changed from ${b[0]} to ${a[0]}`;
    if (b.length === 4 && b[0] === a[0] && b[3] === a[3])
      return `resolution changed from ${b[1]}x${b[2]} to ${a[1]}x${a[2]}`;
  }
  return `input shape changed from ${JSON.stringify(before)} to ${JSON.stringify(after)}`;
}

/** Per-stream buffers of one layer, kept out of predict()'s tidy scopes. */
export class StreamState {
  /** Frames processed since the stream started. */
  frame = 0;
  private shapeKey: string | null = null;
  private readonly buffers = new Map<string, Tensor>();

  constructor(private readonly owner: tfl.layers.Layer) {}

  /**
   * Starts a frame. When the input shapes differ from the stream's, the stream is reset (with a
   * warning if it had begun). Returns whether this is the stream's first frame and whether a
   * running stream was reset.
   */
  begin(shapes: number[][]): {first: boolean; reset: boolean} {
    const key = JSON.stringify(shapes);
    let reset = false;
    if (this.shapeKey != null && this.shapeKey !== key && this.frame > 0) {
      console.warn(
        `tfjs-delta: layer '${this.owner.name}' (${this.owner.getClassName()}): ` +
          `${describeChange(JSON.parse(this.shapeKey), shapes)} mid-stream; its delta state is reset ` +
          `and this frame is processed as the first frame of a new stream (call model.resetStates() ` +
          `when a new stream starts).`,
      );
      this.reset();
      reset = true;
    }
    this.shapeKey = key;
    return {first: this.frame === 0, reset};
  }

  end(): void {
    this.frame++;
  }

  get(name: string): Tensor | undefined {
    return this.buffers.get(name);
  }

  /** Stores `t` (kept) as buffer `name`, disposing the previous one. */
  set(name: string, t: Tensor): void {
    const previous = this.buffers.get(name);
    this.buffers.set(name, tf.keep(t));
    if (previous != null && previous !== t) previous.dispose();
  }

  /** Disposes buffer `name`, if there is one. */
  drop(name: string): void {
    this.buffers.get(name)?.dispose();
    this.buffers.delete(name);
  }

  /** The buffers by name (compiled streams pin them and rebind them to their replayed copies). */
  entries(): Array<[string, Tensor]> {
    return [...this.buffers.entries()];
  }

  /** Makes `t` (kept) buffer `name` without disposing the previous one, which the caller owns. */
  rebind(name: string, t: Tensor): void {
    this.buffers.set(name, tf.keep(t));
  }

  reset(): void {
    for (const t of this.buffers.values()) t.dispose();
    this.buffers.clear();
    this.frame = 0;
    this.shapeKey = null;
  }
}

// ---- device-side statistics ---------------------------------------------------------------

/**
 * The output pixels a conv computes, described instead of made: its input's mask and its window as 13 integers, n, h,
 * w of the mask, the output's oh, ow, the window kh, kw, strides sh, sw, top and left pads pt, pl and dilations dh, dw
 * (the native maskFractions' layout). An output pixel is computed iff its window holds an active input pixel.
 */
export interface MaskReach {
  mask: Tensor;
  window: number[];
}

/**
 * Receives each delta layer's frame output while set (compiled streams gather statistics on the device), and where
 * the pixels it computed differ from the output's mask, their reach (DeltaMembers.computedReach; null: every pixel).
 */
export type FrameStatsSink = (
  layer: DeltaMembers,
  inputShape: number[],
  output: Tensor,
  computed: MaskReach | null | undefined,
) => void;
let frameStatsSink: FrameStatsSink | null = null;

/** Installs (or with null removes) the sink; returns the previous one. */
export function setFrameStatsSink(sink: FrameStatsSink | null): FrameStatsSink | null {
  const previous = frameStatsSink;
  frameStatsSink = sink;
  return previous;
}

// ---- the delta layer contract ------------------------------------------------------------

/** Per-frame statistics of one delta layer (recorded when enabled: they read masks back). */
export interface LayerFrameStats {
  /** Fraction of the output pixels that carry a change (1 for a dense output). */
  activeFraction: number;
  /**
   * Fraction of the output pixels the layer computed this frame: those its active inputs reach. A layer whose own
   * activation truncates (a conv with a folded relu6) computes more pixels than it sends on; for any other layer
   * this equals activeFraction.
   */
  computedFraction: number;
  /** Multiply-adds the dense layer does per frame (0 for layers without a weighted sum). */
  macs: number;
  /** Of those, the ones a delta kernel can skip: the output pixels it did not compute. */
  macsSkipped: number;
}

export interface DeltaLayer extends tfl.layers.Layer {
  readonly isDeltaLayer: true;
  /** The tf.layers class this layer replaces, or null for the input and output layers. */
  readonly denseClassName: string | null;
  /** Whether the layer truncates small changes (and so has a threshold). */
  readonly truncates: boolean;
  /** Its own threshold, or null to follow the global default. */
  threshold: number | null;
  /** Its threshold (its own or the default): relative to `thresholdScale` when that is set. */
  effectiveThreshold(): number;
  /**
   * The layer's activation scale (calibrateThresholdScales: the standard deviation of its dense output on sample
   * frames), or null: thresholds are then absolute. Saved in the layer's config.
   */
  thresholdScale: number | null;
  /** What the layer's change test compares with: effectiveThreshold() x thresholdScale (or 1). */
  absoluteThreshold(): number;
  /** The dense output values of the stream's last frame, as far as the layer has sent them (null if it keeps none). */
  denseValues(): Tensor | null;
  resetDeltaState(): void;
  statsEnabled: boolean;
  lastStats: LayerFrameStats | null;
  /** Set when the weight variables belong to another layer (toDelta's dense twin). */
  sharesWeights: boolean;
}

export function isDeltaLayer(layer: unknown): layer is DeltaLayer {
  return layer != null && (layer as DeltaLayer).isDeltaLayer === true;
}

/** Resets every delta layer downstream of `layer` (a stream restarted at the input). */
export function resetDownstream(layer: tfl.layers.Layer): void {
  const seen = new Set<tfl.layers.Layer>([layer]);
  const queue = [layer];
  while (queue.length > 0) {
    for (const node of queue.shift()!.outboundNodes) {
      const next = node.outboundLayer;
      if (next == null || seen.has(next)) continue;
      seen.add(next);
      if (isDeltaLayer(next)) next.resetDeltaState();
      queue.push(next);
    }
  }
}

export function product(values: readonly number[]): number {
  return values.reduce((p, v) => p * v, 1);
}

/** Throws unless the layer works on channels-last tensors (the only layout delta ops support). */
export function requireChannelsLast(layer: tfl.layers.Layer, dataFormat: string | undefined): void {
  if (dataFormat != null && dataFormat !== 'channelsLast') {
    throw new Error(
      `tfjs-delta: layer '${layer.name}' (${layer.getClassName()}) has dataFormat ` +
        `'${dataFormat}'; delta layers support only 'channelsLast'`,
    );
  }
}

/** What deltaMixin adds, as seen by the layer classes built on it (hooks are public for typing only). */
export interface DeltaMembers extends DeltaLayer {
  readonly stream: StreamState;
  /** The layer's work on one frame, inside a tidy scope with the stream started. */
  deltaCall(inputs: Tensor[], first: boolean): Tensor;
  /** Whether the layer keeps per-stream buffers (then it is `stateful`). */
  holdsBuffers(): boolean;
  truncatesNow(): boolean;
  /** Dense multiply-adds per frame for this input and output shape. */
  macsPerFrame(inShape: number[], outShape: number[]): number;
  /**
   * The output pixels this frame's work covered, where a layer computes more than its output's mask shows (its own
   * activation truncates): a bool mask of the output's pixels, or null for every pixel; undefined: the output's
   * mask says it. Statistics only.
   */
  computedMask(inputs: Tensor[], output: Tensor): Tensor | null | undefined;
  /** The same pixels as computedMask, described by its input's mask and window (for a count on the device). */
  computedReach(inputs: Tensor[], output: Tensor): MaskReach | null | undefined;
  /** Called when a change of input shape restarted the stream. */
  onStreamReset(): void;
}

/** Narrows a tf.layers field typed loosely by tfjs (number | pair) to a pair. */
export function pair(value: number | readonly number[]): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

export type DeltaClass<TBase extends AnyLayerClass> = TBase &
  (abstract new (...args: any[]) => DeltaMembers) & {readonly denseClassName: string | null}; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface DeltaOptions {
  /** The tf.layers class this one replaces (null: a delta-only layer). */
  dense: string | null;
  /** Whether it truncates: true, false, or decided per instance by `truncatesNow()`. */
  truncates?: boolean;
}

/**
 * Adds the delta behaviour to a layer class. Subclasses implement `deltaCall(inputs, first)` (run
 * inside a tidy scope, with the stream started) and, where it applies, `holdsBuffers()`,
 * `truncatesNow()` and `macsPerFrame()`.
 */
export function deltaMixin<TBase extends AnyLayerClass>(Base: TBase, options: DeltaOptions): DeltaClass<TBase> {
  abstract class Delta extends Base implements DeltaMembers {
    static readonly denseClassName = options.dense;
    readonly isDeltaLayer = true as const;
    readonly denseClassName = options.dense;
    readonly stream: StreamState;
    threshold: number | null;
    thresholdScale: number | null;
    statsEnabled = false;
    lastStats: LayerFrameStats | null = null;
    sharesWeights = false;

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      const config = (args[0] ?? {}) as {threshold?: number | null; thresholdScale?: number | null};
      this.threshold = config.threshold == null ? null : checkThreshold(`layer '${this.name}'`, config.threshold);
      this.thresholdScale =
        config.thresholdScale == null ? null : checkScale(`layer '${this.name}'`, config.thresholdScale);
      this.stream = new StreamState(this);
    }

    abstract deltaCall(inputs: Tensor[], first: boolean): Tensor;

    holdsBuffers(): boolean {
      return false;
    }

    truncatesNow(): boolean {
      return options.truncates ?? false;
    }

    computedMask(_inputs: Tensor[], _output: Tensor): Tensor | null | undefined {
      return undefined;
    }

    computedReach(_inputs: Tensor[], _output: Tensor): MaskReach | null | undefined {
      return undefined;
    }

    macsPerFrame(_inShape: number[], _outShape: number[]): number {
      return 0;
    }

    get truncates(): boolean {
      return this.truncatesNow();
    }

    effectiveThreshold(): number {
      return this.threshold ?? defaultThreshold;
    }

    absoluteThreshold(): number {
      return this.effectiveThreshold() * (this.thresholdScale ?? 1);
    }

    denseValues(): Tensor | null {
      return null;
    }

    override get stateful(): boolean {
      return this.holdsBuffers();
    }

    override resetStates(): void {
      this.resetDeltaState();
    }

    resetDeltaState(): void {
      this.stream.reset();
      this.lastStats = null;
    }

    override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
      return tf.tidy(() => {
        const xs = Array.isArray(inputs) ? inputs : [inputs];
        const {first, reset} = this.stream.begin(xs.map((x) => x.shape));
        if (reset) this.onStreamReset();
        const out = this.deltaCall(xs, first);
        this.stream.end();
        if (this.statsEnabled) {
          const macs = this.macsPerFrame(xs[0].shape, out.shape);
          const active = activeFraction(out);
          const computed = this.computedMask(xs, out);
          const work = computed === undefined ? active : computed == null ? 1 : maskFraction(computed);
          this.lastStats = {activeFraction: active, computedFraction: work, macs, macsSkipped: macs * (1 - work)};
        } else if (frameStatsSink != null) {
          frameStatsSink(this, xs[0].shape, out, this.computedReach(xs, out));
        }
        return out;
      });
    }

    onStreamReset(): void {}

    override getConfig(): tf.serialization.ConfigDict {
      const config = super.getConfig();
      if (this.threshold != null) config.threshold = this.threshold;
      if (this.thresholdScale != null) config.thresholdScale = this.thresholdScale;
      return config;
    }

    override dispose(): DisposeResult {
      const result = super.dispose();
      if (result.refCountAfterDispose === 0) this.resetDeltaState();
      return result;
    }

    protected override disposeWeights(): number {
      return this.sharesWeights ? 0 : super.disposeWeights();
    }
  }
  return Delta as unknown as DeltaClass<TBase>;
}
