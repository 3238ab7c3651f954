/**
 * Kernel benchmark of the delta engine's per-pixel kernels on 'cuda', run on the GPU machine:
 *   node dist/benchmarks/ops/delta_accumulate_cuda.js [outDir]
 * PoseNet-MobileNetV1's layers at 289x385 batch 1 (the built-in clip) and 577x769 batch 8, inputs whose active
 * pixels are whole 16x16 tiles (0-100% of them), relu6, threshold 0.05, state in place:
 *   depthwise    fusedDeltaDepthwiseConv2d (the fused depthwise block, native/cuda/delta_fused.cu) against the
 *                dense layer, tf.fused.depthwiseConv2d with bias and relu6 (native/cuda/depthwise.cu);
 *   accumulate   sparseAccumulate on a pointwise conv's output (native/cuda/delta_accumulate.cu) against one
 *                element-wise pass over that output (tf.relu6: one read, one write), what a dense 1x1 conv layer
 *                spends on its bias and activation on 'cuda' (cuDNN's conv, then one bias-and-activation kernel);
 * the state fresh for each fraction (A spread over relu6's range, R zero), then updated in place by the timed calls.
 * Timing: benchmarks/ops/cuda_timing.ts (CUDA events, calls queued behind other GPU work, median).
 * Writes <outDir>/delta_accumulate_<gpu>.json (outDir default benchmarks/results).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {activeFraction, fusedDeltaDepthwiseConv2d, sparseAccumulate, withMask} from '../../src/index';
import {cudaBenchmarkBackend, freeQueue, randomTensor, tileMask, timeGpu, writeKernelResults} from './cuda_timing';

const FRACTIONS = [0, 0.1, 0.5, 1];
/** The truncating accumulator both kernels run: run's threshold, PoseNet's activation, the state in place. */
const ACCUMULATOR = {threshold: 0.05, activation: 'relu6', inPlace: true} as const;
interface Shape {
  kernel: 'depthwise' | 'accumulate';
  layer: string;
  frame: string;
  batch: number;
  h: number; // input
  w: number;
  c: number;
  strides?: number;
}
const LAYERS: Array<[string, number, number, number, number, number]> = [
  // name, the depthwise conv's input h and w at 289x385, its channels and strides, the pointwise conv's outputs
  ['Conv2d_1', 145, 193, 32, 1, 64],
  ['Conv2d_2', 145, 193, 64, 2, 128],
  ['Conv2d_3', 73, 97, 128, 1, 128],
  ['Conv2d_5', 37, 49, 256, 1, 256],
  ['Conv2d_7', 19, 25, 512, 1, 512],
];
const SHAPES: Shape[] = [];
for (const [frame, batch, scale] of [
  ['289x385', 1, 1],
  ['577x769', 8, 2],
] as const) {
  for (const [layer, h, w, c, strides, co] of LAYERS) {
    const [sh, sw] = [(h - 1) * scale + 1, (w - 1) * scale + 1];
    const [oh, ow] = [Math.ceil(sh / strides), Math.ceil(sw / strides)];
    SHAPES.push({kernel: 'depthwise', layer: `${layer} depthwise`, frame, batch, h: sh, w: sw, c, strides});
    SHAPES.push({kernel: 'accumulate', layer: `${layer} pointwise`, frame, batch, h: oh, w: ow, c: co});
  }
}

interface Row {
  kernel: string;
  layer: string;
  frame: string;
  shape: string; // the delta kernel's input
  tiles: number; // fraction of 16x16 input tiles active
  inputActive: number; // fraction of input pixels active
  flushed: number; // fraction of output pixels flushed by a call after the timed ones
  denseMs: number; // GPU ms per call of the dense counterpart
  deltaMs: number; // the delta kernel
  ratio: number; // deltaMs / denseMs
}

async function main(): Promise<void> {
  const opened = await cudaBenchmarkBackend({allowTF32: true});
  if (opened == null) return;
  const {cuda, device, outDir} = opened;
  const rows: Row[] = [];
  for (const s of SHAPES) {
    const strides = s.strides ?? 1;
    const [oh, ow] = [Math.ceil(s.h / strides), Math.ceil(s.w / strides)];
    const x = randomTensor([s.batch, s.h, s.w, s.c]) as tf.Tensor4D;
    const filter = randomTensor([3, 3, s.c, 1], 0.3) as tf.Tensor4D;
    const bias = randomTensor([s.c], 0.1) as tf.Tensor1D;
    const dense =
      s.kernel === 'depthwise'
        ? timeGpu(cuda, () => tf.fused.depthwiseConv2d({x, filter, strides, pad: 'same', bias, activation: 'relu6'}))
        : timeGpu(cuda, () => tf.relu6(x));
    const out: [number, number, number, number] = [
      s.batch,
      s.kernel === 'depthwise' ? oh : s.h,
      s.kernel === 'depthwise' ? ow : s.w,
      s.c,
    ];
    for (const fraction of FRACTIONS) {
      const a = randomTensor(out, 3) as tf.Tensor4D;
      const r = tf.zeros(out) as tf.Tensor4D;
      const mask = tf.tile(tileMask(s.h, s.w, fraction), [s.batch, 1, 1]);
      const xd = withMask(x, mask) as tf.Tensor4D;
      const call = () => {
        const o =
          s.kernel === 'depthwise'
            ? fusedDeltaDepthwiseConv2d({
                x: xd,
                filter,
                strides,
                pad: 'same',
                accumulated: a,
                residual: r,
                ...ACCUMULATOR,
              })
            : sparseAccumulate(a, r, xd, ACCUMULATOR);
        return [o.delta, o.accumulated, o.residual];
      };
      const delta = timeGpu(cuda, call);
      const after = call();
      const flushed = activeFraction(after[0]);
      tf.dispose(after);
      const row: Row = {
        kernel: s.kernel,
        layer: s.layer,
        frame: s.frame,
        shape: `[${s.batch},${s.h},${s.w},${s.c}]${strides > 1 ? ` stride ${strides}` : ''}`,
        tiles: fraction,
        inputActive: activeFraction(xd),
        flushed,
        denseMs: dense.gpuMs,
        deltaMs: delta.gpuMs,
        ratio: delta.gpuMs / dense.gpuMs,
      };
      tf.dispose([xd, mask, a, r]);
      rows.push(row);
      console.log(
        `${s.kernel} ${s.layer} ${s.frame} ${row.shape} tiles ${(fraction * 100).toFixed(0)}%: ` +
          `delta ${(row.deltaMs * 1e3).toFixed(1)} us, dense ${(row.denseMs * 1e3).toFixed(1)} us, ` +
          `delta/dense ${row.ratio.toFixed(2)}`,
      );
    }
    tf.dispose([x, filter, bias]);
  }
  freeQueue(cuda);
  const file = writeKernelResults(outDir, 'delta_accumulate', device.name, device, {batch: 'per row'}, rows);
  console.log(`\n| kernel | layer | frame | input | tiles | active | flushed | delta us | dense us | delta/dense |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.kernel} | ${r.layer} | ${r.frame} | ${r.shape} | ${(r.tiles * 100).toFixed(0)}% | ` +
        `${(r.inputActive * 100).toFixed(1)}% | ${(r.flushed * 100).toFixed(1)}% | ${(r.deltaMs * 1e3).toFixed(1)} | ` +
        `${(r.denseMs * 1e3).toFixed(1)} | ` +
        `${r.ratio.toFixed(2)} |`,
    );
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
