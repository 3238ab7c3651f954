/**
 * Compiled streaming plans on 'cuda': a model that processes a video one frame per call runs the
 * same kernels every frame, so the kernels of one frame are captured once as a CUDA graph and replayed with
 * one native call per frame. At batch 1 that removes the per-op cost of the JavaScript engine and of kernel
 * launches, which is most of a frame's time.
 *
 *   const stream = compileStream(model);           // model: a dense or delta LayersModel, backend 'cuda'
 *   for (const frame of frames) {
 *     const out = stream.step(frame);              // a 'cuda' tensor; reading it is the only sync
 *     ...; out.dispose();
 *   }
 *   stream.dispose();
 *
 * How: the first frames run eagerly (model.predict): they build every cuDNN plan, derived filter layout and
 * workspace the frame needs, and for a delta model they take the stream past its first (dense) frame. The
 * next frame is captured: predict() runs with the backend's stream in capture mode, so its kernels are
 * recorded rather than run, into memory the plan owns (every activation, mask and workspace of the frame is
 * allocated then and kept for the plan's life). Delta state is updated in place: the captured frame writes
 * new state tensors, and the graph ends with copies back into the buffers it read, which the layers then
 * reference again, so the next replay reads the state the last one wrote. Each later step copies the frame
 * into the plan's input buffer, launches the graph and copies the outputs into new tensors (tfjs tensors are
 * immutable: a replay must not change a tensor the caller still holds).
 *
 * What a frame may not do inside a plan: read data on the host, or make decisions in JavaScript that depend on
 * the data. Per-layer statistics (which read masks eagerly) are gathered on the device instead, inside the
 * graph, and read with stats(): one read per frame instead of one per layer.
 *
 * Re-planning: a change of input shape (resolution or batch) drops the plan and restarts the stream (delta
 * state reset: the next frame is a first frame); reset() does the same on request; a model run eagerly in
 * between (its state moved on), or given new weights (setWeights, loadWeights), is captured again at the next
 * step. Precision: 'tf32' (default) lets cuDNN and cuBLAS use TF32 tensor cores, 'fp32' is strict fp32, 'fp16'
 * runs the convolutions on half data with fp32 accumulation and keeps activations in half storage between the
 * kernels that take it (elementwise, pooling, data movement, the gates); all are fixed into the plan when it is
 * captured.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor} from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {CudaBackend} from '../backends/cuda/backend';
import type {DeltaFrameStats, LayerStats} from '../delta/to_delta';
import {isDeltaLayer, setFrameStatsSink} from '../delta/layers/base';
import type {DeltaMembers} from '../delta/layers/base';
import {envFlag} from '../io/env';
import {maskOf} from '../ops/mask';

export type StreamPrecision = 'tf32' | 'fp32' | 'fp16';

export interface CompileStreamOptions {
  /**
   * 'tf32' (default): TF32 tensor cores; 'fp32': strict fp32; 'fp16': half-precision convolutions (fp32
   * accumulation) and half storage of dense activations. Step outputs are float32 tensors either way (in 'fp16'
   * held in half storage, converted when read). Delta layers keep float32 data at every precision, and their state
   * as toDelta's statePrecision says (float32 by default).
   */
  precision?: StreamPrecision;
  /**
   * Frames run eagerly before the plan is captured: 1 for a dense model (it builds the cuDNN plans), 2 for a
   * delta model (its first frame is dense, the second is the first of the steady state). Default: that.
   */
  warmupFrames?: number;
  /**
   * Gather per-layer statistics (active fraction, multiply-adds skipped) on the device inside the plan; read them
   * with stats() after a step. Default: whether any delta layer of the model has statistics enabled (eager
   * statistics read masks on the host per layer, which a plan cannot do: the plan does it per frame instead).
   */
  stats?: boolean;
}

export interface CompiledStreamInfo {
  /** Whether the current plan is captured (false during warm-up frames). */
  captured: boolean;
  /** Kernels and copies in the captured graph. */
  graphNodes: number;
  /** Device memory the plan owns (activations, masks, workspaces and state of one frame). */
  planBytes: number;
  /** Frames stepped since the stream (re)started, and of those, the ones replayed from the plan. */
  frames: number;
  replayedFrames: number;
  /** Plans captured over the stream's life (a re-plan adds one). */
  captures: number;
}

interface StateBinding {
  stream: DeltaMembers['stream'];
  name: string;
  /** The buffer the graph reads (and, through its final copy or in place, writes): pinned by the plan. */
  held: Tensor;
  /** What the captured frame computed into, copied into `held` at the end of the graph; null: updated in place. */
  written: Tensor | null;
}

/** A delta layer's statistics inside a plan: its output's active fraction, computed by the graph. */
interface StatsRecord {
  layer: DeltaMembers;
  macs: number;
  /** Its place in the plan's `fractions` (rewritten by every replay), or null for a dense output. */
  slot: number | null;
  /** The same for the pixels it computed (DeltaMembers.computedReach), where that is not its output's mask. */
  computedSlot?: number | null;
}

interface Plan {
  id: number;
  inputs: Tensor[];
  outputs: Tensor[];
  states: StateBinding[];
  stats: StatsRecord[];
  /** The layers' active and computed fractions, counted at the end of the graph (two launches); null without any. */
  fractions: Tensor | null;
  /**
   * The model's weight variables and their data when captured: the graph reads those buffers, so new weights
   * (setWeights, loadWeights write new data into the same variables) need a new plan. The variables are listed once:
   * model.weights walks every layer (60-90 us a step for ResNet-50's 282 weights, 3 us for the kept list).
   */
  weights: Array<{read(): Tensor}>;
  weightIds: unknown[];
  nodes: number;
}

function cudaBackendOf(where: string): CudaBackend {
  const backend = tf.backend();
  if (!(backend instanceof CudaBackend)) {
    throw new Error(`${where}: compiled streams need the 'cuda' backend (current backend: '${tf.getBackend()}')`);
  }
  return backend;
}

/** Whether `layer` keeps its accumulator state in half precision (statePrecision 'fp16'). */
function halfState(layer: DeltaMembers): boolean {
  return (layer as unknown as {statePrecision?: string}).statePrecision === 'fp16';
}

/** Every delta layer of `model`, nested models included. */
function deltaLayersOf(model: tfl.LayersModel): DeltaMembers[] {
  const out: DeltaMembers[] = [];
  const visit = (layers: tfl.layers.Layer[]) => {
    for (const layer of layers) {
      if (isDeltaLayer(layer)) out.push(layer as DeltaMembers);
      const nested = (layer as unknown as {layers?: tfl.layers.Layer[]}).layers;
      if (Array.isArray(nested)) visit(nested);
    }
  };
  visit(model.layers);
  return out;
}

export class CompiledStream {
  readonly model: tfl.LayersModel;
  readonly precision: StreamPrecision;
  private readonly backend: CudaBackend;
  private readonly deltaLayers: DeltaMembers[];
  private readonly warmupFrames: number;
  private readonly gatherStats: boolean;
  private readonly directInputs = envFlag('TFJS_DELTA_STREAM_DIRECT_INPUTS', true);
  private plan: Plan | null = null;
  private eagerLeft: number;
  private shapeKey: string | null = null;
  private frames = 0;
  private replayed = 0;
  private captures = 0;
  private disposed = false;

  constructor(model: tfl.LayersModel, options: CompileStreamOptions = {}) {
    const where = 'compileStream';
    this.backend = cudaBackendOf(where);
    if (!(model instanceof tfl.LayersModel)) throw new Error(`${where}: model must be a tf.LayersModel`);
    const precision = options.precision ?? 'tf32';
    if (precision !== 'tf32' && precision !== 'fp32' && precision !== 'fp16') {
      throw new Error(`${where}: precision must be 'tf32', 'fp32' or 'fp16', got ${JSON.stringify(options.precision)}`);
    }
    this.model = model;
    this.precision = precision;
    this.deltaLayers = deltaLayersOf(model);
    const stateful = this.deltaLayers.some((l) => l.holdsBuffers());
    const warmup = options.warmupFrames ?? (stateful ? 2 : 1);
    if (!Number.isInteger(warmup) || warmup < (stateful ? 2 : 1)) {
      throw new Error(
        `${where}: warmupFrames must be an integer >= ${stateful ? 2 : 1} for this ` +
          `${stateful ? 'delta' : 'dense'} model, got ${JSON.stringify(options.warmupFrames)}`,
      );
    }
    this.warmupFrames = warmup;
    this.gatherStats = options.stats ?? this.deltaLayers.some((l) => l.statsEnabled);
    this.eagerLeft = warmup;
  }

  get info(): CompiledStreamInfo {
    const p = this.plan;
    return {
      captured: p != null,
      graphNodes: p?.nodes ?? 0,
      planBytes: p ? this.backend.n.planBytes({plan: p.id}) : 0,
      frames: this.frames,
      replayedFrames: this.replayed,
      captures: this.captures,
    };
  }

  /**
   * Processes one frame (or one set of model inputs): returns what model.predict would, as new 'cuda'
   * tensors owned by the caller. Inputs may live on any backend; they are not disposed.
   */
  step(inputs: Tensor | Tensor[]): Tensor | Tensor[] {
    if (this.disposed) throw new Error('CompiledStream.step: the stream was disposed');
    const xs = Array.isArray(inputs) ? inputs : [inputs];
    this.checkInputs(xs);
    const key = JSON.stringify(xs.map((x) => x.shape));
    if (this.shapeKey !== null && key !== this.shapeKey) this.reset(); // a new resolution: a new stream
    this.shapeKey = key;
    // The model ran eagerly in between (its state moved on) or got new weights: capture again, after a full
    // warm-up when its state was reset (a first frame leaves some state to the frame after it).
    if (this.plan != null && (!this.stateIntact() || !this.weightsIntact())) {
      const restarted = this.deltaLayers.some((l) => l.stream.frame === 0);
      this.dropPlan(restarted ? this.warmupFrames : 1);
    }
    this.frames++;
    if (this.plan == null && this.eagerLeft > 0) {
      this.eagerLeft--;
      return this.withPrecision(() => this.model.predictOnBatch(xs.length === 1 ? xs[0] : xs));
    }
    if (this.plan == null) this.capture(xs);
    else this.loadInputs(this.plan, xs);
    const plan = this.plan!;
    this.backend.n.planLaunch({plan: plan.id});
    this.replayed++;
    const outs = plan.outputs.map((o) => tf.engine().makeTensorFromTensorInfo(this.backend.copyOf(o), this.backend));
    return this.model.outputs.length === 1 ? outs[0] : outs;
  }

  /**
   * Per-layer statistics of the last replayed frame, gathered on the device (one read for all layers), in the
   * form of getDeltaStats. Needs the `stats` option and a captured plan.
   */
  stats(): DeltaFrameStats {
    const plan = this.plan;
    if (!this.gatherStats) throw new Error('CompiledStream.stats: compile the stream with {stats: true}');
    if (plan == null)
      throw new Error('CompiledStream.stats: no plan captured yet (statistics come from replayed frames)');
    const values = plan.fractions == null ? new Float32Array(0) : (plan.fractions.dataSync() as Float32Array);
    const layers: LayerStats[] = [];
    const fraction = (slot: number | null) => (slot == null ? 1 : values[slot]);
    for (const r of plan.stats) {
      const active = fraction(r.slot);
      const computed = r.computedSlot === undefined ? active : fraction(r.computedSlot);
      layers.push({
        name: r.layer.name,
        className: r.layer.getClassName(),
        activeFraction: active,
        computedFraction: computed,
        macs: r.macs,
        macsSkipped: r.macs * (1 - computed),
      });
    }
    const macs = layers.reduce((s, l) => s + l.macs, 0);
    const macsSkipped = layers.reduce((s, l) => s + l.macsSkipped, 0);
    return {layers, macs, macsSkipped, skippedShare: macs > 0 ? macsSkipped / macs : 0};
  }

  /** Restarts the stream: drops the plan and resets every delta layer's state (the next frame is a first frame). */
  reset(): void {
    this.dropPlan(this.warmupFrames);
    for (const layer of this.deltaLayers) layer.resetDeltaState();
    this.frames = 0;
    this.replayed = 0;
    this.shapeKey = null;
  }

  /** Frees the plan and its device memory; the model keeps its current delta state. */
  dispose(): void {
    this.dropPlan(this.warmupFrames);
    this.disposed = true;
  }

  private checkInputs(xs: Tensor[]): void {
    const expected = this.model.inputs.length;
    if (xs.length !== expected) {
      throw new Error(`CompiledStream.step: the model has ${expected} input(s), got ${xs.length} tensor(s)`);
    }
    xs.forEach((x, i) => {
      if (!(x instanceof tf.Tensor) || x.isDisposed) {
        throw new Error(`CompiledStream.step: input ${i} must be a live tf.Tensor`);
      }
      const want = this.model.inputs[i].shape;
      const ok = want.length === x.rank && want.every((d, k) => d == null || d === x.shape[k]);
      if (!ok) {
        throw new Error(
          `CompiledStream.step: input ${i} has shape [${x.shape}], the model expects ` +
            `[${want.map((d) => d ?? 'any')}]`,
        );
      }
    });
  }

  private withPrecision<T>(f: () => T): T {
    const n = this.backend.n;
    const previous = n.getOptions().allowTF32,
      previousHalf = this.backend.halfStorage;
    n.setOptions({allowTF32: this.precision !== 'fp32'});
    this.backend.halfStorage = this.precision === 'fp16';
    try {
      return f();
    } finally {
      n.setOptions({allowTF32: previous});
      this.backend.halfStorage = previousHalf;
    }
  }

  /** The layers still reference the buffers the plan replays into (else someone ran the model eagerly). */
  private stateIntact(): boolean {
    return this.plan!.states.every((s) => {
      const current = s.stream.get(s.name);
      return current != null && !current.isDisposed && current.dataId === s.held.dataId;
    });
  }

  private weightsIntact(): boolean {
    const {weights, weightIds} = this.plan!;
    return weights.every((w, i) => w.read().dataId === weightIds[i]);
  }

  /** Copies the step's inputs into the plan's input buffers (queued; a host tensor is uploaded). */
  private loadInputs(plan: Plan, xs: Tensor[]): void {
    xs.forEach((x, i) => {
      const dst = plan.inputs[i];
      const src = x.dtype === dst.dtype ? x : tf.cast(x, dst.dtype);
      try {
        if (this.backend.data.has(src.dataId)) {
          // already on 'cuda': a device copy
          this.backend.n.copy({dst: this.backend.ptr(dst), src: this.backend.ptr(src), bytes: dst.size * 4});
        } else {
          this.backend.n.upload({dst: this.backend.ptr(dst), values: src.dataSync() as Float32Array});
        }
      } finally {
        if (src !== x) src.dispose();
      }
    });
  }

  /**
   * The model's layers on the plan's inputs, as predictOnBatch runs them. predictOnBatch first slices its inputs
   * (tfjs-layers' predict loop), a copy of the whole input that a captured graph would replay every frame; by default
   * the layers read the plan's input buffers directly, one node and one pass over the frame fewer (0.29 ms a step of
   * MobileNetV2 at 1080x1920 batch 8 on an H100). TFJS_DELTA_STREAM_DIRECT_INPUTS=0 keeps predictOnBatch's copy.
   */
  private runLayers(inputs: Tensor[]): Tensor | Tensor[] {
    const x = inputs.length === 1 ? inputs[0] : inputs;
    if (!this.directInputs) return this.model.predictOnBatch(x);
    const names = this.model.outputs.map((o) => o.name);
    return tf.tidy(() => this.model.execute(x, names));
  }

  private capture(xs: Tensor[]): void {
    const n = this.backend.n;
    const inputs = xs.map((x) => tf.keep(tf.zeros(x.shape, x.dtype === 'int32' ? 'int32' : 'float32')));
    const held: Array<{stream: DeltaMembers['stream']; name: string; tensor: Tensor}> = [];
    for (const layer of this.deltaLayers) {
      for (const [name, stored] of layer.stream.entries()) {
        let t = stored;
        if (this.backend.isHalf(t) && !halfState(layer)) {
          // The replay writes float32 state into the buffer it read (in place, or by the final copy): a half-stored
          // buffer would be read from a float32 copy the replay never refreshes. Half state stays half: its
          // accumulator reads and writes the half buffer itself.
          t = tf.engine().makeTensorFromTensorInfo(this.backend.copyOf(t, true), this.backend);
          layer.stream.set(name, t);
        }
        this.backend.storedPtr(t); // a lazily written buffer is zeroed now, not inside every replay
        held.push({stream: layer.stream, name, tensor: tf.keep(tf.clone(t))});
      }
    }
    const weights = this.model.weights;
    const plan: Plan = {
      id: 0,
      inputs,
      outputs: [],
      states: [],
      stats: [],
      fractions: null,
      weights,
      weightIds: weights.map((w) => w.read().dataId),
      nodes: 0,
    };
    this.loadInputs(plan, xs);
    let capturing = false;
    // Host-side statistics would read masks inside the frame: off while capturing, gathered on the device instead.
    // The masks are kept to the end of the frame and counted there by two launches for every 32 of them.
    const statsFlags = this.deltaLayers.map((l) => l.statsEnabled);
    this.deltaLayers.forEach((l) => (l.statsEnabled = false));
    // Each mask with the window it is counted through: its own bytes, or a conv's reach over its input's mask.
    const masks: Tensor[] = [];
    const windows: number[] = [];
    const slotOf = (mask: Tensor | null, window?: number[]) => {
      if (mask == null) return null;
      windows.push(...(window ?? [1, 1, mask.size, 1, mask.size, 1, 1, 1, 1, 0, 0, 1, 1]));
      return masks.push(tf.keep(tf.clone(mask))) - 1; // an alias (Identity), held to the end of the frame
    };
    const previousSink = setFrameStatsSink(
      this.gatherStats
        ? (layer, inputShape, output, computed) => {
            plan.stats.push({
              layer,
              macs: layer.macsPerFrame(inputShape, output.shape),
              slot: slotOf(maskOf(output)),
              computedSlot: computed === undefined ? undefined : computed && slotOf(computed.mask, computed.window),
            });
          }
        : null,
    );
    try {
      this.withPrecision(() => {
        plan.id = n.planBegin();
        capturing = true;
        const out = this.runLayers(inputs);
        plan.outputs = (Array.isArray(out) ? out : [out]).map((t) => tf.keep(t));
        plan.outputs.forEach((t) => this.backend.storedPtr(t)); // lazy zeros inside the graph
        if (masks.length > 0) {
          const out = this.backend.makeOutput([masks.length], 'float32');
          plan.fractions = tf.keep(tf.engine().makeTensorFromTensorInfo(out, this.backend));
          n.maskFractions({
            masks: masks.map((m) => this.backend.ptr(m)),
            windows,
            out: this.backend.ptr(plan.fractions),
          });
        }
        for (const h of held) {
          const written = h.stream.get(h.name);
          if (written == null) throw new Error(`state buffer '${h.name}' disappeared during the frame`);
          if (written.dataId === h.tensor.dataId) {
            // updated in place (sparseAccumulate's inPlace)
            plan.states.push({stream: h.stream, name: h.name, held: h.tensor, written: null});
            continue;
          }
          if (written.size !== h.tensor.size) throw new Error(`state buffer '${h.name}' changed size during the frame`);
          if (this.backend.isHalf(written) !== this.backend.isHalf(h.tensor)) {
            throw new Error(`state buffer '${h.name}' changed storage (float32 / half) during the frame`);
          }
          n.copy({
            dst: this.backend.storedPtr(h.tensor),
            src: this.backend.storedPtr(written),
            bytes: h.tensor.size * this.backend.storedElementBytes(written),
          });
          plan.states.push({stream: h.stream, name: h.name, held: h.tensor, written});
        }
        const before = new Set(
          held.map((h) => `${this.deltaLayers.findIndex((l) => l.stream === h.stream)}/${h.name}`),
        );
        this.deltaLayers.forEach((layer, i) => {
          for (const [name] of layer.stream.entries()) {
            if (!before.has(`${i}/${name}`)) {
              throw new Error(
                `layer '${layer.name}' created state '${name}' in the captured frame: the stream ` +
                  `was not in its steady state yet (raise warmupFrames)`,
              );
            }
          }
        });
        capturing = false;
        plan.nodes = n.planEnd({plan: plan.id});
      });
    } catch (e) {
      if (capturing) n.planAbort({plan: plan.id});
      plan.outputs.forEach((t) => t.dispose());
      plan.fractions?.dispose();
      inputs.forEach((t) => t.dispose());
      // The captured frame never ran: the layers go back to the state they had before it.
      for (const h of held) {
        const current = h.stream.get(h.name);
        if (current == null || current.dataId !== h.tensor.dataId) {
          h.stream.rebind(h.name, tf.clone(h.tensor));
          current?.dispose();
        }
        h.tensor.dispose();
      }
      throw new Error(`compileStream: capturing a frame of model '${this.model.name}' failed: ${(e as Error).message}`);
    } finally {
      tf.dispose(masks); // queued after the kernel that reads them; their blocks stay in the plan's pool
      setFrameStatsSink(previousSink);
      this.deltaLayers.forEach((l, i) => (l.statsEnabled = statsFlags[i]));
    }
    // The layers read the held buffers from now on; the plan owns what the frame wrote (and pins what it updates
    // in place, so that nothing frees a buffer the graph still writes).
    for (const s of plan.states) if (s.written != null) s.stream.rebind(s.name, tf.clone(s.held));
    // Statistics in the model's layer order (as getDeltaStats), not the order the frame ran the layers in.
    const order = (r: StatsRecord) => this.deltaLayers.indexOf(r.layer);
    plan.stats.sort((a, b) => order(a) - order(b));
    this.plan = plan;
    this.captures++;
  }

  private dropPlan(eagerFrames: number): void {
    const plan = this.plan;
    this.plan = null;
    this.eagerLeft = eagerFrames;
    if (plan == null) return;
    this.backend.n.planDestroy({plan: plan.id});
    plan.inputs.forEach((t) => t.dispose());
    plan.outputs.forEach((t) => t.dispose());
    plan.fractions?.dispose();
    for (const s of plan.states) {
      s.written?.dispose();
      s.held.dispose();
    }
  }
}

/** Compiles `model` (a dense or delta LayersModel on the 'cuda' backend) into a per-frame replayable plan. */
export function compileStream(model: tfl.LayersModel, options: CompileStreamOptions = {}): CompiledStream {
  return new CompiledStream(model, options);
}
