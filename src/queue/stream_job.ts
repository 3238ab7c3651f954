/**
 * A camera on the queue: a BullMQ job that a worker holds for as long as the camera runs. BullMQ's job lock is
 * the lease: a Redis key with an expiry that the holder renews (lockDuration, renewed at half of it); when a
 * worker dies the lease lapses, a living worker's stalled-job check puts the camera back on the queue, and the
 * next worker with room takes it over. Each frame's result (poses or classes, timings, delta statistics) goes to
 * the camera's Redis stream (XADD) through a script that first checks that the publisher still holds the lease,
 * so a worker that lost its camera (paused past the lease) cannot write after the new holder. A new holder
 * continues after the last frame published for the job: for a file it starts its decoder at that frame, so each
 * frame is published once; a live source just continues, and the frames of the gap are lost.
 */
import * as fs from 'fs';

import type * as tfl from '@tensorflow/tfjs-layers';
import {loadLayersModel} from '@tensorflow/tfjs-layers';
import {Job, UnrecoverableError, WaitingError} from 'bullmq';
import type {Redis} from 'ioredis';

import {ensurePosenet} from '../io/cache';
import {nodeFileSystem} from '../io/node_file_system';
import {posenet} from '../models/posenet';
import {posenetInputSize} from '../models/posenet_decode';
import {frameTimes, probeVideo, readFrames} from '../pipeline/ffmpeg';
import {runModelOnVideo} from '../pipeline/run_model';
import {resultsKey} from './connection';
import {checkPayload, StreamJob, streamJob} from './payloads';

/** XADD only while KEYS[1] (the job's lock) holds ARGV[1] (this worker's token); nil otherwise. */
const FENCED_XADD = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
`;

type FencedClient = Redis & {
  fencedXadd(lock: string, stream: string, token: string, maxLen: number, ...fields: string[]): Promise<string | null>;
};

/** The client with the fenced publish defined on it. */
export function withFencedXadd(client: Redis): FencedClient {
  if (!('fencedXadd' in client)) client.defineCommand('fencedXadd', {numberOfKeys: 2, lua: FENCED_XADD});
  return client as FencedClient;
}

/** The Redis key of a job's lock (BullMQ's layout: the queue's qualified name, the job id, ':lock'). */
export function lockKey(job: Job): string {
  return `${job.queueQualifiedName}:${job.id}:lock`;
}

/** Dense models loaded once per worker and model name; every camera gets its own delta state (toDelta). */
export class ModelCache {
  private readonly models = new Map<string, Promise<tfl.LayersModel>>();

  get(model: string): Promise<tfl.LayersModel> {
    let m = this.models.get(model);
    if (m == null) {
      m = model === 'posenet' ? ensurePosenet().then(posenet) : loadLayersModel(nodeFileSystem(model));
      m.catch(() => this.models.delete(model));
      this.models.set(model, m);
    }
    return m;
  }

  async dispose(): Promise<void> {
    for (const m of this.models.values()) (await m.catch(() => null))?.dispose();
    this.models.clear();
  }
}

export interface StreamResult {
  camera: string;
  /** Frames this holder published, and the index after the last one published for the job. */
  published: number;
  nextFrame: number;
}

export interface StreamControl {
  /** Set when the worker shuts down: the camera goes back to the queue for another worker. */
  stopping(): boolean;
  /** Called when this holder finds that another one took the camera over. */
  onLost?: () => void;
}

/** Where the job's frames go on: after the last frame this job published (0 for a fresh job). */
async function resumeFrame(client: Redis, stream: string, jobId: string): Promise<number> {
  const last = await client.xrevrange(stream, '+', '-', 'COUNT', 1);
  if (last.length === 0) return 0;
  const fields = last[0][1];
  const get = (name: string) => fields[fields.indexOf(name) + 1];
  return get('job') === jobId ? Number(get('frame')) + 1 : 0;
}

export async function runStream(
  job: Job,
  token: string,
  client: Redis,
  prefix: string,
  models: ModelCache,
  worker: string,
  control: StreamControl,
): Promise<StreamResult> {
  const what = `stream job ${job.id}`;
  const data: StreamJob = checkPayload(streamJob, job.data, what);
  const isFile = fs.existsSync(data.source);
  const modelProblem =
    data.model === 'posenet' || (fs.existsSync(data.model) && data.model.endsWith('.json'))
      ? null
      : `model '${data.model}' is neither 'posenet' nor an existing model.json`;
  if (modelProblem != null) throw new UnrecoverableError(`${what}: ${modelProblem}`);
  const stream = resultsKey(prefix, data.camera);
  const start = await resumeFrame(client, stream, String(job.id));
  const limit = data.frames ?? Infinity;
  if (start >= limit) return {camera: data.camera, published: 0, nextFrame: start};
  let startSeconds = 0;
  if (isFile && start > 0) {
    const {times} = frameTimes(data.source);
    if (start >= times.length) return {camera: data.camera, published: 0, nextFrame: start};
    startSeconds = Math.max(0, times[start] - (times[start] - times[start - 1]) / 100);
  }
  const info = probeVideo(data.source);
  const model = await models.get(data.model);
  const isPosenet = data.model === 'posenet';
  let [height, width] = data.size ?? [model.inputs[0].shape[1], model.inputs[0].shape[2]];
  if (data.size == null && isPosenet) [height, width] = posenetInputSize(info.height, info.width);
  if (height == null || width == null) {
    const scale = Math.min(1, 384 / Math.max(info.width, info.height));
    [height, width] = [Math.round(info.height * scale), Math.round(info.width * scale)];
  }
  const fenced = withFencedXadd(client);
  const lock = lockKey(job);
  let published = 0;
  let lost = false;
  await runModelOnVideo({
    input: data.source,
    model,
    mode: data.mode,
    threshold: data.threshold,
    height,
    width,
    range: isPosenet ? [-1, 1] : [0, 1],
    maxFrames: Number.isFinite(limit) ? limit - start : undefined,
    layerStats: data.mode === 'delta',
    results: true,
    source: {
      info,
      frames: readFrames(data.source, {
        startSeconds,
        maxFrames: Number.isFinite(limit) ? limit - start : undefined,
      }),
    },
    onFrame: async (record, _info, results) => {
      const fields: Record<string, string | number | undefined> = {
        frame: start + record.frame,
        job: String(job.id),
        worker,
        ms: record.deltaMs ?? record.denseMs,
        inputActive: record.inputActive,
        macsSkipped: record.macsSkipped,
        poses: results?.poses != null ? JSON.stringify(results.poses) : undefined,
        classes: results?.classes != null ? JSON.stringify(results.classes) : undefined,
        time: Date.now(),
      };
      const flat = Object.entries(fields).flatMap(([k, v]) => (v == null ? [] : [k, String(v)]));
      const id = await fenced.fencedXadd(lock, stream, token, data.maxLen, ...flat);
      if (id == null) {
        lost = true;
        control.onLost?.();
      } else {
        published++;
      }
    },
    shouldStop: () => lost || control.stopping(),
  });
  if (lost) throw new Error(`${what}: camera '${data.camera}' was taken over by another worker`);
  if (control.stopping()) {
    // Back to the queue at once, for another worker to continue after the last frame published.
    await job.moveToWait(token);
    throw new WaitingError();
  }
  return {camera: data.camera, published, nextFrame: start + published};
}
