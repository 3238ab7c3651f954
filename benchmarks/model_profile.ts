/**
 * Where FLAVR 2x's time goes on 'cuda': tf.profile of one predict at 512x512 (TF32) after warm-up,
 * GPU time per kernel name from the backend's CUDA-event timer (each kernel timed alone, so the sum
 * exceeds a normal predict), plus the wall time of a normal predict and the backend's own
 * time() (GPU time of the whole predict).
 *
 *   node dist/benchmarks/flavr_profile.js [size]
 */
import * as tf from '@tensorflow/tfjs-core';

import {flavr} from '../models/flavr';
import {useCudaIfAvailable} from '../src/backend_cuda';

async function main(): Promise<void> {
  if (!(await useCudaIfAvailable())) throw new Error("'cuda' unavailable");
  const size = Number(process.argv[2] ?? 512);
  const model = flavr({factor: 2});
  const x = tf.randomUniform([1, 4, size, size, 3]);
  const predict = async () => {
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
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
    (model.predict(x) as tf.Tensor).dispose();
  });
  const profile = await tf.profile(() => {
    (model.predict(x) as tf.Tensor).dispose();
  });
  const byKernel = new Map<string, {ms: number, calls: number}>();
  for (const k of profile.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const entry = byKernel.get(k.name) ?? {ms: 0, calls: 0};
    entry.ms += ms;
    entry.calls += 1;
    byKernel.set(k.name, entry);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`FLAVR 2x ${size}x${size}: wall median ${walls[5].toFixed(2)} ms; tf.time kernelMs ${JSON.stringify(timing.kernelMs)} ` +
      `wallMs ${timing.wallMs.toFixed(2)}; ${profile.kernels.length} kernel calls, profiled GPU sum ${total.toFixed(2)} ms`);
  console.log('| kernel | calls | GPU ms (profiled) | share |');
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`| ${name} | ${e.calls} | ${e.ms.toFixed(2)} | ${(100 * e.ms / total).toFixed(1)}% |`);
  }
  x.dispose();
  model.dispose();
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
