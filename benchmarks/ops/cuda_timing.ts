/**
 * GPU timing of single ops on 'cuda' for the kernel benchmarks (delta_conv2d_cuda.ts, delta_block_cuda.ts): CUDA
 * events around CALLS calls queued behind ~0.7 ms of other GPU work, so the GPU runs them back to back and the events
 * measure the GPU, not the host's launch rate; per call = elapsed / CALLS; median of REPS after WARMUP calls. The
 * work queued ahead is a 1 GiB fill (all SMs busy: clocks stay up) or, with TFJS_DELTA_BENCH_QUEUE=spin, a one-thread
 * busy wait (the GPU may lower its clocks while it spins). Inputs: random values, masks of random 16x16 tiles.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';

import {CudaBackend} from '../../src/backends/cuda/backend';
import {cudaAvailability, setCudaOptions} from '../../src/backends/cuda/index';
import type {DeviceInfo} from '../../src/backends/cuda/index';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {median} from '../bench_util';

export const CALLS = 10,
  REPS = 25,
  WARMUP = 3;

export function randomTensor(shape: number[], scale = 1): tf.Tensor {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = (Math.random() * 2 - 1) * scale;
  return tf.tensor(v, shape);
}

/** A [1, h, w] mask whose active pixels are `fraction` of the 16x16 tiles (random ones). */
export function tileMask(h: number, w: number, fraction: number): tf.Tensor {
  const th = Math.ceil(h / 16),
    tw = Math.ceil(w / 16),
    tiles = th * tw;
  const count = fraction === 0 ? 0 : Math.max(1, Math.round(fraction * tiles));
  const order = [...Array(tiles).keys()].sort(() => Math.random() - 0.5).slice(0, count);
  const m = new Uint8Array(h * w);
  for (const t of order) {
    const y0 = Math.floor(t / tw) * 16,
      x0 = (t % tw) * 16;
    for (let y = y0; y < Math.min(y0 + 16, h); y++) for (let x = x0; x < Math.min(x0 + 16, w); x++) m[y * w + x] = 1;
  }
  return tf.tensor(m, [1, h, w], 'bool');
}

export const QUEUE = process.env.TFJS_DELTA_BENCH_QUEUE === 'spin' ? 'spin' : 'fill';
const FILL_FLOATS = 1 << 28; // 1 GiB
let fillPtr = 0;

/** Keeps the GPU busy for ~0.7 ms so that what the host queues next runs back to back. */
function queueAhead(cuda: CudaBackend): void {
  if (QUEUE === 'spin') {
    cuda.n.busyWait({microseconds: 2000});
    return;
  }
  if (fillPtr === 0) fillPtr = cuda.n.alloc({bytes: FILL_FLOATS * 4});
  cuda.n.fill({y: fillPtr, dtype: 0, n: FILL_FLOATS, value: 1});
  cuda.n.fill({y: fillPtr, dtype: 0, n: FILL_FLOATS, value: 2});
}

/** Median GPU ms per call of f (K calls queued behind other GPU work per sample) and median host ms per call. */
export function timeGpu(cuda: CudaBackend, f: () => tf.TensorContainer): {gpuMs: number; hostMs: number} {
  for (let i = 0; i < WARMUP; i++) tf.dispose(f());
  cuda.n.sync();
  const gpu: number[] = [],
    host: number[] = [];
  for (let r = 0; r < REPS; r++) {
    queueAhead(cuda); // longer than queueing K calls takes on the host
    const timer = cuda.n.timerStart();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) tf.dispose(f());
    host.push(Number(process.hrtime.bigint() - t0) / 1e6 / CALLS);
    gpu.push(cuda.n.timerEnd({timer}) / CALLS);
  }
  return {gpuMs: median(gpu), hostMs: median(host)};
}

/** Frees the fill buffer of queueAhead. */
export function freeQueue(cuda: CudaBackend): void {
  if (fillPtr !== 0) cuda.n.free({ptr: fillPtr});
  fillPtr = 0;
}

/**
 * Writes a kernel benchmark's results to <outDir>/<prefix>_<gpu>.json: the GPU, the timing method, `extra` fields
 * and the rows. Returns the file's path.
 */
export function writeKernelResults(
  outDir: string,
  prefix: string,
  gpu: string,
  device: unknown,
  extra: {[field: string]: unknown},
  rows: unknown[],
): string {
  const file = path.join(outDir, `${prefix}_${gpu.replace(/[^A-Za-z0-9]+/g, '_')}.json`);
  fs.mkdirSync(outDir, {recursive: true});
  const timing = `GPU time per call: CUDA events around ${CALLS} calls queued behind other GPU work (${QUEUE}), median`;
  const results = {
    gpu,
    device,
    date: new Date().toISOString(),
    batch: 1,
    calls: CALLS,
    reps: REPS,
    timing,
    queue: QUEUE,
  };
  fs.writeFileSync(file, JSON.stringify({...results, ...extra, rows}, null, 1));
  return file;
}

/**
 * The 'cuda' backend made current for a kernel benchmark, `options` set on it (setCudaOptions), with its device
 * (printed) and the results folder (the command's first argument, default benchmarks/results); null, after saying
 * why, where there is none.
 */
export async function cudaBenchmarkBackend(options: Parameters<typeof setCudaOptions>[0] = {}): Promise<{
  cuda: CudaBackend;
  device: DeviceInfo;
  outDir: string;
} | null> {
  const avail = cudaAvailability();
  if (!avail.available) {
    console.log(`cuda unavailable: ${avail.reason}`);
    return null;
  }
  await tf.setBackend('cuda');
  setCudaOptions(options);
  const device = avail.device!;
  console.log(`GPU: ${device.name} (cc ${device.computeCapability}, cuDNN ${device.cudnnVersion})`);
  const outDir = process.argv[2] ?? path.join(PACKAGE_ROOT, 'benchmarks', 'results');
  return {cuda: tf.backend() as unknown as CudaBackend, device, outDir};
}
