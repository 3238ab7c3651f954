/**
 * Where a model's time goes on 'cuda': tf.profile of one predict after warm-up, GPU time per kernel name from
 * the backend's CUDA-event timer (each kernel timed alone, so the sum exceeds a normal predict), plus the wall
 * time of a normal predict and the backend's own time() (GPU time of the whole predict). Batch 1, TF32.
 *
 *   node dist/benchmarks/models/model_profile.js [flavr|pose|trunk|deltapose] [height] [width]
 * flavr: FLAVR 2x (default 512x512); pose: ResNet-50 + SimpleBaseline head; trunk: ResNet-50 trunk (default 256x256);
 * deltapose: toDelta of the seeded pose model (delta_vtest.ts) at threshold TFJS_DELTA_BENCH_THRESHOLD (0.05) on
 * consecutive vtest.avi frames (TFJS_DELTA_VTEST_FRAMES), profiled in its steady state.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {flavr} from '../../src/models/flavr';
import {resnet} from '../../src/models/resnet';
import {useCudaIfAvailable} from '../../src/backends/cuda/index';
import {toDelta} from '../../src/delta/to_delta';
import {resnet50Trunk} from '../backends/cuda_dense';
import {loadPoseNet, posenetUnavailable, seededResNet50Pose} from '../../data/models';
import {CudaBackend} from '../../src/backends/cuda/backend';
import {frameTensor, framesUnavailable, vtestRgb} from '../../data/vtest';

async function main(): Promise<void> {
  if (!(await useCudaIfAvailable())) throw new Error("'cuda' unavailable");
  const which = process.argv[2] ?? 'flavr';
  const h = Number(process.argv[3] ?? (which === 'flavr' ? 512 : 256));
  const w = Number(process.argv[4] ?? h);
  let model: tfl.LayersModel;
  let frames: tf.Tensor[];
  if (which === 'flavr') {
    model = flavr({factor: 2});
    frames = [tf.randomUniform([1, 4, h, w, 3])];
  } else if (which === 'pose' || which === 'trunk') {
    model = which === 'pose' ? resnet({depth: 50, head: 'pose'}) : resnet50Trunk(h, w);
    frames = [tf.randomUniform([1, h, w, 3])];
  } else if (which === 'deltapose') {
    model = toDelta(seededResNet50Pose(), {threshold: Number(process.env.TFJS_DELTA_BENCH_THRESHOLD ?? 0.05)});
    const count = 40;
    const why = framesUnavailable(count, h, w);
    if (why != null) throw new Error(`model_profile deltapose: ${why}`);
    const rgb = vtestRgb(count, h, w);
    frames = Array.from({length: count}, (_, i) => frameTensor(rgb, i, h, w));
  } else if (which === 'posenet' || which === 'deltaposenet') {
    // trained PoseNet-MobileNetV1 (scripts/fetch-posenet.sh); delta at `run`'s default threshold (0.05)
    const why = posenetUnavailable() ?? framesUnavailable(40, h, w);
    if (why != null) throw new Error(`model_profile ${which}: ${why}`);
    const dense = await loadPoseNet();
    model =
      which === 'posenet' ? dense : toDelta(dense, {threshold: Number(process.env.TFJS_DELTA_BENCH_THRESHOLD ?? 0.05)});
    const rgb = vtestRgb(40, h, w);
    frames = Array.from({length: 40}, (_, i) => frameTensor(rgb, i, h, w));
  } else {
    throw new Error(`model_profile: unknown model '${which}' (flavr, pose, trunk, deltapose, posenet, deltaposenet)`);
  }
  // TFJS_DELTA_PROFILE_PRECISION=fp16: the kernels as an 'fp16' compiled stream runs them (half storage).
  const precision = process.env.TFJS_DELTA_PROFILE_PRECISION ?? 'tf32';
  if (precision === 'fp16') (tf.backend() as CudaBackend).halfStorage = true;
  else if (precision !== 'tf32') throw new Error(`model_profile: precision must be tf32 or fp16, got ${precision}`);
  const label = `${which} ${w}x${h} ${precision}`;
  let frame = 0;
  const next = () => frames[frame++ % frames.length];
  const predict = async () => {
    const ys = [model.predict(next())].flat();
    await Promise.all(ys.map((y) => y.data()));
    tf.dispose(ys);
  };
  for (let i = 0; i < 5; i++) await predict();
  const walls: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await predict();
    walls.push(performance.now() - t0);
  }
  walls.sort((a, b) => a - b);
  const timing = await tf.time(() => {
    tf.dispose(model.predict(next()));
  });
  const profile = await tf.profile(() => {
    tf.dispose(model.predict(next()));
  });
  const byKernel = new Map<string, {ms: number; calls: number}>();
  for (const k of profile.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const entry = byKernel.get(k.name) ?? {ms: 0, calls: 0};
    entry.ms += ms;
    entry.calls += 1;
    byKernel.set(k.name, entry);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  console.log(
    `${label}: wall median ${walls[5].toFixed(2)} ms; tf.time kernelMs ${JSON.stringify(timing.kernelMs)} ` +
      `wallMs ${timing.wallMs.toFixed(2)}; ${profile.kernels.length} kernel calls, profiled GPU sum ${total.toFixed(2)} ms`,
  );
  console.log('| kernel | calls | GPU ms (profiled) | share |');
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`| ${name} | ${e.calls} | ${e.ms.toFixed(2)} | ${((100 * e.ms) / total).toFixed(1)}% |`);
  }
  // Each convolution call: shapes, GPU time and the rate it reaches (2 flops per multiply-add).
  console.log('\n| conv call | input | filter | output | GPU ms | TFLOP/s |');
  console.log('|---|---|---|---|---|---|');
  for (const k of profile.kernels) {
    if (!/^(Conv3D|Conv3DGated|Conv2D|FusedConv2D|Conv3DBackpropInputV2)$/.test(k.name)) continue;
    const [xShape, fShape] = k.inputShapes as number[][];
    const out = (k.outputShapes as number[][])[0];
    if (!xShape || !fShape || !out) continue;
    const size = (v: number[]) => v.reduce((a, b) => a * b, 1);
    // forward: every output element takes (filter size / out channels) multiply-adds; transposed: every input one
    const transposed =
      k.name === 'Conv3DBackpropInputV2' || (k.name === 'Conv3DGated' && out[4] === fShape[3] && out[2] > xShape[2]);
    const macs = transposed
      ? (size(xShape) * size(fShape)) / xShape[xShape.length - 1]
      : (size(out) * size(fShape)) / out[out.length - 1];
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    console.log(
      `| ${k.name} | [${xShape}] | [${fShape}] | [${out}] | ${ms.toFixed(3)} | ` +
        `${ms > 0 ? ((2 * macs) / ms / 1e9).toFixed(0) : '-'} |`,
    );
  }
  tf.dispose(frames);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
