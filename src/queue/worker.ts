/**
 * A worker: one process per GPU (its backend chosen by the caller), taking interpolation chunks one at a time,
 * concatenations, and up to `streams` cameras at once from the BullMQ queues on one Redis server. It prints what
 * it holds whenever that changes. Stopping it (stop()) hands its cameras back to the queue at once and lets the
 * chunk in hand finish; a worker that dies instead loses its leases after `lockMs`, and the other workers take its
 * jobs over.
 */
import {hostname} from 'os';

import {Job, UnrecoverableError, Worker} from 'bullmq';
import type {Redis} from 'ioredis';

import {connect, DEFAULT_PREFIX, QUEUE_NAMES} from './connection';
import {FlavrCache, runChunk, runConcat} from './interpolate_job';
import {ModelCache, runStream} from './stream_job';

export interface WorkerOptions {
  redis: string;
  prefix?: string;
  /** Shown in what it prints and stored with each result (default host:pid). */
  name?: string;
  /** Cameras held at once (default 4; 0 takes none). */
  streams?: number;
  /** Lease of a job: a dead worker's jobs go to others after about this long plus stalledMs (default 30000). */
  lockMs?: number;
  /** How often this worker looks for jobs whose lease lapsed (default lockMs / 2). */
  stalledMs?: number;
  /** Where it reports (default console.log). */
  log?: (line: string) => void;
}

export interface RunningWorker {
  name: string;
  /** Hands the cameras back, waits for the jobs in hand, closes the connections. */
  stop(): Promise<void>;
  holding(): string[];
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const log = options.log ?? ((line: string) => console.log(line));
  const lockDuration = options.lockMs ?? 30000;
  const stalledInterval = options.stalledMs ?? Math.max(500, Math.floor(lockDuration / 2));
  const streams = options.streams ?? 4;
  const connections: Redis[] = [];
  const connection = () => {
    const c = connect(options.redis);
    c.on('error', (e: Error) => log(`worker ${name}: Redis: ${e.message}`));
    connections.push(c);
    return c;
  };
  const held = new Map<string, string>();
  const show = () => log(`worker ${name} holds: ${held.size ? [...held.values()].join(', ') : 'nothing'}`);
  /** Runs a job as one of the things this worker holds, printed as `label`. */
  const holding = async <T>(job: Job, label: string, body: () => Promise<T>): Promise<T> => {
    held.set(String(job.id), label);
    show();
    try {
      return await body();
    } finally {
      held.delete(String(job.id));
      show();
    }
  };
  let stopping = false;
  const flavr = new FlavrCache();
  const models = new ModelCache();
  const common = {prefix, name, lockDuration, stalledInterval, autorun: false};
  const client = connection();
  const workers: Worker[] = [
    new Worker(
      QUEUE_NAMES.chunks,
      async (job) => {
        if (job.name !== 'chunk') throw unknownJob(job, 'chunk');
        const d = job.data as {job?: string; index?: number};
        return holding(job, `interpolation ${d.job} chunk ${d.index}`, () => runChunk(job, flavr, name));
      },
      // A chunk is retried by its attempts when it fails; a dead worker's chunk may be taken over a few times.
      {...common, connection: connection(), concurrency: 1, maxStalledCount: 5},
    ),
    new Worker(
      QUEUE_NAMES.concat,
      async (job) => {
        if (job.name !== 'concat') throw unknownJob(job, 'concat');
        return holding(job, `interpolation ${job.id} concatenation`, () => runConcat(job));
      },
      {...common, connection: connection(), concurrency: 1, maxStalledCount: 5},
    ),
  ];
  if (streams > 0) {
    workers.push(
      new Worker(
        QUEUE_NAMES.streams,
        async (job, token) => {
          if (job.name !== 'stream') throw unknownJob(job, 'stream');
          const camera = (job.data as {camera?: string}).camera;
          return holding(job, `camera ${camera}`, () =>
            runStream(job, token!, client, prefix, models, name, {
              stopping: () => stopping,
              onLost: () => log(`worker ${name}: camera ${camera} was taken over by another worker`),
            }),
          );
        },
        // A camera outlives any number of worker deaths: its lease lapsing is how it moves on.
        {...common, connection: connection(), concurrency: streams, maxStalledCount: 1_000_000},
      ),
    );
  }
  for (const w of workers) {
    w.on('failed', (job, e) => {
      if (job != null) log(`worker ${name}: job ${job.id} (${job.name}) failed: ${e.message}`);
    });
    w.on('error', (e) => log(`worker ${name}: ${e.message}`));
    void w.run();
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log(
    `worker ${name} ready on ${options.redis} (queues ${workers.map((w) => w.name).join(', ')}; ` +
      `up to ${streams} camera${streams === 1 ? '' : 's'}; lease ${lockDuration} ms)`,
  );
  show();
  return {
    name,
    holding: () => [...held.values()],
    async stop() {
      stopping = true;
      await Promise.all(workers.map((w) => w.close()));
      flavr.dispose();
      await models.dispose();
      for (const c of connections) c.disconnect();
      log(`worker ${name} stopped`);
    },
  };
}

function unknownJob(job: Job, expected: string): Error {
  return new UnrecoverableError(
    `job ${job.id}: unknown job name '${job.name}' in queue '${job.queueName}': expected '${expected}'`,
  );
}
