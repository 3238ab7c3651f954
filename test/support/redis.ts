/**
 * A Redis server of the tests' own: Debian's redis-server (installed by .ci/run) on a free loopback port with a
 * temporary folder and no persistence, stopped by the suite that started it.
 */
import {ChildProcess, spawn, spawnSync} from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

import {Redis} from 'ioredis';

/** Why no redis-server can be started here, or null. */
export function redisServerUnavailableReason(): string | null {
  const run = spawnSync('redis-server', ['--version'], {encoding: 'utf8'});
  return run.status === 0
    ? null
    : 'redis-server not found: install it (Debian: apt-get install redis-server; .ci/run does)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  client: Redis;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-redis-'));
  const port = await freePort();
  const server: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    {stdio: 'ignore'},
  );
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 100});
  client.on('error', () => undefined);
  const t0 = Date.now();
  for (;;) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (e) {
      if (Date.now() - t0 > 15000)
        throw new Error(`redis-server on port ${port} did not answer: ${(e as Error).message}`);
      client.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    client,
    async stop() {
      client.disconnect();
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, {recursive: true, force: true});
    },
  };
}
