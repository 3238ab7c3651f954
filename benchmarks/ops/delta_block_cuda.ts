/**
 * Kernel benchmark of the delta conv block on 'cuda' (a delta conv with its truncating activation: fusedDeltaConv2d),
 * run on the GPU machine:
 *   node dist/benchmarks/ops/delta_block_cuda.js [outDir]
 * PoseNet's pointwise layers at 577x769 and 1080x1920 and MobileNetV2's 1x1 expansions at 1080x1920 (batch 1; inputs
 * whose active pixels are whole 16x16 tiles, 0-100% of them), up to four ways in the same run:
 *   dense     the dense block: tf.fused.conv2d with bias and relu6 (cuDNN conv + bias + activation);
 *   split     fusedDeltaConv2d, relu6, threshold 0.05, state in place, as two kernels: the tiled delta conv, then
 *             sparseAccumulate over the pixels it listed (the default where the small-conv block does not run);
 *   epilogue  the same op as one tiled kernel with the accumulator as its epilogue (TFJS_DELTA_CUDA_MMA_ACCUMULATE=1,
 *             native/cuda/delta_conv_tc.cu), for the convs it takes (at most 256 output channels);
 *   block     the pointwise block over a work list of the active pixels (TFJS_DELTA_CUDA_POINTWISE=1,
 *             native/cuda/delta_pointwise.cu), for the convs it takes (output channels % 32 == 0).
 * The small-conv block (pixel groups) is off throughout, so that the expansions over 16-32 channels take these paths.
 * Targets (the delta engine's kernel-level bar), for the best delta path: <= 0.05 of dense at 0% active, <= 0.2 at
 * 10%, <= 1.2 at 100%.
 * Timing: benchmarks/ops/cuda_timing.ts (CUDA events, calls queued behind other GPU work, median).
 * Writes <outDir>/delta_block_<gpu>.json (outDir default benchmarks/results).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {deltaConvStats} from '../../src/backends/cuda/kernels/delta';
import {activeFraction, fusedDeltaConv2d, withMask} from '../../src/index';
import {cudaBenchmarkBackend, freeQueue, randomTensor, tileMask, timeGpu, writeKernelResults} from './cuda_timing';

const FRACTIONS = [0, 0.01, 0.1, 0.25, 0.5, 1];
const TARGETS: {[f: string]: number} = {'0': 0.05, '0.1': 0.2, '1': 1.2};
const SHAPES = [
  {layer: 'PoseNet Conv2d_3 pointwise', frame: '577x769', h: 145, w: 193, c: 96, co: 96},
  {layer: 'PoseNet Conv2d_3 pointwise', frame: '1080x1920', h: 270, w: 480, c: 96, co: 96},
  {layer: 'PoseNet Conv2d_7 pointwise', frame: '577x769', h: 37, w: 49, c: 384, co: 384},
  {layer: 'PoseNet Conv2d_7 pointwise', frame: '1080x1920', h: 68, w: 120, c: 384, co: 384},
  {layer: 'PoseNet Conv2d_13 pointwise', frame: '1080x1920', h: 68, w: 120, c: 768, co: 768},
  {layer: 'MobileNetV2 block_1 expand', frame: '1080x1920', h: 540, w: 960, c: 16, co: 96},
  {layer: 'MobileNetV2 block_2 expand', frame: '1080x1920', h: 270, w: 480, c: 24, co: 144},
  {layer: 'MobileNetV2 block_4 expand', frame: '1080x1920', h: 135, w: 240, c: 32, co: 192},
];

interface Row {
  layer: string;
  frame: string;
  conv: string;
  tiles: number; // fraction of 16x16 input tiles active
  inputActive: number; // fraction of input pixels active
  denseMs: number; // GPU ms per call: cuDNN conv + bias + relu6
  splitMs: number; // the tiled delta conv + sparseAccumulate
  epilogueMs: number | null; // the tiled delta conv with the accumulator as its epilogue (null: not taken)
  blockMs: number | null; // the pointwise delta block (null: not taken)
  splitRatio: number; // splitMs / denseMs
  epilogueRatio: number | null;
  blockRatio: number | null;
  target?: number;
}

const us = (ms: number | null) => (ms == null ? '-' : (ms * 1e3).toFixed(1));
const ratio = (r: number | null) => (r == null ? '-' : r.toFixed(3));

async function main(): Promise<void> {
  const opened = await cudaBenchmarkBackend({allowTF32: true});
  if (opened == null) return;
  const {cuda, device, outDir} = opened;
  const gpu = device.name;
  const rows: Row[] = [];
  const saved = [cuda.smallConvBlocks, cuda.mmaAccumulateBlocks, cuda.pointwiseBlocks] as const;
  cuda.smallConvBlocks = false;
  for (const s of SHAPES) {
    const x = randomTensor([1, s.h, s.w, s.c]);
    const filter = randomTensor([1, 1, s.c, s.co], 0.1) as tf.Tensor4D;
    const bias = randomTensor([s.co], 0.1) as tf.Tensor1D;
    const dense = timeGpu(cuda, () =>
      tf.fused.conv2d({x: x as tf.Tensor4D, filter, strides: 1, pad: 'same', bias, activation: 'relu6'}),
    );
    const a = randomTensor([1, s.h, s.w, s.co], 3) as tf.Tensor4D;
    const r = tf.zeros([1, s.h, s.w, s.co]) as tf.Tensor4D;
    for (const fraction of FRACTIONS) {
      const mask = tileMask(s.h, s.w, fraction);
      const xd = withMask(x, mask) as tf.Tensor4D;
      const block = () => {
        const out = fusedDeltaConv2d({
          x: xd,
          filter,
          strides: 1,
          pad: 'same',
          accumulated: a,
          residual: r,
          threshold: 0.05,
          activation: 'relu6',
          inPlace: true,
        });
        return [out.delta, out.accumulated, out.residual];
      };
      // GPU ms a call with the given path on, or null where the path did not take the conv.
      const timeWith = (path: 'split' | 'epilogue' | 'block'): number | null => {
        cuda.mmaAccumulateBlocks = path === 'epilogue';
        cuda.pointwiseBlocks = path === 'block';
        const stat = path === 'epilogue' ? 'mmaAccumulateBlocks' : 'pointwiseBlocks';
        const before = deltaConvStats[stat];
        const t = timeGpu(cuda, block);
        return path === 'split' || deltaConvStats[stat] > before ? t.gpuMs : null;
      };
      const split = timeWith('split')!;
      const epilogue = timeWith('epilogue');
      const pointwise = timeWith('block');
      const row: Row = {
        layer: s.layer,
        frame: s.frame,
        conv: `1x1 ${s.c}->${s.co} at ${s.h}x${s.w}`,
        tiles: fraction,
        inputActive: activeFraction(xd),
        denseMs: dense.gpuMs,
        splitMs: split,
        epilogueMs: epilogue,
        blockMs: pointwise,
        splitRatio: split / dense.gpuMs,
        epilogueRatio: epilogue == null ? null : epilogue / dense.gpuMs,
        blockRatio: pointwise == null ? null : pointwise / dense.gpuMs,
        target: TARGETS[String(fraction)],
      };
      tf.dispose([xd, mask]);
      rows.push(row);
      console.log(
        `${s.layer} ${s.frame} ${row.conv} tiles ${(fraction * 100).toFixed(0)}%: dense ${us(row.denseMs)} us, ` +
          `split ${us(split)}, epilogue ${us(epilogue)}, block ${us(pointwise)}; /dense ${ratio(row.splitRatio)}, ` +
          `${ratio(row.epilogueRatio)}, ${ratio(row.blockRatio)}${row.target ? ` (target <= ${row.target})` : ''}`,
      );
    }
    tf.dispose([x, filter, bias, a, r]);
  }
  [cuda.smallConvBlocks, cuda.mmaAccumulateBlocks, cuda.pointwiseBlocks] = saved;
  freeQueue(cuda);
  const file = writeKernelResults(outDir, 'delta_block', gpu, device, {}, rows);
  console.log(
    `\n| layer | frame | conv | tiles | active | dense us | split us | epilogue us | block us | split/dense | ` +
      `epilogue/dense | block/dense | target (best) |`,
  );
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const best = Math.min(...[r.splitRatio, r.epilogueRatio, r.blockRatio].filter((v): v is number => v != null));
    console.log(
      `| ${r.layer} | ${r.frame} | ${r.conv} | ${(r.tiles * 100).toFixed(0)}% | ${(r.inputActive * 100).toFixed(1)}% | ` +
        `${us(r.denseMs)} | ${us(r.splitMs)} | ${us(r.epilogueMs)} | ${us(r.blockMs)} | ${ratio(r.splitRatio)} | ` +
        `${ratio(r.epilogueRatio)} | ${ratio(r.blockRatio)} | ` +
        `${r.target ? `<= ${r.target} ${best <= r.target ? 'met' : 'MISSED'}` : ''} |`,
    );
  }
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
