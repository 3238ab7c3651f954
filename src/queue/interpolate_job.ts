/**
 * Chunked interpolation on the queue. A video of n frames has n - 1 pairs; a job of P pairs per chunk becomes
 * chunks [0, P), [P, 2P), ... (the last one open to the end of the video), each a BullMQ job any worker takes,
 * under one parent job that runs once every chunk is done (a BullMQ flow) and concatenates them.
 *
 * A chunk [from, to) decodes frames max(from - 1, 0) to to + 1: FLAVR's window for the pair (i, i + 1) is
 * [i - 1, i + 2], so neighbouring chunks share three frames. It starts its decoder at an exact frame (the frame's
 * time from the packets, frameTimes) and interpolates with the same code as a single process (interpolateFrames),
 * so the concatenated frames are those of `tfjs-delta interpolate`: frame i and the frames after it for each pair
 * in the chunk, and the last frame from the chunk that meets the end of the video. Chunks write lossless
 * intermediates (FFV1) under unique names, so an attempt abandoned by a dead worker can never mix with its retry;
 * the parent checks that the chunks' pairs tile [0, n - 1) exactly, that the frames they share decoded to the
 * same bytes, and the frame count, before it encodes the one output with the input's audio.
 */
import {createHash, randomUUID} from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {FlowJob, Job, UnrecoverableError} from 'bullmq';

import {flavrWeightsProblem, loadFlavr} from '../models/flavr_weights';
import {frameTimes, probeVideo, readFrames, videoOutputProblem, VideoWriter} from '../pipeline/ffmpeg';
import {interpolateFrames} from '../pipeline/interpolate';
import {CompiledStream, compileStream} from '../stream/compile_stream';
import {QUEUE_NAMES} from './connection';
import {checkPayload, ChunkJob, chunkJob, ConcatJob, concatJob} from './payloads';

export interface InterpolateSubmission {
  input: string;
  output: string;
  weights: string;
  factor: number;
  fps?: number;
  slowmo?: boolean;
  crf?: number;
  batch?: number;
  /** Pairs per chunk (default 64). */
  pairsPerChunk?: number;
  /** Shared folder for the intermediates (default: a hidden folder beside the output). */
  workDir?: string;
  /** Attempts per chunk before the job fails (default 3). */
  attempts?: number;
}

/** What a chunk reports to the parent. */
export interface ChunkResult {
  index: number;
  from: number;
  pairsEnd: number;
  ended: boolean;
  /** The video's frame count when `ended`; else one past the last frame decoded. */
  inputFrames: number;
  outputFrames: number;
  file: string | null;
  /** SHA-1 of the first and last three frames decoded, by frame index: neighbours must agree on shared frames. */
  hashes: Record<string, string>;
  worker: string;
}

export interface InterpolateJobResult {
  output: string;
  inputFrames: number;
  outputFrames: number;
  chunks: number;
  fps: number;
}

/**
 * The flow of one interpolation job: checks the input (constant frame rate, frames counted from its packets)
 * and plans the chunks. Paths are made absolute: workers resolve them on their own machines (shared storage).
 */
export function planInterpolation(s: InterpolateSubmission): {id: string; flow: FlowJob} {
  const what = 'submit interpolate';
  if (![2, 4, 8].includes(s.factor)) throw new Error(`${what}: --factor must be 2, 4 or 8, got ${s.factor}`);
  const weightsProblem = flavrWeightsProblem(s.weights);
  if (weightsProblem != null) throw new Error(`${what} --weights '${s.weights}': ${weightsProblem}`);
  const outputProblem = videoOutputProblem(s.output, s.input);
  if (outputProblem != null) throw new Error(`${what} -o '${s.output}': ${outputProblem}`);
  const pairsPerChunk = s.pairsPerChunk ?? 64;
  if (!Number.isInteger(pairsPerChunk) || pairsPerChunk < 1) {
    throw new Error(`${what}: --chunk must be a whole number of pairs >= 1, got ${s.pairsPerChunk}`);
  }
  const info = probeVideo(s.input);
  const {times, constantRate} = frameTimes(s.input);
  if (!constantRate) {
    throw new Error(
      `${what}: '${s.input}' has a variable frame rate; chunks start at exact frames only in constant-rate ` +
        'video: convert it first (ffmpeg -i IN -fps_mode cfr OUT) or use `tfjs-delta interpolate`',
    );
  }
  if (times.length === 0) throw new Error(`${what}: '${s.input}' has no video frames`);
  const id = `interp-${randomUUID().slice(0, 8)}`;
  const input = path.resolve(s.input);
  const output = path.resolve(s.output);
  const workDir = path.resolve(
    s.workDir ?? path.join(path.dirname(output), `.${path.basename(output, path.extname(output))}.${id}.chunks`),
  );
  const n = times.length;
  const chunks = Math.max(1, Math.ceil((n - 1) / pairsPerChunk));
  const attempts = s.attempts ?? 3;
  const children: FlowJob[] = [];
  for (let index = 0; index < chunks; index++) {
    const from = index * pairsPerChunk;
    const first = Math.max(from - 1, 0);
    // A hundredth of a frame before the frame: the decoder keeps it and drops the one before, whatever rounding.
    const startSeconds = first === 0 ? 0 : Math.max(0, times[first] - (times[first] - times[first - 1]) / 100);
    const data: ChunkJob = {
      job: id,
      index,
      input,
      weights: path.resolve(s.weights),
      factor: s.factor as 2 | 4 | 8,
      batch: s.batch ?? 1,
      from,
      to: index === chunks - 1 ? undefined : from + pairsPerChunk,
      startSeconds,
      workDir,
    };
    children.push({
      name: 'chunk',
      queueName: QUEUE_NAMES.chunks,
      data,
      opts: {
        jobId: `${id}-chunk-${index}`,
        attempts,
        backoff: {type: 'exponential', delay: 1000},
        failParentOnFailure: true,
        removeOnComplete: {age: 24 * 3600},
      },
    });
  }
  const parent: ConcatJob = {
    job: id,
    input,
    output,
    factor: s.factor as 2 | 4 | 8,
    fps: s.fps,
    slowmo: s.slowmo,
    crf: s.crf,
    width: info.width,
    height: info.height,
    frames: n,
    chunks,
    pairsPerChunk,
    workDir,
  };
  return {
    id,
    flow: {
      name: 'concat',
      queueName: QUEUE_NAMES.concat,
      data: parent,
      opts: {jobId: id, attempts: 2, backoff: {type: 'fixed', delay: 1000}},
      children,
    },
  };
}

/** FLAVR loaded once per worker and weights file (and compiled once on 'cuda'), reused by later chunks. */
export class FlavrCache {
  private entry: {weights: string; model: tfl.LayersModel; stream: CompiledStream | null} | null = null;

  async get(weights: string, factor: number, what: string) {
    if (this.entry?.weights !== weights) {
      this.dispose();
      const problem = flavrWeightsProblem(weights);
      if (problem != null) throw new UnrecoverableError(`${what}: weights '${weights}': ${problem}`);
      const model = await loadFlavr(weights);
      // On 'cuda' a window's kernels replay as one CUDA graph in fp16, as `tfjs-delta interpolate` runs them.
      const stream = tf.getBackend() === 'cuda' ? compileStream(model, {precision: 'fp16'}) : null;
      this.entry = {weights, model, stream};
    }
    const {model, stream} = this.entry!;
    const modelFactor = (model.outputs[0].shape[1] ?? 1) + 1;
    if (modelFactor !== factor) {
      throw new UnrecoverableError(
        `${what}: factor ${factor} does not match the weights, which interpolate ${modelFactor}x`,
      );
    }
    return (windows: tf.Tensor5D) => (stream != null ? stream.step(windows) : model.predict(windows)) as tf.Tensor5D;
  }

  dispose(): void {
    this.entry?.stream?.dispose();
    this.entry?.model.dispose();
    this.entry = null;
  }
}

const sha1 = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest('hex');

/** Interpolates one chunk into a lossless intermediate in the job's folder. */
export async function runChunk(job: Job, flavr: FlavrCache, worker: string): Promise<ChunkResult> {
  const what = `interpolate chunk job ${job.id}`;
  const data = checkPayload(chunkJob, job.data, what);
  if (!fs.existsSync(data.input)) throw new UnrecoverableError(`${what}: input '${data.input}' does not exist`);
  const interpolator = await flavr.get(data.weights, data.factor, what);
  const info = probeVideo(data.input);
  fs.mkdirSync(data.workDir, {recursive: true});
  const first = Math.max(data.from - 1, 0);
  const file = path.join(data.workDir, `chunk-${String(data.index).padStart(5, '0')}.${randomUUID().slice(0, 8)}.mkv`);
  // Intermediates at 1 frame/s: Matroska's millisecond timestamps are then exact, so reading back neither drops
  // nor repeats a frame.
  const writer = new VideoWriter(file, {width: info.width, height: info.height, fps: 1, lossless: true});
  const decoded: Array<[number, string]> = [];
  let index = first;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    const frames = readFrames(data.input, {
      startSeconds: data.startSeconds,
      maxFrames: data.to == null ? undefined : data.to + 2 - first,
    });
    for await (const frame of frames) {
      decoded.push([index++, sha1(frame)]);
      yield frame;
    }
  }
  let reported = 0;
  try {
    const result = await interpolateFrames(
      hashed(),
      {
        width: info.width,
        height: info.height,
        factor: data.factor,
        interpolator,
        batch: data.batch,
        from: data.from,
        to: data.to,
        name: data.input,
        onProgress: (done) => {
          // Progress now and then: each update is a round trip to Redis.
          if (done - reported >= 8) {
            reported = done;
            void job.updateProgress({inputFrames: done}).catch(() => undefined);
          }
        },
      },
      (frame) => writer.write(frame),
    );
    if (result.outputFrames > 0) await writer.finish();
    else await writer.abort();
    const kept = [...decoded.slice(0, 3), ...decoded.slice(Math.max(3, decoded.length - 3))];
    return {
      index: data.index,
      from: data.from,
      pairsEnd: result.pairsEnd,
      ended: result.ended,
      inputFrames: result.inputFrames,
      outputFrames: result.outputFrames,
      file: result.outputFrames > 0 ? file : null,
      hashes: Object.fromEntries(kept),
      worker,
    };
  } catch (e) {
    await writer.abort().catch(() => undefined);
    throw e;
  }
}

/**
 * Why the chunks do not make up the video exactly (a pair missing or twice, frames that differ between
 * neighbours, a wrong count), or null. Returns the video's frame count as the chunks decoded it.
 */
export function checkChunks(data: ConcatJob, results: ChunkResult[]): {frames: number; problem: string | null} {
  const byIndex = [...results].sort((a, b) => a.index - b.index);
  if (byIndex.length !== data.chunks || byIndex.some((r, i) => r.index !== i)) {
    return {frames: 0, problem: `expected chunks 0 to ${data.chunks - 1}, got [${byIndex.map((r) => r.index)}]`};
  }
  const end = byIndex.findIndex((r) => r.ended);
  if (end < 0) return {frames: 0, problem: 'no chunk reached the end of the video'};
  const n = byIndex[end].inputFrames;
  for (const r of byIndex) {
    const expectedEnd = Math.min(
      r.index < data.chunks - 1 ? r.from + data.pairsPerChunk : Infinity,
      Math.max(n - 1, r.from),
    );
    if (r.pairsEnd !== expectedEnd) {
      return {
        frames: n,
        problem: `chunk ${r.index} interpolated pairs [${r.from}, ${r.pairsEnd}), expected [${r.from}, ${expectedEnd})`,
      };
    }
    // A chunk that starts past the end decodes nothing; one that decoded frames must agree on the count.
    if (r.ended && r.inputFrames > Math.max(r.from - 1, 0) && r.inputFrames !== n) {
      return {
        frames: n,
        problem: `chunk ${r.index} found ${r.inputFrames} frames in the video, chunk ${end} found ${n}`,
      };
    }
  }
  for (let i = 0; i + 1 < byIndex.length; i++) {
    for (const [frame, hash] of Object.entries(byIndex[i].hashes)) {
      const other = byIndex[i + 1].hashes[frame];
      if (other != null && other !== hash) {
        return {
          frames: n,
          problem: `chunks ${i} and ${i + 1} decoded frame ${frame} differently: the decoder did not start at the exact frame`,
        };
      }
    }
  }
  const total = byIndex.reduce((sum, r) => sum + r.outputFrames, 0);
  const expected = (n - 1) * data.factor + 1;
  if (total !== expected)
    return {
      frames: n,
      problem: `the chunks hold ${total} frames, expected (${n} - 1) x ${data.factor} + 1 = ${expected}`,
    };
  return {frames: n, problem: null};
}

/** The parent job: checks the chunks and encodes them, in order, into the output with the input's audio. */
export async function runConcat(job: Job): Promise<InterpolateJobResult> {
  const what = `interpolate job ${job.id}`;
  const data = checkPayload(concatJob, job.data, what);
  const results = Object.values(await job.getChildrenValues<ChunkResult>());
  const {frames, problem} = checkChunks(data, results);
  if (problem != null) throw new UnrecoverableError(`${what}: ${problem}`);
  const fps = data.slowmo ? probeVideo(data.input).fps : (data.fps ?? probeVideo(data.input).fps * data.factor);
  const writer = new VideoWriter(data.output, {
    width: data.width,
    height: data.height,
    fps,
    crf: data.crf,
    input: data.input,
    audioFrom: data.slowmo ? undefined : data.input,
  });
  try {
    for (const r of [...results].sort((a, b) => a.index - b.index)) {
      if (r.file == null) continue;
      let got = 0;
      for await (const frame of readFrames(r.file)) {
        await writer.write(frame);
        got++;
      }
      if (got !== r.outputFrames) {
        throw new UnrecoverableError(
          `${what}: chunk ${r.index}'s file '${r.file}' holds ${got} frames, it wrote ${r.outputFrames}`,
        );
      }
    }
    await writer.finish();
  } catch (e) {
    await writer.abort().catch(() => undefined);
    throw e;
  }
  fs.rmSync(data.workDir, {recursive: true, force: true});
  return {output: data.output, inputFrames: frames, outputFrames: writer.framesWritten, chunks: data.chunks, fps};
}
