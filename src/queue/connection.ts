/**
 * Where the queue lives: a Redis server (BullMQ's engine), its URL, and the names of the queues and keys this
 * package uses under one prefix, so that several deployments can share a server.
 */
import {Redis} from 'ioredis';

import {envString} from '../io/env';

/** BullMQ queues: chunks of interpolation jobs (GPU work), their concatenations (ffmpeg work), camera streams. */
export const QUEUE_NAMES = {chunks: 'interpolate', concat: 'interpolate-concat', streams: 'streams'} as const;

export const DEFAULT_PREFIX = 'tfjs-delta';

/** --redis, else $TFJS_DELTA_REDIS, else a server on this machine's default port. */
export function redisUrl(given?: string): string {
  return given ?? envString('TFJS_DELTA_REDIS') ?? 'redis://127.0.0.1:6379';
}

/** Why `url` is not a Redis URL, or null. */
export function redisUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not a URL; expected redis://HOST:PORT (or rediss:// for TLS)`;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    return `'${url}' is not a Redis URL; expected redis://HOST:PORT (or rediss:// for TLS)`;
  }
  return null;
}

/**
 * A connection as BullMQ needs it (commands wait for a reconnection instead of failing: maxRetriesPerRequest null).
 * `failFast` (submitting): stop reconnecting after a few attempts, instead of waiting for a server forever.
 */
export function connect(url: string, options: {failFast?: boolean} = {}): Redis {
  const problem = redisUrlProblem(url);
  if (problem != null) throw new Error(problem);
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => (options.failFast && times > 3 ? null : Math.min(5000, 200 * times)),
    lazyConnect: true,
  });
}

/** Connects now, so that an unreachable server is an error that names it, not a hang. */
export async function connected(url: string, options: {failFast?: boolean} = {}): Promise<Redis> {
  const client = connect(url, options);
  // Connection errors are reported by connect() below; ioredis would print each retry otherwise.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new Error(`cannot reach Redis at ${url}: ${(e as Error).message}`);
  }
  return client;
}

/** The Redis stream a camera's per-frame results go to. */
export function resultsKey(prefix: string, camera: string): string {
  return `${prefix}:results:${camera}`;
}
