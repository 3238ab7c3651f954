/**
 * Where a delta model's GPU memory goes, step by step: ResNet-50 pose (seeded weights) on vtest.avi at
 * batch N (stream b starts `offset` x b frames later), as a compiled stream ('cuda' only), in each of `--configs`:
 * 'tail' (a dense tail, denseAbove 0.5, calibrated on the first 3 frames) or 'all' (every layer delta), each with
 * float32 or half-precision state (statePrecision 'fp32' / 'fp16'):
 *
 *   node dist/benchmarks/models/delta_memory.js [--size 576x768] [--batch 32] [--offset 9] [--steps 6]
 *        [--configs tail:fp32,all:fp16,all:fp32] [--out benchmarks/results/delta_memory_<GPU>.json]
 *
 * After each step (toDelta, then every stream step: the eager warm-up frames, the captured frame, replays) it
 * records the bytes in use and the peak since the step before (the backend allocator's memory().peakBytesInGPU),
 * the bytes the allocator holds from the driver (numBytesInGPUAllocated: in use plus its cache, where a compiled
 * plan keeps the captured frame's intermediates for its replays; they are not in use between replays, but they are
 * the device's), the compiled plan's bytes, and at the end the delta state's bytes. Frames come from TFJS_DELTA_VTEST_FRAMES
 * (python3 benchmarks/models/delta_vtest_torch.py frames ...) or ffmpeg.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';

import '../../src/index';
import {toDelta} from '../../src/delta/to_delta';
import type {StatePrecision} from '../../src/ops/kernel_names';
import {compileStream} from '../../src/stream/compile_stream';
import {seededResNet50Pose} from '../../data/models';
import {frameTensor, vtestRgb} from '../../data/vtest';
import {deltaStateBytes} from './delta_vtest';

interface Args {
  height: number;
  width: number;
  batch: number;
  offset: number;
  steps: number;
  configs: Array<{denseAbove: number | undefined; statePrecision: StatePrecision}>;
  out: string | null;
}

/** 'tail:fp32,all:fp16': a dense tail above 0.5 or every layer delta, and the state's precision. */
function parseConfigs(value: string): Args['configs'] {
  return value.split(',').map((spec) => {
    const [layers, statePrecision] = spec.split(':');
    if (!['tail', 'all'].includes(layers) || !['fp32', 'fp16'].includes(statePrecision)) {
      throw new Error(`--configs: '${spec}' is not (tail|all):(fp32|fp16)`);
    }
    return {denseAbove: layers === 'tail' ? 0.5 : undefined, statePrecision: statePrecision as StatePrecision};
  });
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    height: 576,
    width: 768,
    batch: 32,
    offset: 9,
    steps: 6,
    configs: parseConfigs('tail:fp32,all:fp16,all:fp32'),
    out: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value == null) throw new Error(`${flag} needs a value`);
    if (flag === '--size') [args.height, args.width] = value.split('x').map(Number);
    else if (flag === '--batch') args.batch = Number(value);
    else if (flag === '--offset') args.offset = Number(value);
    else if (flag === '--steps') args.steps = Number(value);
    else if (flag === '--configs') args.configs = parseConfigs(value);
    else if (flag === '--out') args.out = value;
    else throw new Error(`unknown argument ${flag}`);
  }
  const whole = (n: number, min: number) => Number.isInteger(n) && n >= min;
  if (
    ![args.height, args.width, args.batch].every((n) => whole(n, 1)) ||
    !whole(args.offset, 0) ||
    !whole(args.steps, 3)
  )
    throw new Error(`bad arguments: ${JSON.stringify(args)} (--steps: 3 or more, so that replays are measured)`);
  return args;
}

interface Mark {
  step: string;
  inUseBytes: number;
  peakBytes: number;
  /** What the allocator holds from the driver (in use + cached, the plans' pools included): the device footprint. */
  reservedBytes: number;
  planBytes?: number;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cuda = require('../../src/backends/cuda/index') as typeof import('../../src/backends/cuda/index');
  const avail = cuda.cudaAvailability();
  if (!avail.available) throw new Error(`delta_memory needs the 'cuda' backend: ${avail.reason}`);
  cuda.setCudaOptions({allowTF32: true});
  await tf.setBackend('cuda');
  const {height: H, width: W, batch: B, offset} = args;
  const count = Math.max(args.steps, 3);
  const rgb = vtestRgb(count + offset * (B - 1), H, W);
  const frames = Array.from({length: count}, (_, i) =>
    tf.tidy(() => tf.concat(Array.from({length: B}, (_, b) => frameTensor(rgb, i + offset * b, H, W, 0, 1)))),
  );
  const backend = tf.backend() as unknown as {
    memory(): {numBytesInGPU: number; numBytesInGPUAllocated: number; peakBytesInGPU: number};
    resetPeakMemory(): void;
  };
  const GiB = (x: number) => (x / 2 ** 30).toFixed(2);
  const mark = (marks: Mark[], step: string, planBytes?: number) => {
    const m = backend.memory();
    marks.push({
      step,
      inUseBytes: m.numBytesInGPU,
      peakBytes: m.peakBytesInGPU,
      reservedBytes: m.numBytesInGPUAllocated,
      planBytes,
    });
    console.log(
      `  ${step}: in use ${GiB(m.numBytesInGPU)} GiB, peak ${GiB(m.peakBytesInGPU)} GiB, ` +
        `reserved ${GiB(m.numBytesInGPUAllocated)} GiB` +
        (planBytes != null ? `, plan ${GiB(planBytes)} GiB` : ''),
    );
    backend.resetPeakMemory();
  };
  const setup: Mark[] = [];
  console.log(`delta_memory on ${avail.device?.name}: ResNet-50 pose ${H}x${W}, batch ${B}`);
  mark(setup, 'frames');
  const model = seededResNet50Pose();
  mark(setup, 'dense model');
  const runs = [];
  // The dense tail first: it is what `run` builds, and where the device holds less than a later configuration needs
  // (a 40 GB cap), that failure is recorded, not lost with the earlier numbers.
  for (const {denseAbove, statePrecision} of args.configs) {
    console.log(
      `${denseAbove == null ? 'every layer delta' : `dense tail above ${denseAbove}`}, ${statePrecision} state`,
    );
    const marks: Mark[] = [];
    let delta: ReturnType<typeof toDelta> | null = null;
    let stream: ReturnType<typeof compileStream> | null = null;
    let stateBytes: number | null = null;
    let error: string | null = null;
    try {
      delta = toDelta(model, {
        threshold: 0.1,
        inputThreshold: 0.2,
        dilation: 7,
        denseAbove,
        calibrationFrames: denseAbove != null ? frames.slice(0, 3) : undefined,
        statePrecision,
      });
      mark(marks, 'toDelta');
      stream = compileStream(delta);
      for (let i = 0; i < args.steps; i++) {
        const out = stream.step(frames[i % frames.length]);
        const outs = Array.isArray(out) ? out : [out];
        outs.forEach((o) => o.dataSync());
        tf.dispose(outs);
        mark(marks, `step ${i} (${stream.info.captured ? 'captured' : 'eager'})`, stream.info.planBytes);
      }
      stateBytes = deltaStateBytes(delta).bytes;
      console.log(`  state ${GiB(stateBytes)} GiB`);
    } catch (e) {
      error = (e as Error).message;
      console.log(`  failed after ${marks.length} marks: ${error}`);
    }
    stream?.dispose();
    delta?.dispose();
    mark(marks, 'disposed');
    runs.push({denseAbove: denseAbove ?? null, statePrecision, stateBytes, error, marks});
  }
  tf.dispose(frames);
  model.dispose();
  const out =
    args.out ??
    path.join('benchmarks', 'results', `delta_memory_${(avail.device?.name ?? 'gpu').replace(/\W+/g, '_')}.json`);
  fs.mkdirSync(path.dirname(out), {recursive: true});
  const result = {
    benchmark: 'delta_memory',
    gpu: avail.device?.name ?? null,
    date: new Date().toISOString(),
    model: 'resnet50_pose (seeded)',
    size: [H, W],
    batch: B,
    thresholds: {activations: 0.1, input: 0.2, dilation: 7},
    setup,
    runs,
  };
  fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  console.log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
