/**
 * Kernel benchmark of the input change test (deltaSparsify, native/cuda/delta_accumulate.cu) on 'cuda', run on the GPU
 * machine:
 *   node dist/benchmarks/ops/delta_sparsify_cuda.js [outDir]
 * RGB frames as a delta model's input layer sees them (the built-in clip's 289x385 at batch 1, vtest.avi's 577x769 at
 * batch 8), the sent state uniform in [-1, 1] and the frame moved by 0.5 at a random 2% or 30% of its pixels, threshold
 * 0.1, exact (dilation 1) and dilated 7 x 7 (run's default), the new state written whole (a model's first frame), and
 * in place with the frame alternating between two (what a delta model's input layer runs after its first frame: only
 * the sent pixels are read and written, the delta lazily where it is large), against one element-wise pass that reads
 * two such frames and writes one (tf.sub): what the test's bytes would cost at the pass's bandwidth. PoseNet's profiled
 * batch-8 frame at 577x769 spent 0.59 ms in this op on an H100, several times what its bytes need.
 * Timing: benchmarks/ops/cuda_timing.ts (CUDA events, calls queued behind other GPU work, median).
 * Writes <outDir>/delta_sparsify_<gpu>.json (outDir default benchmarks/results).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {deltaSparsify} from '../../src/index';
import {cudaBenchmarkBackend, freeQueue, timeGpu, writeKernelResults} from './cuda_timing';

const FRAMES: Array<[string, number[]]> = [
  ['289x385 batch 1', [1, 289, 385, 3]],
  ['577x769 batch 8', [8, 577, 769, 3]],
];
const MOVED = [0.02, 0.3];
const DILATIONS = [1, 7];

interface Row {
  frame: string;
  moved: number;
  dilation: number;
  inPlace: boolean;
  sparsifyUs: number;
  passUs: number;
  ratio: number;
}

async function main(): Promise<void> {
  const bench = await cudaBenchmarkBackend();
  if (bench == null) return;
  const {cuda, device, outDir} = bench;
  const rows: Row[] = [];
  for (const [frame, shape] of FRAMES) {
    for (const moved of MOVED) {
      const sent = tf.randomUniform(shape, -1, 1);
      const x = tf.tidy(() =>
        tf.add(sent, tf.mul(tf.cast(tf.less(tf.randomUniform(shape.slice(0, -1).concat(1)), moved), 'float32'), 0.5)),
      );
      const pass = timeGpu(cuda, () => tf.sub(x, sent)).gpuMs * 1000;
      for (const dilation of DILATIONS) {
        const us =
          timeGpu(cuda, () => {
            const r = deltaSparsify(x, sent, {threshold: 0.1, dilation});
            return [r.delta, r.sent];
          }).gpuMs * 1000;
        rows.push({frame, moved, dilation, inPlace: false, sparsifyUs: us, passUs: pass, ratio: us / pass});
        // In place: the state follows the frames, so each call sees one frame's change from the other.
        const state = tf.add(sent, 0);
        let call = 0;
        const inPlaceUs =
          timeGpu(cuda, () => {
            const r = deltaSparsify(call++ % 2 === 0 ? x : sent, state, {threshold: 0.1, dilation, inPlace: true});
            return [r.delta, r.sent];
          }).gpuMs * 1000;
        state.dispose();
        rows.push({
          frame,
          moved,
          dilation,
          inPlace: true,
          sparsifyUs: inPlaceUs,
          passUs: pass,
          ratio: inPlaceUs / pass,
        });
      }
      tf.dispose([x, sent]);
    }
  }
  freeQueue(cuda);
  const file = writeKernelResults(outDir, 'delta_sparsify', device.name, device, {threshold: 0.1}, rows);
  console.log('\n| frame | pixels moved | dilation | state | sparsify us | one pass us | sparsify / pass |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.frame} | ${(100 * r.moved).toFixed(0)}% | ${r.dilation} | ${r.inPlace ? 'in place' : 'whole'} | ` +
        `${r.sparsifyUs.toFixed(1)} | ` +
        `${r.passUs.toFixed(1)} | ${r.ratio.toFixed(2)}x |`,
    );
  }
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
