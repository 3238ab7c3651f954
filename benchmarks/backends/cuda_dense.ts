/**
 * Dense benchmark of the 'cuda' backend, run on the GPU machine:
 *   node dist/benchmarks/backends/cuda_dense.js [torch.json] [outDir]
 * Cases: conv2d 3x3 64->64 at 1x128x128 (also on 'cpu'), a FLAVR-sized conv3d layer and transposed conv3d, a
 * dense layer, and a tf.layers ResNet-50 trunk at 256x256, batch 1 and 32 (random weights). Each case: warm-up,
 * then the median of >= 30 runs, each timed as wall clock around the call plus a device sync (what a user waits
 * for, JavaScript and engine overhead included) and, separately, GPU time between CUDA events. When torch.json
 * (benchmarks/backends/cuda_dense_torch.py, same machine, same run) is given, prints the ratio to PyTorch eager.
 * Writes <outDir>/cuda_dense_<gpu>.json (outDir default benchmarks/results).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as fs from 'fs';
import * as path from 'path';

import {cudaAvailability, setCudaOptions} from '../../src/backends/cuda/index';
import {CudaBackend} from '../../src/backends/cuda/backend';
import {PACKAGE_ROOT} from '../../src/io/package_root';

const WARMUP = 10,
  RUNS = 30;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function randomTensor(shape: number[]): tf.Tensor {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = Math.random() * 2 - 1;
  return tf.tensor(v, shape);
}

/** Median wall ms (call + device sync) and median GPU ms (CUDA events) of f on the current backend. */
function timeIt(f: () => tf.Tensor, runs = RUNS, warmup = WARMUP): {wallMs: number; gpuMs?: number} {
  const backend = tf.backend();
  const cuda = backend instanceof CudaBackend ? backend : undefined;
  const sync = (t: tf.Tensor) => (cuda ? cuda.n.sync() : t.dataSync());
  for (let i = 0; i < warmup; i++) {
    const y = f();
    sync(y);
    y.dispose();
  }
  const wall: number[] = [],
    gpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const timer = cuda ? cuda.n.timerStart() : 0;
    const t0 = process.hrtime.bigint();
    const y = f();
    sync(y);
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (cuda) gpu.push(cuda.n.timerEnd({timer}));
    y.dispose();
  }
  return {wallMs: median(wall), gpuMs: cuda ? median(gpu) : undefined};
}

/** ResNet-50 trunk (torchvision layout: stride on the 3x3 of each bottleneck), inference BN, no head. */
export function resnet50Trunk(height: number, width = height): tfl.LayersModel {
  const input = tfl.input({shape: [height, width, 3]});
  const conv = (x: tfl.SymbolicTensor, filters: number, k: number, stride: number) =>
    tfl.layers
      .conv2d({filters, kernelSize: k, strides: stride, padding: 'same', useBias: false})
      .apply(x) as tfl.SymbolicTensor;
  const bn = (x: tfl.SymbolicTensor) => tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor;
  const relu = (x: tfl.SymbolicTensor) => tfl.layers.reLU().apply(x) as tfl.SymbolicTensor;
  let x = relu(bn(conv(input, 64, 7, 2)));
  x = tfl.layers.maxPooling2d({poolSize: 3, strides: 2, padding: 'same'}).apply(x) as tfl.SymbolicTensor;
  const stages: Array<[number, number, number]> = [
    [64, 3, 1],
    [128, 4, 2],
    [256, 6, 2],
    [512, 3, 2],
  ];
  for (const [filters, blocks, stride] of stages) {
    for (let b = 0; b < blocks; b++) {
      const s = b === 0 ? stride : 1;
      const shortcut = b === 0 ? bn(conv(x, filters * 4, 1, s)) : x;
      let y = relu(bn(conv(x, filters, 1, 1)));
      y = relu(bn(conv(y, filters, 3, s)));
      y = bn(conv(y, filters * 4, 1, 1));
      x = relu(tfl.layers.add().apply([y, shortcut]) as tfl.SymbolicTensor);
    }
  }
  return tfl.model({inputs: input, outputs: x});
}

interface Row {
  name: string;
  cudaWallMs: number;
  cudaGpuMs?: number;
  torchMs?: number;
  ratioVsTorch?: number; // cuda wall / torch (< 1: faster than PyTorch eager)
  cpuMs?: number;
  speedupVsCpu?: number;
}

async function main() {
  const avail = cudaAvailability();
  if (!avail.available) {
    console.error(`cuda backend unavailable: ${avail.reason}`);
    process.exit(1);
  }
  const torchFile = process.argv[2];
  const outDir = process.argv[3] ?? path.join(PACKAGE_ROOT, 'benchmarks', 'results');
  const torch: {[k: string]: number | string} =
    torchFile && fs.existsSync(torchFile) ? JSON.parse(fs.readFileSync(torchFile, 'utf8')) : {};
  setCudaOptions({allowTF32: true});
  const rows: Row[] = [];

  const opCase = async (name: string, shapes: number[][], f: (...t: tf.Tensor[]) => tf.Tensor, cpuRuns = 0) => {
    await tf.setBackend('cpu');
    const inputs = shapes.map(randomTensor);
    let cpuMs: number | undefined;
    if (cpuRuns) cpuMs = timeIt(() => f(...inputs), cpuRuns, 1).wallMs;
    await tf.setBackend('cuda');
    const r = timeIt(() => tf.tidy(() => f(...inputs)));
    rows.push({
      name,
      cudaWallMs: r.wallMs,
      cudaGpuMs: r.gpuMs,
      cpuMs,
      speedupVsCpu: cpuMs ? cpuMs / r.wallMs : undefined,
    });
    tf.dispose(inputs);
  };

  await opCase(
    'conv2d 3x3 64->64 1x128x128 bias relu',
    [[1, 128, 128, 64], [3, 3, 64, 64], [64]],
    (x, w, b) =>
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: b,
        activation: 'relu',
      }),
    3,
  );
  await opCase('conv3d 3x3x3 64->64 1x4x128x128 bias', [[1, 4, 128, 128, 64], [3, 3, 3, 64, 64], [64]], (x, w, b) =>
    tf.add(tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 1, 'same'), b),
  );
  await opCase(
    'conv3dTranspose k(3,4,4) s(1,2,2) 64->32 1x4x64x64',
    [
      [1, 4, 64, 64, 64],
      [3, 4, 4, 32, 64],
    ],
    (x, w) => tf.conv3dTranspose(x as tf.Tensor5D, w as tf.Tensor5D, [1, 4, 128, 128, 32], [1, 2, 2], 'same'),
  );
  await opCase('matMul 256x2048x1000 bias relu', [[256, 2048], [2048, 1000], [1000]], (a, w, b) =>
    tf.fused.matMul({a: a as tf.Tensor2D, b: w as tf.Tensor2D, bias: b, activation: 'relu'}),
  );

  for (const batch of [1, 32]) {
    await tf.setBackend('cpu');
    const model = resnet50Trunk(256);
    const x = randomTensor([batch, 256, 256, 3]);
    await tf.setBackend('cuda');
    const r = timeIt(() => model.predict(x) as tf.Tensor);
    rows.push({name: `resnet50 trunk 256x256 b${batch}`, cudaWallMs: r.wallMs, cudaGpuMs: r.gpuMs});
    x.dispose();
    model.dispose();
  }

  for (const row of rows) {
    const t = torch[row.name];
    if (typeof t === 'number') {
      row.torchMs = t;
      row.ratioVsTorch = row.cudaWallMs / t;
    }
  }
  const gpu = avail.device!.name;
  const result = {
    gpu,
    computeCapability: avail.device!.computeCapability,
    cudnnVersion: avail.device!.cudnnVersion,
    node: process.version,
    date: new Date().toISOString(),
    tf32: true,
    warmup: WARMUP,
    runs: RUNS,
    torch: torchFile ? {version: torch.torch, cudnn: torch.cudnn, gpu: torch.gpu} : undefined,
    memory: (tf.backend() as CudaBackend).n.memory(),
    rows,
  };
  fs.mkdirSync(outDir, {recursive: true});
  const file = path.join(outDir, `cuda_dense_${gpu.replace(/[^A-Za-z0-9]+/g, '_')}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 1) + '\n');
  console.log(`\n'cuda' backend on ${gpu} (TF32), median of ${RUNS} after ${WARMUP} warm-up; wall = call + sync`);
  const f = (v?: number, d = 3) => (v === undefined ? '-' : v.toFixed(d));
  console.log(['case', 'cuda wall ms', 'cuda gpu ms', 'torch ms', 'cuda/torch', 'cpu ms', 'cpu/cuda'].join(' | '));
  for (const r of rows)
    console.log(
      [
        r.name,
        f(r.cudaWallMs),
        f(r.cudaGpuMs),
        f(r.torchMs),
        f(r.ratioVsTorch, 2),
        f(r.cpuMs, 1),
        f(r.speedupVsCpu, 1),
      ].join(' | '),
    );
  console.log(`wrote ${file}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
