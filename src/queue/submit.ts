/**
 * Putting jobs on the queue: an interpolation (one flow of chunks and their concatenation) or a camera. Paths
 * travel as absolute paths and are read by the workers, so inputs, weights and outputs must be where every worker
 * sees them (shared storage) when workers run on several hosts.
 */
import * as fs from 'fs';
import * as path from 'path';

import {FlowProducer, Queue, QueueEvents} from 'bullmq';
import type {Redis} from 'ioredis';

import {connected, DEFAULT_PREFIX, QUEUE_NAMES, resultsKey} from './connection';
import {InterpolateJobResult, InterpolateSubmission, planInterpolation} from './interpolate_job';
import {checkPayload, StreamJob, streamJob} from './payloads';
import type {StreamResult} from './stream_job';

export interface SubmitOptions {
  redis: string;
  prefix?: string;
  /** Wait for the job to finish and return its result (default: return once it is queued). */
  wait?: boolean;
  /** Called while waiting with each progress report. */
  onProgress?: (line: string) => void;
}

/** Listens for the queue's events before the job is added, so that a quick job's end is not missed. */
async function listener(
  queueName: string,
  options: SubmitOptions,
): Promise<{events: QueueEvents; connection: Redis} | null> {
  if (!options.wait) return null;
  const connection = await connected(options.redis, {failFast: true});
  const events = new QueueEvents(queueName, {connection, prefix: options.prefix ?? DEFAULT_PREFIX});
  await events.waitUntilReady();
  return {events, connection};
}

/** BullMQ leaves connections it was given open: they are closed here. */
async function close(listening: {events: QueueEvents; connection: Redis} | null): Promise<void> {
  if (listening == null) return;
  await listening.events.close();
  listening.connection.disconnect();
}

export async function submitInterpolate(
  s: InterpolateSubmission,
  options: SubmitOptions,
): Promise<{id: string; chunks: number; frames: number; result?: InterpolateJobResult}> {
  const {id, flow} = planInterpolation(s);
  const connection = await connected(options.redis, {failFast: true});
  const producer = new FlowProducer({connection, prefix: options.prefix ?? DEFAULT_PREFIX});
  const events = await listener(QUEUE_NAMES.concat, options);
  try {
    const node = await producer.add(flow);
    const chunks = flow.children?.length ?? 0;
    const frames = (flow.data as {frames: number}).frames;
    if (events == null) return {id, chunks, frames};
    const result = (await node.job.waitUntilFinished(events.events)) as InterpolateJobResult;
    return {id, chunks, frames, result};
  } finally {
    await close(events);
    await producer.close();
    connection.disconnect();
  }
}

export interface StreamSubmission extends Omit<StreamJob, 'maxLen'> {
  maxLen?: number;
  /** Attempts of a camera that fails (a source that cannot be read, say) before it is given up (default 5). */
  attempts?: number;
}

/**
 * Queues a camera; its results go to the Redis stream `resultsKey`. A camera name is one job at a time: submitting
 * a camera that is still queued or running returns the job already there.
 */
export async function submitStream(
  s: StreamSubmission,
  options: SubmitOptions,
): Promise<{id: string; results: string; result?: StreamResult}> {
  const {attempts, ...payload} = s;
  const data = checkPayload(
    streamJob,
    {...payload, source: resolveIfFile(s.source), model: resolveIfFile(s.model)},
    'submit stream',
  );
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const connection = await connected(options.redis, {failFast: true});
  const queue = new Queue(QUEUE_NAMES.streams, {connection, prefix});
  const events = await listener(QUEUE_NAMES.streams, options);
  try {
    const job = await queue.add('stream', data, {
      // One job per camera while it is queued or running: a second submission gets the same job back.
      deduplication: {id: data.camera},
      attempts: attempts ?? 5,
      backoff: {type: 'exponential', delay: 2000},
      removeOnComplete: {age: 24 * 3600},
    });
    const results = resultsKey(prefix, data.camera);
    if (events == null) return {id: String(job.id), results};
    return {id: String(job.id), results, result: (await job.waitUntilFinished(events.events)) as StreamResult};
  } finally {
    await close(events);
    await queue.close();
    connection.disconnect();
  }
}

/** A local file becomes an absolute path (a folder: its model.json); anything else (a URL, 'posenet') stays. */
function resolveIfFile(p: string): string {
  if (!fs.existsSync(p)) return p;
  return fs.statSync(p).isDirectory() ? path.resolve(p, 'model.json') : path.resolve(p);
}
