/**
 * Kernel benchmark of the delta conv block on 'cuda' (a delta conv with its truncating activation: fusedDeltaConv2d),
 * run on the GPU machine:
 *   node dist/benchmarks/ops/delta_block_cuda.js [outDir]
 * PoseNet's pointwise layers at 577x769 and 1080x1920 (batch 1; inputs whose active pixels are whole 16x16 tiles,
 * 0-100% of them), three ways in the same run:
 *   dense   the dense block: tf.fused.conv2d with bias and relu6 (cuDNN conv + bias + activation);
 *   block   fusedDeltaConv2d, relu6, threshold 0.05, state in place, with the pointwise block on
 *           (TFJS_DELTA_CUDA_POINTWISE=1): a work list of the active pixels, the accumulator as the epilogue
 *           (native/cuda/delta_pointwise.cu);
 *   split   the same op with the block off (the default): the tiled delta conv, then sparseAccumulate.
 * Targets (the delta engine's kernel-level bar): block / dense <= 0.05 at 0% active, <= 0.2 at 10%, <= 1.2 at 100%.
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
  {layer: 'Conv2d_3 pointwise', frame: '577x769', h: 145, w: 193, c: 96, co: 96},
  {layer: 'Conv2d_3 pointwise', frame: '1080x1920', h: 270, w: 480, c: 96, co: 96},
  {layer: 'Conv2d_7 pointwise', frame: '577x769', h: 37, w: 49, c: 384, co: 384},
  {layer: 'Conv2d_7 pointwise', frame: '1080x1920', h: 68, w: 120, c: 384, co: 384},
  {layer: 'Conv2d_13 pointwise', frame: '1080x1920', h: 68, w: 120, c: 768, co: 768},
];

interface Row {
  layer: string;
  frame: string;
  conv: string;
  tiles: number; // fraction of 16x16 input tiles active
  inputActive: number; // fraction of input pixels active
  denseMs: number; // GPU ms per call: cuDNN conv + bias + relu6
  blockMs: number; // the pointwise delta block
  splitMs: number; // the tiled delta conv + sparseAccumulate
  ratio: number; // blockMs / denseMs
  splitRatio: number; // splitMs / denseMs
  target?: number;
  blockHostMs: number; // host ms per block call (engine + addon), no sync
}

async function main(): Promise<void> {
  const opened = await cudaBenchmarkBackend({allowTF32: true});
  if (opened == null) return;
  const {cuda, device, outDir} = opened;
  const gpu = device.name;
  const rows: Row[] = [];
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
      const before = deltaConvStats.pointwiseBlocks;
      cuda.pointwiseBlocks = true;
      const fused = timeGpu(cuda, block);
      if (deltaConvStats.pointwiseBlocks === before) throw new Error(`the pointwise block did not run for ${s.layer}`);
      cuda.pointwiseBlocks = false;
      const split = timeGpu(cuda, block);
      const row: Row = {
        layer: s.layer,
        frame: s.frame,
        conv: `1x1 ${s.c}->${s.co} at ${s.h}x${s.w}`,
        tiles: fraction,
        inputActive: activeFraction(xd),
        denseMs: dense.gpuMs,
        blockMs: fused.gpuMs,
        splitMs: split.gpuMs,
        ratio: fused.gpuMs / dense.gpuMs,
        splitRatio: split.gpuMs / dense.gpuMs,
        target: TARGETS[String(fraction)],
        blockHostMs: fused.hostMs,
      };
      tf.dispose([xd, mask]);
      rows.push(row);
      console.log(
        `${s.layer} ${s.frame} ${row.conv} tiles ${(fraction * 100).toFixed(0)}%: block ${(row.blockMs * 1e3).toFixed(1)} us, ` +
          `split ${(row.splitMs * 1e3).toFixed(1)} us, dense ${(row.denseMs * 1e3).toFixed(1)} us, ` +
          `block/dense ${row.ratio.toFixed(3)}${row.target ? ` (target <= ${row.target})` : ''}, ` +
          `host ${(row.blockHostMs * 1e3).toFixed(1)} us`,
      );
    }
    tf.dispose([x, filter, bias, a, r]);
  }
  freeQueue(cuda);
  const file = writeKernelResults(outDir, 'delta_block', gpu, device, {}, rows);
  console.log(
    `\n| layer | frame | conv | tiles | active | block us | split us | dense us | block/dense | split/dense | target |`,
  );
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.layer} | ${r.frame} | ${r.conv} | ${(r.tiles * 100).toFixed(0)}% | ${(r.inputActive * 100).toFixed(1)}% | ` +
        `${(r.blockMs * 1e3).toFixed(1)} | ${(r.splitMs * 1e3).toFixed(1)} | ${(r.denseMs * 1e3).toFixed(1)} | ` +
        `${r.ratio.toFixed(3)} | ${r.splitRatio.toFixed(3)} | ` +
        `${r.target ? `<= ${r.target} ${r.ratio <= r.target ? 'met' : 'MISSED'}` : ''} |`,
    );
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
