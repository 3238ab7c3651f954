/**
 * Frame interpolation over a whole video, streamed: decode -> FLAVR-style 4-frame windows ->
 * encode. Every input frame is kept and (factor - 1) frames are inserted between each pair; the
 * first and last windows repeat the edge frames, so no frame is dropped: n input frames give
 * (n - 1) * factor + 1 output frames.
 *
 * The pair (i, i + 1) is written as frame i and the frames between, from the window [i - 1, i, i + 1, i + 2]
 * (indices clamped to the video); the last frame follows the last pair. `interpolateFrames` does any run of pairs
 * [from, to) given the frames from max(from - 1, 0) to to + 1, so chunks of one video interpolated apart and put
 * end to end give the frames of the whole video interpolated at once (src/queue/interpolate_job.ts).
 *
 * The stages overlap: ffmpeg decodes and encodes in their own processes, each decoded frame is uploaded
 * once as bytes and converted on the backend, the model's frames are converted to bytes there and read
 * back asynchronously, and up to `inFlight` batches are launched before the oldest one's bytes are
 * awaited, so the backend computes the next windows while the encoder takes the last ones.
 */
import * as tf from '@tensorflow/tfjs-core';

import {framesFromBytes, framesToBytes} from '../ops/frame_bytes';
import {probeVideo, readFrames, VideoInfo, VideoWriter} from './ffmpeg';

/**
 * A model that maps windows [B, 4, H, W, 3] of frames in [0, 1] to the (factor - 1) frames
 * between the middle two: [B, factor - 1, H, W, 3]. H and W are the video's own size.
 */
export type Interpolator = (windows: tf.Tensor5D) => tf.Tensor5D;

export interface InterpolateOptions {
  input: string;
  output: string;
  factor: number;
  interpolator: Interpolator;
  /** Output frame rate; default input fps x factor (true frame-rate conversion). */
  fps?: number;
  /** Keep the input frame rate (slow motion); overrides fps. */
  slowmo?: boolean;
  /** x264 quality (CRF, default 18; 0 = lossless). */
  crf?: number;
  /** Windows per model call (default 1). */
  batch?: number;
  /** Batches launched before the oldest one's frames are awaited and encoded (default 2). */
  inFlight?: number;
  /** Called after each input frame pair with frames done so far. */
  onProgress?: (inputFramesDone: number, info: VideoInfo) => void;
  /** Checked between batches: when it returns true the job stops and keeps what it wrote. */
  shouldStop?: () => boolean;
}

export interface InterpolateResult {
  inputFrames: number;
  outputFrames: number;
  fps: number;
  interrupted: boolean;
}

export interface InterpolateFramesOptions {
  width: number;
  height: number;
  factor: number;
  interpolator: Interpolator;
  /** Windows per model call (default 1). */
  batch?: number;
  /** Batches launched before the oldest one's frames are awaited and written (default 2). */
  inFlight?: number;
  /** The first pair (i, i + 1) to interpolate (default 0); the frames given start at frame max(from - 1, 0). */
  from?: number;
  /** The pair to stop before (default: the end of the video); frames past to + 1 are not read. */
  to?: number;
  /** The source, in errors. */
  name: string;
  /** Called after each input frame with the index one past it. */
  onProgress?: (inputFramesDone: number) => void;
  /** Checked between frames: when it returns true the run stops and keeps what it wrote. */
  shouldStop?: () => boolean;
}

export interface InterpolateFramesResult {
  /** One past the index of the last input frame read: the video's frame count when `ended`. */
  inputFrames: number;
  /** Pairs [from, pairsEnd) were written. */
  pairsEnd: number;
  /** The video ended before frame to + 1: the range held its last pair, and its last frame was written. */
  ended: boolean;
  outputFrames: number;
  interrupted: boolean;
}

/**
 * Interpolates the pairs [from, to) of a video whose frames from max(from - 1, 0) on are `frames` (H x W RGB
 * bytes), handing each output frame to `write` in order: frame i, then the factor - 1 frames after it, for each
 * pair i; then, when the video ends inside the range, its last frame.
 */
export async function interpolateFrames(
  frames: AsyncIterable<Uint8Array>,
  options: InterpolateFramesOptions,
  write: (frame: Uint8Array) => Promise<void>,
): Promise<InterpolateFramesResult> {
  const {factor, width: w, height: h} = options;
  const from = options.from ?? 0;
  const to = options.to ?? Infinity;
  if (!Number.isInteger(from) || from < 0 || !(to > from)) {
    throw new Error(`interpolate: the pairs [${from}, ${to}) of '${options.name}' are not a range of pairs`);
  }
  const batch = Math.max(1, Math.floor(options.batch ?? 1));
  const depth = Math.max(1, Math.floor(options.inFlight ?? 2));
  const frameBytes = w * h * 3;

  // The decoded frames a queued window may still need: host bytes (written as they are) and the frame on
  // the backend as [1, 1, H, W, 3] in [0, 1], uploaded once and shared by the four windows that use it.
  interface Frame {
    bytes: Uint8Array;
    pixels: tf.Tensor;
  }
  const history: Frame[] = [];
  const keep = batch + 4;
  const first = Math.max(from - 1, 0);
  // Frame indices are the video's: history holds frames [inputFrames - history.length, inputFrames).
  let inputFrames = first;
  let outputFrames = 0;
  let interrupted = false;
  let queue: Array<{left: Uint8Array; window: tf.Tensor[]}> = [];
  const inFlight: Array<{lefts: Uint8Array[]; middle: Promise<Uint8Array>}> = [];
  const emit = async (frame: Uint8Array) => {
    await write(frame);
    outputFrames++;
  };

  const launch = () => {
    if (queue.length === 0) return;
    const windows = tf.tidy(() =>
      tf.concat(
        queue.map((q) => tf.concat(q.window, 1)),
        0,
      ),
    ) as tf.Tensor5D;
    let middle: tf.Tensor5D;
    try {
      middle = options.interpolator(windows);
    } finally {
      windows.dispose();
    }
    const expected = [queue.length, factor - 1, h, w, 3];
    if (!tf.util.arraysEqual(middle.shape, expected)) {
      middle.dispose();
      throw new Error(`interpolate: the model returned shape [${middle.shape}], expected [${expected}]`);
    }
    let bytes: Promise<Uint8Array>;
    try {
      bytes = framesToBytes(middle);
    } finally {
      middle.dispose();
    }
    // A rejected read is awaited in drain(); until then it must not count as unhandled.
    bytes.catch(() => undefined);
    inFlight.push({lefts: queue.map((q) => q.left), middle: bytes});
    queue = [];
  };

  const drain = async (pending: number) => {
    while (inFlight.length > pending) {
      const {lefts, middle} = inFlight.shift()!;
      const bytes = await middle;
      for (let b = 0; b < lefts.length; b++) {
        await emit(lefts[b]);
        for (let k = 0; k < factor - 1; k++) {
          const start = (b * (factor - 1) + k) * frameBytes;
          await emit(bytes.subarray(start, start + frameBytes));
        }
      }
    }
  };

  // Window for the pair (i, i+1) is [i-1, i, i+1, i+2], clamped to the video's frames [0, last].
  const enqueue = (i: number, last: number) => {
    const at = (j: number) => history[Math.min(Math.max(j, 0), last) - (inputFrames - history.length)];
    queue.push({left: at(i).bytes, window: [at(i - 1), at(i), at(i + 1), at(i + 2)].map((f) => f.pixels)});
  };

  try {
    let next = from; // next pair index to enqueue
    for await (const bytes of frames) {
      history.push({bytes, pixels: framesFromBytes(bytes, [1, 1, h, w, 3])});
      inputFrames++;
      // Frames older than every queued window are done with: launch() has consumed the queue that used them.
      while (history.length > keep) history.shift()!.pixels.dispose();
      // Pair `next` needs frame next + 2, known once inputFrames >= next + 3.
      while (inputFrames >= next + 3 && next < to) {
        enqueue(next++, Infinity);
        if (queue.length >= batch) {
          launch();
          await drain(depth - 1);
        }
      }
      options.onProgress?.(inputFrames);
      if (options.shouldStop?.()) {
        interrupted = true;
        break;
      }
      if (inputFrames >= to + 2) break; // the last pair's window is complete
    }
    const ended = !interrupted && inputFrames < to + 2;
    if (ended) {
      for (; next < inputFrames - 1 && next < to; next++) {
        enqueue(next, inputFrames - 1);
        if (queue.length >= batch) {
          launch();
          await drain(depth - 1);
        }
      }
    }
    launch();
    await drain(0);
    if (from === 0 && inputFrames === 0) throw new Error(`interpolate: '${options.name}' has no frames`);
    if (interrupted) {
      // The last frame written is a real one: the right frame of the last pair written (every pair up to `next`
      // is out).
      if (inputFrames > first) await emit(history[next - (inputFrames - history.length)].bytes);
    } else if (ended && inputFrames > first && (inputFrames - 2 >= from || from === 0)) {
      // The video's last frame, by the range that holds its last pair (or its only frame).
      await emit(history[history.length - 1].bytes);
    }
    return {inputFrames, pairsEnd: next, ended, outputFrames, interrupted};
  } catch (e) {
    await Promise.allSettled(inFlight.map((r) => r.middle));
    throw e;
  } finally {
    for (const f of history) f.pixels.dispose();
  }
}

export async function interpolateVideo(options: InterpolateOptions): Promise<InterpolateResult> {
  const {factor} = options;
  if (![2, 4, 8].includes(factor)) throw new Error(`interpolate: --factor must be 2, 4 or 8, got ${factor}`);
  const info = probeVideo(options.input);
  const fps = options.slowmo ? info.fps : (options.fps ?? info.fps * factor);
  if (!(fps > 0)) throw new Error(`interpolate: --fps must be a positive number, got ${options.fps}`);
  const writer = new VideoWriter(options.output, {
    width: info.width,
    height: info.height,
    fps,
    crf: options.crf,
    input: options.input,
    audioFrom: options.slowmo ? undefined : options.input,
  });
  let result: InterpolateFramesResult;
  try {
    result = await interpolateFrames(
      readFrames(options.input),
      {
        width: info.width,
        height: info.height,
        factor,
        interpolator: options.interpolator,
        batch: options.batch,
        inFlight: options.inFlight,
        name: options.input,
        onProgress: options.onProgress == null ? undefined : (done) => options.onProgress!(done, info),
        shouldStop: options.shouldStop,
      },
      (frame) => writer.write(frame),
    );
    await writer.finish();
  } catch (e) {
    // The job's own error is what the caller needs; a failure to clean up must not replace it.
    await writer.abort().catch(() => undefined);
    throw e;
  }
  return {inputFrames: result.inputFrames, outputFrames: writer.framesWritten, fps, interrupted: result.interrupted};
}
