/**
 * Kernel benchmark of deltaConv2d on 'cuda', run on the GPU machine:
 *   node dist/benchmarks/ops/delta_conv2d_cuda.js [outDir]
 * Convs 3x3 64->64 and 1x1 256->64 (stride 1, 'same'), batch 1, at 96x128 and 192x256; inputs whose active
 * pixels are whole 16x16 tiles, 0, 1, 5, 10, 25, 50 and 100% of them (random tiles, at least one for > 0%), against
 * the dense cuDNN conv2d of the same shape in the same run. Both in TF32 (the default, tensor cores on both sides)
 * and strict fp32.
 *
 * Timing: GPU time with CUDA events around K calls queued behind ~0.7 ms of other GPU work, so the GPU runs them
 * back to back and the events measure the GPU, not the host's launch rate; per call = elapsed / K; median of REPS
 * after warm-up. The work queued ahead is a 1 GiB fill (all SMs busy: clocks stay up) or, with
 * TFJS_DELTA_BENCH_QUEUE=spin, a one-thread busy wait (the GPU may lower its clocks while it spins).
 * Host time per call (the op through the tfjs engine, no sync) is reported separately. The delta conv's output is
 * written lazily (inactive pixels left to a later dense read) at every size, as the kernel's own cost; `eager` rows
 * write the zeros (the backend's default below CudaBackend.lazyZerosAbove elements).
 * Variants (the run script runs them in the same session): TFJS_DELTA_BENCH_MODES=tf32 (only the TF32 rows),
 * TFJS_DELTA_CONV_MMA=0 (the WMMA kernel instead of the mma.sync kernel), TFJS_DELTA_CONV_MMA_NB=64
 * (64 output channels per block for 3x3 too), TFJS_DELTA_CONV_MMA_PACK=0 (no packed TF32 filter: the kernel stages
 * and rounds the plain filter), TFJS_DELTA_CONV_MMA_ROUND=0 (with PACK=0: operands not rounded to TF32).
 * Writes <outDir>/cuda_delta_<gpu>.json (outDir default benchmarks/results).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {setCudaOptions} from '../../src/backends/cuda/index';
import {deltaConvStats} from '../../src/backends/cuda/kernels/delta';
import {activeFraction, deltaConv2d, withMask} from '../../src/index';
import {cudaBenchmarkBackend, freeQueue, randomTensor, tileMask, timeGpu, writeKernelResults} from './cuda_timing';

const FRACTIONS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1];
const TARGETS: {[f: string]: number} = {'0': 0.05, '0.1': 0.2, '1': 1.5};

interface Row {
  mode: string;
  conv: string;
  size: string;
  tiles: number; // fraction of 16x16 input tiles active
  inputActive: number; // fraction of input pixels active
  outputActive: number; // fraction of output pixels active
  deltaMs: number; // GPU ms per call, lazy zeros
  eagerZerosMs: number; // GPU ms per call, inactive outputs written as zeros
  denseMs: number; // cuDNN conv2d, same shape, same run
  ratio: number; // deltaMs / denseMs
  target?: number;
  hostMs: number; // host ms per deltaConv2d call (engine + addon), no sync
  path: string;
}

async function main(): Promise<void> {
  const opened = await cudaBenchmarkBackend();
  if (opened == null) return;
  const {cuda, device, outDir} = opened;
  cuda.lazyZerosAbove = 0;
  const gpu = device.name;
  const rows: Row[] = [];
  const modes = process.env.TFJS_DELTA_BENCH_MODES === 'tf32' ? ['tf32'] : ['tf32', 'fp32'];
  for (const mode of modes) {
    setCudaOptions({allowTF32: mode === 'tf32'});
    for (const [k, cin, cout] of [
      [3, 64, 64],
      [1, 256, 64],
    ]) {
      for (const [h, w] of [
        [96, 128],
        [192, 256],
      ]) {
        const x = randomTensor([1, h, w, cin]);
        const filter = randomTensor([k, k, cin, cout], 0.1) as tf.Tensor4D;
        const dense = timeGpu(cuda, () => tf.conv2d(x as tf.Tensor4D, filter, 1, 'same'));
        for (const fraction of FRACTIONS) {
          const mask = tileMask(h, w, fraction);
          const xd = withMask(x, mask) as tf.Tensor4D;
          const before = {...deltaConvStats};
          const lazy = timeGpu(cuda, () => deltaConv2d(xd, filter, 1, 'same'));
          const pathUsed =
            deltaConvStats.tensorCore > before.tensorCore
              ? 'tensor cores'
              : deltaConvStats.cudaCores > before.cudaCores
                ? 'fp32 cuda cores'
                : 'cudnn';
          cuda.lazyZeros = false;
          const eager = timeGpu(cuda, () => deltaConv2d(xd, filter, 1, 'same'));
          cuda.lazyZeros = true;
          const probe = deltaConv2d(xd, filter, 1, 'same');
          const row: Row = {
            mode,
            conv: `${k}x${k} ${cin}->${cout}`,
            size: `${h}x${w}`,
            tiles: fraction,
            inputActive: activeFraction(xd),
            outputActive: activeFraction(probe),
            deltaMs: lazy.gpuMs,
            eagerZerosMs: eager.gpuMs,
            denseMs: dense.gpuMs,
            ratio: lazy.gpuMs / dense.gpuMs,
            target: TARGETS[String(fraction)],
            hostMs: lazy.hostMs,
            path: pathUsed,
          };
          tf.dispose([probe, xd, mask]);
          rows.push(row);
          console.log(
            `${mode} ${row.conv} ${row.size} tiles ${(fraction * 100).toFixed(0)}%: delta ${(row.deltaMs * 1e3).toFixed(1)} us` +
              ` (zeros ${(row.eagerZerosMs * 1e3).toFixed(1)}) dense ${(row.denseMs * 1e3).toFixed(1)} us ratio ${row.ratio.toFixed(3)}` +
              `${row.target ? ` target <= ${row.target}` : ''} host ${(row.hostMs * 1e3).toFixed(1)} us ${row.path}`,
          );
        }
        tf.dispose([x, filter]);
      }
    }
  }
  setCudaOptions({allowTF32: true});
  freeQueue(cuda);
  const file = writeKernelResults(
    outDir,
    'cuda_delta',
    gpu,
    device,
    {
      minBlocks: process.env.TFJS_DELTA_CONV_MIN_BLOCKS ?? '1',
      tf32Kernel: process.env.TFJS_DELTA_CONV_MMA === '0' ? 'wmma' : 'mma.sync',
      mmaMultiTapNB: process.env.TFJS_DELTA_CONV_MMA_NB ?? '32',
      mmaRound: process.env.TFJS_DELTA_CONV_MMA_ROUND !== '0',
      mmaPackedFilter: process.env.TFJS_DELTA_CONV_MMA_PACK !== '0',
    },
    rows,
  );
  console.log(`\n| mode | conv | size | tiles | out active | delta us | zeros us | dense us | delta/dense | target |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.mode} | ${r.conv} | ${r.size} | ${(r.tiles * 100).toFixed(0)}% | ${(r.outputActive * 100).toFixed(1)}% | ` +
        `${(r.deltaMs * 1e3).toFixed(1)} | ${(r.eagerZerosMs * 1e3).toFixed(1)} | ${(r.denseMs * 1e3).toFixed(1)} | ` +
        `${r.ratio.toFixed(3)} | ${r.target ? `<= ${r.target} ${r.ratio <= r.target ? 'met' : 'MISSED'}` : ''} |`,
    );
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
