/**
 * Kernel benchmark of the dense depthwise convolution on 'cuda', run on the GPU machine:
 *   node dist/benchmarks/ops/depthwise_cuda.js [outDir]
 * MobileNet depthwise layers (3x3, channel multiplier 1: PoseNet's at 289x385, the built-in clip's size, and at
 * 577x769, batch 1 and 8; MobileNetV2's at 576x768), each as FusedDepthwiseConv2D with bias and relu6 and as a bare
 * DepthwiseConv2dNative, two ways in the same run:
 *   own     native/cuda/depthwise.cu (bias and activation in its epilogue; the default);
 *   cudnn   cuDNN's grouped convolution, then the bias + activation pass (TFJS_DELTA_CUDA_DEPTHWISE=0).
 * Timing: benchmarks/ops/cuda_timing.ts (CUDA events, calls queued behind other GPU work, median); the ratio own /
 * cudnn is of GPU time per call. Writes <outDir>/depthwise_<gpu>.json (outDir default benchmarks/results).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {cudaBenchmarkBackend, freeQueue, randomTensor, timeGpu, writeKernelResults} from './cuda_timing';

const SHAPES = [
  {layer: 'PoseNet Conv2d_1 depthwise', frame: '289x385', n: 1, h: 145, w: 193, c: 32, s: 1},
  {layer: 'PoseNet Conv2d_2 depthwise', frame: '289x385', n: 1, h: 145, w: 193, c: 64, s: 2},
  {layer: 'PoseNet Conv2d_5 depthwise', frame: '289x385', n: 1, h: 37, w: 49, c: 256, s: 1},
  {layer: 'PoseNet Conv2d_7 depthwise', frame: '289x385', n: 1, h: 19, w: 25, c: 512, s: 1},
  {layer: 'PoseNet Conv2d_13 depthwise', frame: '289x385', n: 1, h: 19, w: 25, c: 1024, s: 1},
  {layer: 'PoseNet Conv2d_1 depthwise', frame: '577x769', n: 1, h: 289, w: 385, c: 32, s: 1},
  {layer: 'PoseNet Conv2d_7 depthwise', frame: '577x769', n: 1, h: 37, w: 49, c: 512, s: 1},
  {layer: 'PoseNet Conv2d_1 depthwise', frame: '577x769', n: 8, h: 289, w: 385, c: 32, s: 1},
  {layer: 'PoseNet Conv2d_7 depthwise', frame: '577x769', n: 8, h: 37, w: 49, c: 512, s: 1},
  {layer: 'MobileNetV2 block_1 depthwise', frame: '576x768', n: 1, h: 288, w: 384, c: 96, s: 2},
  {layer: 'MobileNetV2 block_13 depthwise', frame: '576x768', n: 1, h: 36, w: 48, c: 576, s: 2},
];

interface Row {
  layer: string;
  frame: string;
  batch: number;
  conv: string;
  op: string;
  ownMs: number; // GPU ms per call, depthwise.cu
  cudnnMs: number; // GPU ms per call, cuDNN (+ the bias/activation pass for the fused op)
  ratio: number; // ownMs / cudnnMs
}

async function main(): Promise<void> {
  const opened = await cudaBenchmarkBackend({allowTF32: true});
  if (opened == null) return;
  const {cuda, device, outDir} = opened;
  const rows: Row[] = [];
  for (const s of SHAPES) {
    const x = randomTensor([s.n, s.h, s.w, s.c]) as tf.Tensor4D;
    const filter = randomTensor([3, 3, s.c, 1], 0.3) as tf.Tensor4D;
    const bias = randomTensor([s.c], 0.1) as tf.Tensor1D;
    const ops: Array<[string, () => tf.Tensor]> = [
      [
        'fused (bias, relu6)',
        () => tf.fused.depthwiseConv2d({x, filter, strides: s.s, pad: 'same', bias, activation: 'relu6'}),
      ],
      ['bare', () => tf.depthwiseConv2d(x, filter, s.s, 'same')],
    ];
    for (const [op, f] of ops) {
      cuda.ownDepthwise = true;
      const own = timeGpu(cuda, f);
      cuda.ownDepthwise = false;
      const cudnn = timeGpu(cuda, f);
      cuda.ownDepthwise = true;
      const row: Row = {
        layer: s.layer,
        frame: s.frame,
        batch: s.n,
        conv: `3x3 s${s.s} ${s.c} ch at ${s.h}x${s.w}`,
        op,
        ownMs: own.gpuMs,
        cudnnMs: cudnn.gpuMs,
        ratio: own.gpuMs / cudnn.gpuMs,
      };
      rows.push(row);
      console.log(
        `${s.layer} ${s.frame} b${s.n} ${row.conv} ${op}: own ${(row.ownMs * 1e3).toFixed(1)} us, ` +
          `cuDNN ${(row.cudnnMs * 1e3).toFixed(1)} us, own/cuDNN ${row.ratio.toFixed(2)}`,
      );
    }
    tf.dispose([x, filter, bias]);
  }
  freeQueue(cuda);
  const file = writeKernelResults(outDir, 'depthwise', device.name, device, {batch: 'per row'}, rows);
  console.log(`\nGPU: ${device.name}\n| layer | frame | batch | conv | op | own us | cuDNN us | own / cuDNN |`);
  console.log(`|---|---|---|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.layer} | ${r.frame} | ${r.batch} | ${r.conv} | ${r.op} | ${(r.ownMs * 1e3).toFixed(1)} | ` +
        `${(r.cudnnMs * 1e3).toFixed(1)} | ${r.ratio.toFixed(2)} |`,
    );
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
