/**
 * Frame interpolation over a whole video, streamed: decode -> FLAVR-style 4-frame windows ->
 * encode. Every input frame is kept and (factor - 1) frames are inserted between each pair; the
 * first and last windows repeat the edge frames, so no frame is dropped: n input frames give
 * (n - 1) * factor + 1 output frames.
 */
import * as tf from '@tensorflow/tfjs-core';

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

function toTensor(frames: Uint8Array[], h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.tensor4d(concatBytes(frames), [frames.length, h, w, 3], 'int32'), 255) as tf.Tensor4D);
}

function concatBytes(frames: Uint8Array[]): Int32Array {
  const out = new Int32Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const f of frames) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}

function toBytes(frames: tf.Tensor): Uint8Array {
  const values = tf.tidy(() => tf.clipByValue(tf.round(tf.mul(frames, 255)), 0, 255)).dataSync();
  return Uint8Array.from(values);
}

export async function interpolateVideo(options: InterpolateOptions): Promise<InterpolateResult> {
  const {factor} = options;
  if (![2, 4, 8].includes(factor)) throw new Error(`interpolate: --factor must be 2, 4 or 8, got ${factor}`);
  const info = probeVideo(options.input);
  const fps = options.slowmo ? info.fps : options.fps ?? info.fps * factor;
  if (!(fps > 0)) throw new Error(`interpolate: --fps must be a positive number, got ${options.fps}`);
  const batch = Math.max(1, Math.floor(options.batch ?? 1));
  const {width: w, height: h} = info;
  const frameBytes = w * h * 3;
  const writer = new VideoWriter(options.output,
      {width: w, height: h, fps, crf: options.crf, input: options.input, audioFrom: options.slowmo ? undefined : options.input});

  // frames[i] for the sliding window; windows wait in `queue` until a batch is full.
  const history: Uint8Array[] = [];
  let inputFrames = 0;
  let interrupted = false;
  const queue: Array<{left: Uint8Array, window: Uint8Array[]}> = [];

  const flush = async () => {
    if (queue.length === 0) return;
    const windows = tf.tidy(() => tf.reshape(toTensor(queue.flatMap(q => q.window), h, w), [queue.length, 4, h, w, 3]) as tf.Tensor5D);
    const middle = options.interpolator(windows);
    windows.dispose();
    const expected = [queue.length, factor - 1, h, w, 3];
    if (!tf.util.arraysEqual(middle.shape, expected)) {
      middle.dispose();
      throw new Error(`interpolate: the model returned shape [${middle.shape}], expected [${expected}]`);
    }
    const bytes = toBytes(middle);
    middle.dispose();
    for (let b = 0; b < queue.length; b++) {
      await writer.write(queue[b].left);
      for (let k = 0; k < factor - 1; k++) {
        const start = (b * (factor - 1) + k) * frameBytes;
        await writer.write(bytes.subarray(start, start + frameBytes));
      }
    }
    queue.length = 0;
  };

  // Window for the pair (i, i+1) is [i-1, i, i+1, i+2], edges repeated.
  const enqueue = (i: number, last: number) => {
    const at = (j: number) => history[Math.min(Math.max(j, 0), last) - (inputFrames - history.length)];
    queue.push({left: at(i), window: [at(i - 1), at(i), at(i + 1), at(i + 2)]});
  };

  try {
    let next = 0;  // next pair index to enqueue
    for await (const frame of readFrames(options.input)) {
      history.push(frame);
      inputFrames++;
      if (history.length > 5) history.shift();
      // Pair `next` needs frame next + 2, known once inputFrames >= next + 3.
      while (inputFrames >= next + 3) {
        enqueue(next++, Infinity);
        if (queue.length >= batch) await flush();
      }
      options.onProgress?.(inputFrames, info);
      if (options.shouldStop?.()) {
        interrupted = true;
        break;
      }
    }
    if (!interrupted) {
      for (; next < inputFrames - 1; next++) enqueue(next, inputFrames - 1);
      await flush();
      if (inputFrames > 0) await writer.write(history[history.length - 1]);
    } else {
      await flush();
    }
    if (inputFrames === 0) throw new Error(`interpolate: '${options.input}' has no frames`);
    await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return {inputFrames, outputFrames: writer.framesWritten, fps, interrupted};
}
