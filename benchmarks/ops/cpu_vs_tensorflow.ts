/**
 * Every tfjs-delta op on 'cpu' (the TypeScript reference kernels on tfjs-backend-cpu) against
 * 'tensorflow' (kernels/tensorflow on tfjs-node), at realistic sizes, in one run:
 *   npm run build && npm run bench:cpu          (node dist/benchmarks/ops/cpu_vs_tensorflow.js [out.json])
 * Each case: warm-up, then the median wall time of several calls. Both backends finish the work
 * within the call (tfjs-backend-cpu computes in JavaScript; TF eager ops run synchronously on the
 * CPU device), so reading the outputs back is not timed: a delta pipeline reads only its final
 * output. Sparse inputs use 8x8-pixel blocks of which ~10% changed, like a static camera. Dense
 * tf ops at the same size are timed too, as each backend's reference point.
 * Writes benchmarks/results/cpu_vs_tensorflow.json (or the path given).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  activeFraction,
  conv3dGated,
  deltaConv2d,
  deltaConv2dTranspose,
  deltaMaxPool,
  sparseAccumulate,
  withMask,
} from '../../src/index';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {median} from '../bench_util';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

type Backend = 'cpu' | 'tensorflow';
const RUNS: Record<Backend, {warmup: number; runs: number}> = {
  cpu: {warmup: 1, runs: 7},
  tensorflow: {warmup: 3, runs: 21},
};

function random(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.randomUniform(shape, -scale, scale, 'float32', seed);
}

/** A delta of NHWC `shape` whose changed pixels form 8x8 blocks, about `fraction` of them. */
function blockDelta(shape: number[], fraction: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, w] = shape;
    const blocks = tf.less(
      tf.randomUniform([b, Math.ceil(h / 8), Math.ceil(w / 8), 1], 0, 1, 'float32', seed),
      fraction,
    );
    const up = tf.image.resizeNearestNeighbor(tf.cast(blocks, 'float32') as tf.Tensor4D, [
      Math.ceil(h / 8) * 8,
      Math.ceil(w / 8) * 8,
    ]);
    const flags = tf.reshape(tf.slice(up, [0, 0, 0, 0], [b, h, w, 1]), [b, h, w]);
    return withMask(random(shape, seed + 1), flags);
  });
}

/** Median ms of `run` (outputs disposed after each call) on the current backend. */
function time(backend: Backend, run: () => tf.Tensor[]): number {
  const {warmup, runs} = RUNS[backend];
  const once = () => {
    const t0 = process.hrtime.bigint();
    const outs = run();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    tf.dispose(outs);
    return ms;
  };
  for (let i = 0; i < warmup; i++) once();
  return median(Array.from({length: runs}, once));
}

interface Case {
  name: string;
  /** Builds the inputs on the current backend (untimed) and returns the timed call. */
  setup: () => {run: () => tf.Tensor[]; inputs: tf.Tensor[]; active?: number};
}

const size = [1, 128, 128, 64];
const cases: Case[] = [
  {
    name: 'tf.conv2d (dense reference) 1x128x128x64, 3x3, 64->64',
    setup: () => {
      const x = random(size, 1) as tf.Tensor4D,
        f = random([3, 3, 64, 64], 2, 0.1) as tf.Tensor4D;
      return {inputs: [x, f], run: () => [tf.conv2d(x, f, 1, 'same')]};
    },
  },
  ...[0.1, 1].map((fraction): Case => ({
    name: `deltaConv2d 1x128x128x64, 3x3, 64->64, ${fraction * 100}% active`,
    setup: () => {
      const x = (fraction === 1 ? random(size, 3) : blockDelta(size, fraction, 3)) as tf.Tensor4D;
      const f = random([3, 3, 64, 64], 4, 0.1) as tf.Tensor4D;
      return {inputs: [x, f], active: activeFraction(x), run: () => [deltaConv2d(x, f, 1, 'same')]};
    },
  })),
  {
    name: 'sparseAccumulate relu, threshold 0.1, 1x128x128x64, 10% active',
    setup: () => {
      const a = random(size, 5),
        r = tf.zeros(size),
        d = blockDelta(size, 0.1, 6);
      return {
        inputs: [a, r, d],
        active: activeFraction(d),
        run: () => Object.values(sparseAccumulate(a, r, d, {threshold: 0.1, activation: 'relu'})),
      };
    },
  },
  {
    name: 'deltaMaxPool 2x2 1x128x128x64, 10% active',
    setup: () => {
      const a = random(size, 7) as tf.Tensor4D,
        d = blockDelta(size, 0.1, 8) as tf.Tensor4D;
      return {inputs: [a, d], active: activeFraction(d), run: () => Object.values(deltaMaxPool(a, d, 2))};
    },
  },
  {
    name: 'deltaConv2dTranspose 1x64x64x64 -> 1x128x128x64, 4x4 stride 2, 10% active',
    setup: () => {
      const x = blockDelta([1, 64, 64, 64], 0.1, 9) as tf.Tensor4D,
        f = random([4, 4, 64, 64], 10, 0.1) as tf.Tensor4D;
      return {
        inputs: [x, f],
        active: activeFraction(x),
        run: () => [deltaConv2dTranspose(x, f, size as [number, number, number, number], 2, 'same')],
      };
    },
  },
  {
    name: 'tf.conv3d (dense reference) 1x4x32x32x32, 3x3x3, 32->32',
    setup: () => {
      const x = random([1, 4, 32, 32, 32], 11) as tf.Tensor5D,
        f = random([3, 3, 3, 32, 32], 12, 0.1) as tf.Tensor5D;
      return {inputs: [x, f], run: () => [tf.conv3d(x, f, 1, 'same')]};
    },
  },
  {
    name: 'conv3dGated (FLAVR block) 1x4x32x32x32, 3x3x3, 32->32, bias, leakyRelu',
    setup: () => {
      const x = random([1, 4, 32, 32, 32], 13) as tf.Tensor5D,
        f = random([3, 3, 3, 32, 32], 14, 0.1) as tf.Tensor5D;
      const p = [random([32], 15), random([32, 32], 16, 0.2), random([32], 17)];
      return {
        inputs: [x, f, ...p],
        run: () => [
          conv3dGated({
            x,
            filter: f,
            bias: p[0],
            gateKernel: p[1],
            gateBias: p[2],
            pad: [
              [0, 0],
              [1, 1],
              [1, 1],
              [1, 1],
              [0, 0],
            ],
            activation: 'leakyRelu',
          }),
        ],
      };
    },
  },
  {
    name: 'conv3dGated transposed (FLAVR decoder) 1x4x16x16x64 -> 1x4x32x32x32, 3x4x4 stride 1x2x2',
    setup: () => {
      const x = random([1, 4, 16, 16, 64], 18) as tf.Tensor5D,
        f = random([3, 4, 4, 32, 64], 19, 0.1) as tf.Tensor5D;
      const p = [random([32], 20), random([32, 32], 21, 0.2), random([32], 22)];
      return {
        inputs: [x, f, ...p],
        run: () => [
          conv3dGated({
            x,
            filter: f,
            bias: p[0],
            gateKernel: p[1],
            gateBias: p[2],
            strides: [1, 2, 2],
            pad: [
              [0, 0],
              [1, 1],
              [1, 1],
              [1, 1],
              [0, 0],
            ],
            transpose: true,
            outputShape: [1, 4, 32, 32, 32],
            activation: 'leakyRelu',
          }),
        ],
      };
    },
  },
];

function machine(tfVersion: string | null): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    tfjs: tf.version_core,
    tensorflow: tfVersion,
    // Other processes share these cores; a load above the core count makes the numbers noisy.
    loadAverage1m: +os.loadavg()[0].toFixed(2),
  };
}

function main(): void {
  let tfVersion: string | null = null;
  try {
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    loadTfjsNode();
    tfVersion = (tf.findBackend('tensorflow') as unknown as {binding: {TF_Version: string}}).binding.TF_Version;
  } catch (e) {
    console.error(
      `@tensorflow/tfjs-node could not be loaded (${(e as Error).message.split('\n')[0]}); ` +
        'run scripts/setup-tfjs-node-offline.sh',
    );
    process.exit(1);
  }
  const info = machine(tfVersion);
  console.log('machine:', JSON.stringify(info));
  console.log(
    `runs: cpu ${RUNS.cpu.runs} (after ${RUNS.cpu.warmup} warm-up), tensorflow ${RUNS.tensorflow.runs} (after ${RUNS.tensorflow.warmup})`,
  );
  const results = [];
  for (const c of cases) {
    const ms: Partial<Record<Backend, number>> = {};
    let active: number | undefined;
    for (const backend of ['cpu', 'tensorflow'] as Backend[]) {
      tf.setBackend(backend);
      const {run, inputs, active: a} = c.setup();
      active = a;
      ms[backend] = time(backend, run);
      tf.dispose(inputs);
    }
    const row = {
      name: c.name,
      activeFraction: active ?? 1,
      cpuMs: +ms.cpu!.toFixed(3),
      tensorflowMs: +ms.tensorflow!.toFixed(3),
      speedup: +(ms.cpu! / ms.tensorflow!).toFixed(1),
    };
    results.push(row);
    console.log(
      `${c.name.padEnd(96)} active ${(row.activeFraction * 100).toFixed(1).padStart(5)}%  ` +
        `cpu ${row.cpuMs.toFixed(2).padStart(9)} ms  tensorflow ${row.tensorflowMs.toFixed(2).padStart(8)} ms  ` +
        `cpu/tensorflow ${row.speedup}x`,
    );
  }
  const out = process.argv[2] ?? path.join(PACKAGE_ROOT, 'benchmarks', 'results', 'cpu_vs_tensorflow.json');
  fs.mkdirSync(path.dirname(out), {recursive: true});
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        command: 'npm run bench:cpu',
        date: new Date().toISOString(),
        machine: info,
        method:
          'median wall ms per call (outputs not read back); cpu: tfjs-backend-cpu + TypeScript reference kernels; ' +
          'tensorflow: tfjs-node (libtensorflow from the tensorflow-cpu wheel) + kernels/tensorflow',
        runs: RUNS,
        results,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

main();
