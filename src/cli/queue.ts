/** `tfjs-delta worker` and `tfjs-delta submit`: the queue (src/queue) from the command line. */
import {startWorker} from '../queue/worker';
import {submitInterpolate, submitStream} from '../queue/submit';

export interface WorkerCommandOptions {
  redis: string;
  prefix: string;
  gpu?: number;
  streams: number;
  name?: string;
  lockMs: number;
  stalledMs?: number;
}

/** Runs until SIGINT or SIGTERM: then hands its cameras back, finishes the chunk in hand and exits. */
export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const worker = await startWorker({
    redis: options.redis,
    prefix: options.prefix,
    name: options.name,
    streams: options.streams,
    lockMs: options.lockMs,
    stalledMs: options.stalledMs,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`worker ${worker.name}: ${signal}: handing back ${worker.holding().join(', ') || 'nothing'}`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      worker.stop().then(resolve, (e: unknown) => {
        console.error(`worker ${worker.name}: ${(e as Error).message}`);
        resolve();
      });
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

export interface SubmitInterpolateOptions {
  redis: string;
  prefix: string;
  output: string;
  weights: string;
  factor: number;
  fps?: number;
  slowmo?: boolean;
  batch: number;
  chunk: number;
  workDir?: string;
  wait?: boolean;
}

export async function submitInterpolateCommand(input: string, o: SubmitInterpolateOptions): Promise<void> {
  const t0 = Date.now();
  const r = await submitInterpolate(
    {
      input,
      output: o.output,
      weights: o.weights,
      factor: o.factor,
      fps: o.fps,
      slowmo: o.slowmo,
      batch: o.batch,
      pairsPerChunk: o.chunk,
      workDir: o.workDir,
    },
    {redis: o.redis, prefix: o.prefix, wait: o.wait},
  );
  console.log(`queued interpolation ${r.id}: ${r.frames} input frames in ${r.chunks} chunks of ${o.chunk} pairs`);
  if (r.result != null) {
    const seconds = (Date.now() - t0) / 1000;
    console.log(
      `wrote ${r.result.output}: ${r.result.outputFrames} frames at ${r.result.fps} fps from ` +
        `${r.result.inputFrames} input frames in ${seconds.toFixed(1)} s ` +
        `(${(r.result.inputFrames / seconds).toFixed(2)} input frames/s)`,
    );
  }
}

export interface SubmitStreamOptions {
  redis: string;
  prefix: string;
  camera: string;
  model: string;
  dense?: boolean;
  threshold: number;
  size?: string;
  frames?: number;
  maxLen: number;
  wait?: boolean;
}

export async function submitStreamCommand(source: string, o: SubmitStreamOptions): Promise<void> {
  const r = await submitStream(
    {
      camera: o.camera,
      source,
      model: o.model,
      mode: o.dense ? 'dense' : 'delta',
      threshold: o.threshold,
      size: o.size == null ? undefined : (o.size.split('x').map(Number) as [number, number]),
      frames: o.frames,
      maxLen: o.maxLen,
    },
    {redis: o.redis, prefix: o.prefix, wait: o.wait},
  );
  console.log(`queued camera ${o.camera} (job ${r.id}); per-frame results: XREAD STREAMS ${r.results}`);
  if (r.result != null) console.log(`camera ${o.camera} ended: frames up to ${r.result.nextFrame} published`);
}
