/**
 * The queue (src/queue) with a real Redis and worker processes run as users run them (`tfjs-delta worker`, on
 * 'cpu'): a chunked interpolation whose frames must equal a single-process run's while a chunk fails once and a
 * worker is killed mid-job; cameras whose holder is killed, each frame published once; bad payloads failed at once
 * while the queue goes on; and the commands' argument errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {Job, Queue, QueueEvents} from 'bullmq';
import {expect} from 'chai';
import {ChildProcess, spawn, spawnSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {nodeFileSystem} from '../../src/io/node_file_system';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {flavrFromCheckpoint} from '../../src/models/flavr';
import {ffmpegBinary, ffmpegUnavailableReason, probeVideo, readFrames} from '../../src/pipeline/ffmpeg';
import {interpolateVideo} from '../../src/pipeline/interpolate';
import {QUEUE_NAMES, resultsKey} from '../../src/queue/connection';
import {ChunkResult, checkChunks} from '../../src/queue/interpolate_job';
import {ConcatJob} from '../../src/queue/payloads';
import {submitInterpolate, submitStream} from '../../src/queue/submit';
import {makeWaveClip} from '../support/clips';
import {redisServerUnavailableReason, startRedis, TestRedis} from '../support/redis';

const CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');
const FLAVR = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'torch', 'flavr2x.pth');
const PREFIX = 'tfjs-delta';

/** A clip of moving colour waves, optionally with a sine tone; B-frames and short GOPs, so that chunks start
 * their decoders between keyframes. */
function makeClip(file: string, frames: number, size: string, audio: boolean): string {
  return makeWaveClip(file, {frames, size, audio, encoder: ['-g', '7', '-bf', '2']});
}

async function decode(file: string): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  for await (const f of readFrames(file)) frames.push(Buffer.from(f));
  return frames;
}

/** A worker process; its output is kept, and `lines` waits for a line that matches. */
class WorkerProcess {
  readonly child: ChildProcess;
  out = '';
  constructor(
    readonly name: string,
    url: string,
    extraEnv: NodeJS.ProcessEnv = {},
    args: string[] = [],
  ) {
    this.child = spawn(
      process.execPath,
      [
        CLI,
        '--backend',
        'cpu',
        'worker',
        '--redis',
        url,
        '--name',
        name,
        '--lock-ms',
        '3000',
        '--stalled-ms',
        '500',
        ...args,
      ],
      {env: {...process.env, ...extraEnv}},
    );
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  async waitFor(pattern: RegExp, seconds: number): Promise<RegExpExecArray> {
    const t0 = Date.now();
    for (;;) {
      const m = pattern.exec(this.out);
      if (m != null) return m;
      if (this.child.exitCode != null)
        throw new Error(`worker ${this.name} exited (${this.child.exitCode}): ${this.out}`);
      if (Date.now() - t0 > seconds * 1000)
        throw new Error(`worker ${this.name}: no ${pattern} in ${seconds} s: ${this.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode != null || this.child.signalCode != null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
    if (this.child.exitCode == null && this.child.signalCode == null) this.child.kill('SIGKILL');
  }
}

/** The first of `workers` to print a line matching `pattern`, and the match. */
async function firstToPrint(workers: WorkerProcess[], pattern: RegExp, seconds: number) {
  const t0 = Date.now();
  for (;;) {
    for (const w of workers) {
      const m = pattern.exec(w.out);
      if (m != null) return {w, m};
    }
    if (Date.now() - t0 > seconds * 1000) throw new Error(`no worker printed ${pattern} in ${seconds} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('queue: workers on BullMQ / Redis', function () {
  this.timeout(180000);
  const missing = ffmpegUnavailableReason() ?? redisServerUnavailableReason();
  let redis: TestRedis;
  let dir: string;
  // The ffmpeg of the workers: the first test makes it fail once, the second paces it.
  let wrapper: string;
  const workers: WorkerProcess[] = [];

  before(async function () {
    if (missing != null) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    redis = await startRedis();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-queue-'));
    wrapper = path.join(dir, 'ffmpeg-wrapper.sh');
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
    if (dir) fs.rmSync(dir, {recursive: true, force: true});
  });

  it('a chunked interpolation on three workers equals a single-process run, with a chunk failing once and a worker killed mid-job', async () => {
    const clip = makeClip(path.join(dir, 'clip.mp4'), 41, '40x32', true);
    // The first decoder started mid-video fails once: its chunk must be retried.
    const marker = path.join(dir, 'failed-once');
    fs.writeFileSync(
      wrapper,
      `#!/usr/bin/env bash
if [[ " $* " == *" -ss "* ]] && mkdir "${marker}" 2>/dev/null; then echo "simulated decoder failure" >&2; exit 1; fi
exec "${ffmpegBinary()}" "$@"
`,
      {mode: 0o755},
    );
    for (const name of ['w1', 'w2', 'w3']) {
      workers.push(new WorkerProcess(name, redis.url, {TFJS_DELTA_FFMPEG: wrapper}, ['--streams', '2']));
    }
    await Promise.all(workers.map((w) => w.waitFor(/ready on/, 90)));
    const output = path.join(dir, 'queued.mp4');
    const submitted = submitInterpolate(
      {input: clip, output, weights: FLAVR, factor: 2, pairsPerChunk: 4},
      {redis: redis.url, wait: true},
    );
    // Kill whichever worker holds a chunk first, while it holds it.
    const first = await firstToPrint(workers, /holds: interpolation \S+ chunk (\d+)/, 120);
    const holder = {w: first.w, chunk: Number(first.m[1])};
    holder.w.kill();
    const {result, chunks, frames} = await submitted;
    expect([chunks, frames]).to.deep.equal([10, 41]);
    expect(result).to.deep.include({inputFrames: 41, outputFrames: 81, chunks: 10, fps: 20});

    // Every chunk done once in the end, the killed worker's by another, the failed one on a second attempt.
    const queue = new Queue(QUEUE_NAMES.chunks, {connection: redis.client.duplicate(), prefix: PREFIX});
    const done = (await queue.getJobs(['completed'])) as Job[];
    const values = done.map((j) => j.returnvalue as ChunkResult).sort((a, b) => a.index - b.index);
    expect(values.map((v) => v.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(values[holder.chunk].worker).to.not.equal(holder.w.name);
    expect(done.some((j) => j.attemptsMade >= 1 && j.failedReason?.includes('simulated decoder failure'))).to.equal(
      true,
    );
    await queue.close();
    await (queue.opts.connection as {disconnect(): void}).disconnect();

    // Frame for frame the video of one process interpolating the whole clip.
    await tf.setBackend('cpu');
    const model = await flavrFromCheckpoint(FLAVR);
    const single = path.join(dir, 'single.mp4');
    await interpolateVideo({
      input: clip,
      output: single,
      factor: 2,
      interpolator: (w) => model.predict(w) as tf.Tensor5D,
    });
    model.dispose();
    const [queued, reference] = [await decode(output), await decode(single)];
    expect(queued.length).to.equal(81);
    expect(
      queued.findIndex((f, i) => !f.equals(reference[i])),
      'first frame that differs',
    ).to.equal(-1);
    expect(probeVideo(output).hasAudio).to.equal(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('chunks') || f.includes('partial'))).to.deep.equal([]);
  });

  it('cameras move to another worker when theirs is killed; each frame is published once, with classes and timings', async () => {
    // Decoders to a pipe now read their file at its frame rate (-re): a camera of 100 frames at 10 fps runs for
    // 10 s, so the kill below lands mid-stream however loaded the machine is (unpaced, a holder could publish the
    // whole clip between two polls of the test).
    fs.writeFileSync(
      wrapper,
      `#!/usr/bin/env bash
if [[ " $* " == *" pipe:1 "* ]]; then
  args=()
  for a in "$@"; do [[ $a == -i ]] && args+=(-re); args+=("$a"); done
  set -- "\${args[@]}"
fi
exec "${ffmpegBinary()}" "$@"
`,
      {mode: 0o755},
    );
    // Replace the worker killed above, so that two or more hold cameras.
    workers.push(new WorkerProcess('w4', redis.url, {TFJS_DELTA_FFMPEG: wrapper}, ['--streams', '2']));
    await workers[workers.length - 1].waitFor(/ready on/, 90);
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({inputShape: [24, 32, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu'}),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({units: 6, activation: 'softmax'}),
      ],
    });
    const modelDir = path.join(dir, 'classifier');
    await model.save(nodeFileSystem(modelDir));
    model.dispose();
    const cameras = ['cam-a', 'cam-b', 'cam-c'];
    const frames = 100;
    for (const camera of cameras) {
      const clip = makeClip(path.join(dir, `${camera}.mp4`), frames, '32x24', false);
      await submitStream({camera, source: clip, model: modelDir, mode: 'delta', threshold: 0.01}, {redis: redis.url});
    }
    // Kill a worker once one of its cameras has published a few frames.
    const alive = workers.filter((w) => w.child.exitCode == null && w.child.signalCode == null);
    const held = await firstToPrint(alive, /holds: .*camera (cam-\w)/, 60);
    const holder = {w: held.w, camera: held.m[1]};
    const key = resultsKey(PREFIX, holder.camera);
    for (let i = 0; i < 200 && (await redis.client.xlen(key)) < 5; i++) await new Promise((r) => setTimeout(r, 25));
    holder.w.kill();

    const queue = new Queue(QUEUE_NAMES.streams, {connection: redis.client.duplicate(), prefix: PREFIX});
    const t0 = Date.now();
    while ((await queue.getJobCounts('completed')).completed < cameras.length) {
      expect(Date.now() - t0, `cameras still running: ${JSON.stringify(await queue.getJobCounts())}`).to.be.lessThan(
        120000,
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    await queue.close();
    await (queue.opts.connection as {disconnect(): void}).disconnect();
    for (const camera of cameras) {
      const entries = await redis.client.xrange(resultsKey(PREFIX, camera), '-', '+');
      const records = entries.map(([, fields]) =>
        Object.fromEntries(fields.flatMap((v, i) => (i % 2 ? [] : [[v, fields[i + 1]]]))),
      );
      expect(
        records.map((r) => Number(r.frame)),
        `${camera}: frames 0 to ${frames - 1}, each once, in order`,
      ).to.deep.equal(Array.from({length: frames}, (_, i) => i));
      for (const r of records) {
        const classes = JSON.parse(r.classes) as Array<{class: number; score: number}>;
        expect(classes.length).to.equal(5);
        expect(classes[0].score).to.be.at.least(classes[4].score);
        expect(Number(r.ms)).to.be.greaterThan(0);
      }
      const holders = new Set(records.map((r) => r.worker));
      if (camera === holder.camera) {
        expect([...holders], `${camera} continued on another worker`).to.include(holder.w.name);
        expect(holders.size).to.be.greaterThan(1);
      }
    }
  });

  it('bad payloads fail at once with a message naming the field, and the queue goes on', async () => {
    const connection = redis.client.duplicate();
    const queues = {
      chunks: new Queue(QUEUE_NAMES.chunks, {connection, prefix: PREFIX}),
      streams: new Queue(QUEUE_NAMES.streams, {connection, prefix: PREFIX}),
    };
    const events = new QueueEvents(QUEUE_NAMES.streams, {connection: redis.client.duplicate(), prefix: PREFIX});
    const chunkEvents = new QueueEvents(QUEUE_NAMES.chunks, {connection: redis.client.duplicate(), prefix: PREFIX});
    await Promise.all([events.waitUntilReady(), chunkEvents.waitUntilReady()]);
    const good = {
      job: 'x',
      index: 0,
      input: path.join(dir, 'clip.mp4'),
      weights: FLAVR,
      factor: 2,
      batch: 1,
      from: 0,
      startSeconds: 0,
      workDir: dir,
    };
    const bad: Array<[Queue, string, unknown, RegExp]> = [
      [
        queues.chunks,
        'chunk',
        {...good, factor: 3},
        /interpolate chunk job \S+: bad payload: factor: Invalid option: expected one of 2\|4\|8/,
      ],
      [
        queues.chunks,
        'chunk',
        {...good, from: -1, extra: 1},
        /from: Too small.*; \(payload\): Unrecognized key: "extra"/,
      ],
      [queues.chunks, 'chunk', {...good, input: path.join(dir, 'none.mp4')}, /input '.*none\.mp4' does not exist/],
      [queues.chunks, 'chunk', 'not an object', /bad payload: \(payload\): Invalid input: expected object/],
      [queues.chunks, 'render', good, /unknown job name 'render' in queue 'interpolate': expected 'chunk'/],
      [
        queues.streams,
        'stream',
        {camera: 'a b', source: 'x', model: 'posenet', mode: 'delta', threshold: 0},
        /camera: a camera name is/,
      ],
      [
        queues.streams,
        'stream',
        {camera: 'ok', source: 'x', model: 'none.json', mode: 'fast', threshold: -1},
        /mode: .*; threshold: Too small/,
      ],
    ];
    for (const [queue, name, data, message] of bad) {
      const job = await queue.add(name, data, {attempts: 3});
      let error = '';
      try {
        await job.waitUntilFinished(queue === queues.chunks ? chunkEvents : events, 60000);
      } catch (e) {
        error = (e as Error).message;
      }
      expect(error, JSON.stringify(data)).to.match(message);
      const failed = await Job.fromId(queue, job.id!);
      expect(failed!.attemptsMade, `${name} ${JSON.stringify(data)}: no retries`).to.equal(1);
    }
    // The workers still take good jobs.
    const clip = makeClip(path.join(dir, 'after.mp4'), 6, '32x24', false);
    const after = await submitStream(
      {camera: 'after-bad', source: clip, model: path.join(dir, 'classifier'), mode: 'dense', threshold: 0},
      {redis: redis.url, wait: true},
    );
    expect(after.result).to.deep.equal({camera: 'after-bad', published: 6, nextFrame: 6});
    await Promise.all([events.close(), chunkEvents.close(), queues.chunks.close(), queues.streams.close()]);
    connection.disconnect();
  });

  it('checks that chunks tile the video: a missing or repeated pair, frames that differ, a wrong count', () => {
    const data = {chunks: 3, pairsPerChunk: 4, factor: 2} as ConcatJob;
    const chunk = (index: number, pairsEnd: number, more: Partial<ChunkResult> = {}): ChunkResult => ({
      index,
      from: index * 4,
      pairsEnd,
      ended: false,
      inputFrames: pairsEnd + 2,
      outputFrames: (pairsEnd - index * 4) * 2,
      file: 'f',
      hashes: {},
      worker: 'w',
      ...more,
    });
    // 11 frames: pairs [0, 4), [4, 8), [8, 10) and the last frame.
    const ok = [chunk(0, 4), chunk(1, 8), chunk(2, 10, {ended: true, inputFrames: 11, outputFrames: 5})];
    expect(checkChunks(data, ok)).to.deep.equal({frames: 11, problem: null});
    expect(checkChunks(data, ok.slice(0, 2)).problem).to.match(/expected chunks 0 to 2, got \[0,1\]/);
    expect(checkChunks(data, [ok[0], chunk(1, 7), ok[2]]).problem).to.match(
      /chunk 1 interpolated pairs \[4, 7\), expected \[4, 8\)/,
    );
    expect(checkChunks(data, [ok[0], ok[1], {...ok[2], outputFrames: 4}]).problem).to.match(
      /hold 20 frames, expected \(11 - 1\) x 2 \+ 1 = 21/,
    );
    const differ = [chunk(0, 4, {hashes: {'3': 'a', '4': 'b'}}), chunk(1, 8, {hashes: {'3': 'a', '4': 'c'}}), ok[2]];
    expect(checkChunks(data, differ).problem).to.match(/chunks 0 and 1 decoded frame 4 differently/);
    expect(
      checkChunks(
        data,
        ok.map((c) => ({...c, ended: false})),
      ).problem,
    ).to.equal('no chunk reached the end of the video');
  });

  it('worker and submit refuse bad arguments before any work, naming the option', function () {
    this.timeout(120000);
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], {encoding: 'utf8', timeout: 60000});
    for (const [args, message] of [
      [['worker', '--gpu', '-1'], '--gpu must be a whole number >= 0'],
      [
        ['--backend', 'cpu', 'worker', '--gpu', '0', '--redis', redis.url],
        '--gpu 0 selects a CUDA device and cannot go with --backend cpu',
      ],
      // A device no machine has, so that the refusal shows on a GPU machine too.
      [['worker', '--gpu', '64', '--redis', redis.url], "backend 'cuda' is unavailable"],
      [['worker', '--redis', 'http://x'], "worker --redis 'http://x': 'http://x' is not a Redis URL"],
      [
        ['submit', 'interpolate', path.join(dir, 'none.mp4'), '-o', path.join(dir, 'o.mp4'), '--weights', FLAVR],
        "submit interpolate <input> '",
      ],
      [
        [
          'submit',
          'interpolate',
          path.join(dir, 'clip.mp4'),
          '-o',
          path.join(dir, 'o.mp4'),
          '--weights',
          FLAVR,
          '--redis',
          'redis://127.0.0.1:1',
        ],
        'cannot reach Redis at redis://127.0.0.1:1',
      ],
      [['submit', 'stream', 'x.mp4', '--camera', 'a', '--model', path.join(dir, 'nothing')], "submit stream [model] '"],
      [['submit', 'stream', 'x.mp4', '--camera', 'bad name', '--redis', redis.url], 'camera: a camera name is'],
    ] as Array<[string[], string]>) {
      const r = cli(...args);
      expect(r.status, `${args.join(' ')}: ${r.stdout}`).to.not.equal(0);
      expect(r.stderr, args.join(' ')).to.include(message);
      expect(r.stderr, args.join(' ')).to.not.match(/\n\s+at /);
    }
  });
});
