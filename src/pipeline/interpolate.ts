/**
 * Frame interpolation over a whole video, streamed: decode -> FLAVR-style 4-frame windows ->
 * encode. Every input frame is kept and (factor - 1) frames are inserted between each pair; the
 * first and last windows repeat the edge frames, so no frame is dropped: n input frames give
 * (n - 1) * factor + 1 output frames.
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

export async function interpolateVideo(options: InterpolateOptions): Promise<InterpolateResult> {
  const {factor} = options;
  if (![2, 4, 8].includes(factor)) throw new Error(`interpolate: --factor must be 2, 4 or 8, got ${factor}`);
  const info = probeVideo(options.input);
  const fps = options.slowmo ? info.fps : (options.fps ?? info.fps * factor);
  if (!(fps > 0)) throw new Error(`interpolate: --fps must be a positive number, got ${options.fps}`);
  const batch = Math.max(1, Math.floor(options.batch ?? 1));
  const depth = Math.max(1, Math.floor(options.inFlight ?? 2));
  const {width: w, height: h} = info;
  const frameBytes = w * h * 3;
  const writer = new VideoWriter(options.output, {
    width: w,
    height: h,
    fps,
    crf: options.crf,
    input: options.input,
    audioFrom: options.slowmo ? undefined : options.input,
  });

  // The decoded frames a queued window may still need: host bytes (written as they are) and the frame on
  // the backend as [1, 1, H, W, 3] in [0, 1], uploaded once and shared by the four windows that use it.
  interface Frame {
    bytes: Uint8Array;
    pixels: tf.Tensor;
  }
  const history: Frame[] = [];
  const keep = batch + 4;
  let inputFrames = 0;
  let interrupted = false;
  let queue: Array<{left: Uint8Array; window: tf.Tensor[]}> = [];
  const inFlight: Array<{lefts: Uint8Array[]; middle: Promise<Uint8Array>}> = [];

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
        await writer.write(lefts[b]);
        for (let k = 0; k < factor - 1; k++) {
          const start = (b * (factor - 1) + k) * frameBytes;
          await writer.write(bytes.subarray(start, start + frameBytes));
        }
      }
    }
  };

  // Window for the pair (i, i+1) is [i-1, i, i+1, i+2], edges repeated.
  const enqueue = (i: number, last: number) => {
    const at = (j: number) => history[Math.min(Math.max(j, 0), last) - (inputFrames - history.length)];
    queue.push({left: at(i).bytes, window: [at(i - 1), at(i), at(i + 1), at(i + 2)].map((f) => f.pixels)});
  };

  try {
    let next = 0; // next pair index to enqueue
    for await (const bytes of readFrames(options.input)) {
      history.push({bytes, pixels: framesFromBytes(bytes, [1, 1, h, w, 3])});
      inputFrames++;
      // Frames older than every queued window are done with: launch() has consumed the queue that used them.
      while (history.length > keep) history.shift()!.pixels.dispose();
      // Pair `next` needs frame next + 2, known once inputFrames >= next + 3.
      while (inputFrames >= next + 3) {
        enqueue(next++, Infinity);
        if (queue.length >= batch) {
          launch();
          await drain(depth - 1);
        }
      }
      options.onProgress?.(inputFrames, info);
      if (options.shouldStop?.()) {
        interrupted = true;
        break;
      }
    }
    if (!interrupted) {
      for (; next < inputFrames - 1; next++) {
        enqueue(next, inputFrames - 1);
        if (queue.length >= batch) {
          launch();
          await drain(depth - 1);
        }
      }
    }
    launch();
    await drain(0);
    // The last frame written is a real one: the last input frame, or after an interruption the right frame of the
    // last pair written (every pair up to `next` is out).
    const last = interrupted ? history[next - (inputFrames - history.length)] : history[history.length - 1];
    if (inputFrames > 0) await writer.write(last.bytes);
    if (inputFrames === 0) throw new Error(`interpolate: '${options.input}' has no frames`);
    await writer.finish();
  } catch (e) {
    await Promise.allSettled(inFlight.map((r) => r.middle));
    // The job's own error is what the caller needs; a failure to clean up must not replace it.
    await writer.abort().catch(() => undefined);
    throw e;
  } finally {
    for (const f of history) f.pixels.dispose();
  }
  return {inputFrames, outputFrames: writer.framesWritten, fps, interrupted};
}
