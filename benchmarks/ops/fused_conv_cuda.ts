/**
 * Kernel benchmark of dense FusedConv2D (bias and activation) on 'cuda', run on the GPU machine:
 *   node dist/benchmarks/ops/fused_conv_cuda.js [outDir]
 * The regular convs of MobileNetV2 (576x768), PoseNet-MobileNetV1 (577x769, output stride 16) and ResNet-50
 * (576x768), at batch 8 and some at batch 1, each two ways in the same run:
 *   tiled   the tiled TF32 kernel of the delta convs with the bias and activation in its store (one pass over the
 *           output; CudaBackend.fusedConvMaxK opens it);
 *   cudnn   cuDNN's conv, then the bias + activation pass (fusedConvMaxK 0).
 * The reduction K = kh x kw x input channels orders the rows: the crossover K, where cuDNN's main loop starts to win
 * over the saved output traffic, is what sets FUSED_CONV_MAX_K and FUSED_CONV_MIN_OUT_CHANNELS
 * (src/backends/cuda/backend.ts). Each row also says whether the default bounds route it (`routed`).
 * Timing: benchmarks/ops/cuda_timing.ts (CUDA events, calls queued behind other GPU work, median); the ratio
 * tiled / cudnn is of GPU time per call. Writes <outDir>/fused_conv_<gpu>.json (outDir default benchmarks/results).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {fusedConvStats} from '../../src/backends/cuda/kernels/conv';
import {cudaBenchmarkBackend, freeQueue, randomTensor, timeGpu, writeKernelResults} from './cuda_timing';

interface Shape {
  layer: string;
  frame: string;
  n: number;
  h: number; // input
  w: number;
  c: number;
  co: number;
  k: number;
  s: number;
  act: 'relu6' | 'relu' | 'linear';
}

const m2 = (layer: string, n: number, h: number, w: number, c: number, co: number, act: Shape['act']): Shape => ({
  layer: `MobileNetV2 ${layer}`,
  frame: '576x768',
  n,
  h,
  w,
  c,
  co,
  k: 1,
  s: 1,
  act,
});
const pose = (layer: string, n: number, h: number, w: number, c: number, co: number): Shape => ({
  layer: `PoseNet ${layer}`,
  frame: '577x769',
  n,
  h,
  w,
  c,
  co,
  k: 1,
  s: 1,
  act: 'relu6',
});
const r50 = (layer: string, n: number, h: number, w: number, c: number, co: number, k: number): Shape => ({
  layer: `ResNet-50 ${layer}`,
  frame: '576x768',
  n,
  h,
  w,
  c,
  co,
  k,
  s: 1,
  act: 'relu',
});

const SHAPES: Shape[] = [
  m2('block_1 expand', 8, 288, 384, 16, 96, 'relu6'),
  m2('block_0 project', 8, 288, 384, 32, 16, 'linear'),
  m2('block_1 project', 8, 144, 192, 96, 24, 'linear'),
  m2('block_2 expand', 8, 144, 192, 24, 144, 'relu6'),
  m2('block_2 project', 8, 144, 192, 144, 24, 'linear'),
  m2('block_4 expand', 8, 72, 96, 32, 192, 'relu6'),
  m2('block_4 project', 8, 72, 96, 192, 32, 'linear'),
  m2('block_8 project', 8, 36, 48, 384, 64, 'linear'),
  m2('block_12 project', 8, 36, 48, 576, 96, 'linear'),
  m2('block_15 expand', 8, 18, 24, 160, 960, 'relu6'),
  m2('block_15 project', 8, 18, 24, 960, 160, 'linear'),
  m2('Conv_1', 8, 18, 24, 320, 1280, 'relu6'),
  m2('block_7 expand', 8, 36, 48, 64, 384, 'relu6'),
  m2('block_11 expand', 8, 36, 48, 96, 576, 'relu6'),
  m2('block_1 expand', 1, 288, 384, 16, 96, 'relu6'),
  m2('block_2 expand', 1, 144, 192, 24, 144, 'relu6'),
  m2('block_4 expand', 1, 72, 96, 32, 192, 'relu6'),
  m2('block_7 expand', 1, 36, 48, 64, 384, 'relu6'),
  m2('block_12 project', 1, 36, 48, 576, 96, 'linear'),
  pose('Conv2d_1 pointwise', 8, 289, 385, 32, 64),
  pose('Conv2d_3 pointwise', 8, 145, 193, 128, 128),
  pose('Conv2d_5 pointwise', 8, 73, 97, 256, 256),
  pose('Conv2d_7 pointwise', 8, 37, 49, 512, 512),
  pose('Conv2d_13 pointwise', 8, 37, 49, 1024, 1024),
  pose('Conv2d_2 pointwise', 8, 145, 193, 64, 128),
  pose('Conv2d_1 pointwise', 1, 289, 385, 32, 64),
  {...pose('Conv2d_1 pointwise', 1, 145, 193, 32, 64), frame: '289x385'},
  {...pose('Conv2d_2 pointwise', 1, 73, 97, 64, 128), frame: '289x385'},
  r50('layer1 conv1', 8, 144, 192, 256, 64, 1),
  r50('layer1 conv2', 8, 144, 192, 64, 64, 3),
  r50('layer1 conv3', 8, 144, 192, 64, 256, 1),
  r50('layer2 conv2', 8, 72, 96, 128, 128, 3),
  r50('layer3 conv1', 8, 36, 48, 1024, 256, 1),
  r50('layer3 conv2', 8, 36, 48, 256, 256, 3),
  r50('layer4 conv2', 8, 18, 24, 512, 512, 3),
];

interface Row {
  layer: string;
  frame: string;
  batch: number;
  conv: string;
  reduction: number; // K = kh * kw * c
  activation: string;
  tiledMs: number; // GPU ms per call, the tiled kernel with the bias and activation fused
  cudnnMs: number; // GPU ms per call, cuDNN's conv + the bias/activation pass
  ratio: number; // tiledMs / cudnnMs
  routed: boolean; // whether the default bounds take the tiled kernel
}

async function main(): Promise<void> {
  const opened = await cudaBenchmarkBackend({allowTF32: true});
  if (opened == null) return;
  const {cuda, device, outDir} = opened;
  const saved = [cuda.fusedConvMaxK, cuda.fusedConvMinOutChannels] as const;
  const rows: Row[] = [];
  for (const s of [...SHAPES].sort((a, b) => a.k * a.k * a.c - b.k * b.k * b.c)) {
    const x = randomTensor([s.n, s.h, s.w, s.c]) as tf.Tensor4D;
    const filter = randomTensor([s.k, s.k, s.c, s.co], 1 / Math.sqrt(s.k * s.k * s.c)) as tf.Tensor4D;
    const bias = randomTensor([s.co], 0.1) as tf.Tensor1D;
    const f = () => tf.fused.conv2d({x, filter, strides: s.s, pad: 'same', bias, activation: s.act});
    [cuda.fusedConvMaxK, cuda.fusedConvMinOutChannels] = [Number.MAX_SAFE_INTEGER, 4];
    const before = fusedConvStats.tiled;
    const tiled = timeGpu(cuda, f);
    if (fusedConvStats.tiled === before) throw new Error(`${s.layer}: the tiled route did not run`);
    cuda.fusedConvMaxK = 0;
    const cudnn = timeGpu(cuda, f);
    [cuda.fusedConvMaxK, cuda.fusedConvMinOutChannels] = saved;
    const row: Row = {
      layer: s.layer,
      frame: s.frame,
      batch: s.n,
      conv: `${s.k}x${s.k} ${s.c}->${s.co} at ${s.h}x${s.w}`,
      reduction: s.k * s.k * s.c,
      activation: s.act,
      tiledMs: tiled.gpuMs,
      cudnnMs: cudnn.gpuMs,
      ratio: tiled.gpuMs / cudnn.gpuMs,
      routed: s.k * s.k * s.c <= saved[0] && s.co >= saved[1],
    };
    rows.push(row);
    console.log(
      `${s.layer} ${s.frame} b${s.n} ${row.conv} K ${row.reduction}: tiled ${(row.tiledMs * 1e3).toFixed(1)} us, ` +
        `cuDNN + pass ${(row.cudnnMs * 1e3).toFixed(1)} us, tiled/cuDNN ${row.ratio.toFixed(2)}`,
    );
    tf.dispose([x, filter, bias]);
  }
  freeQueue(cuda);
  const file = writeKernelResults(
    outDir,
    'fused_conv',
    device.name,
    device,
    {defaultMaxK: saved[0], defaultMinOutChannels: saved[1]},
    rows,
  );
  console.log(
    `\nGPU: ${device.name}\n| layer | frame | batch | conv | K | act | tiled us | cuDNN + pass us | ratio | routed |`,
  );
  console.log(`|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.layer} | ${r.frame} | ${r.batch} | ${r.conv} | ${r.reduction} | ${r.activation} | ` +
        `${(r.tiledMs * 1e3).toFixed(1)} | ${(r.cudnnMs * 1e3).toFixed(1)} | ${r.ratio.toFixed(2)} | ` +
        `${r.routed ? 'yes' : 'no'} |`,
    );
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
