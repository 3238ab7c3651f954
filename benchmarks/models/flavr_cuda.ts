/**
 * FLAVR 2x (full width, random weights) on the 'cuda' backend vs PyTorch eager on the same GPU in
 * the same run (benchmarks/models/flavr_torch.py): 256x256 and 512x512, batch 1, TF32 and strict fp32.
 * model.predict timed on the wall clock until the output is read back (what a user gets), median of
 * 30 after 10 warm-ups (the committed H100 results were taken with 20 after 5, on both sides). Prints ratios and writes benchmarks/results/flavr_cuda_<gpu>.json.
 *
 *   node dist/benchmarks/models/flavr_cuda.js <torch-results.json> [outdir]
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';

import {flavr} from '../../src/models/flavr';
import {cudaAvailability, setCudaOptions, useCudaIfAvailable} from '../../src/backends/cuda/index';

async function medianMs(fn: () => Promise<void>, warmup = 10, runs = 30): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
  const [torchFile, outDir = 'benchmarks/results'] = process.argv.slice(2);
  const status = cudaAvailability();
  if (!status.available || !(await useCudaIfAvailable())) throw new Error(`'cuda' unavailable: ${status.reason}`);
  const gpu = status.device?.name ?? 'unknown GPU';
  const torch = torchFile && fs.existsSync(torchFile) ? JSON.parse(fs.readFileSync(torchFile, 'utf8')) : {};
  const model = flavr({factor: 2});
  const rows: Array<{name: string; ms: number; torchMs?: number; ratio?: number}> = [];
  for (const precision of ['tf32', 'fp32']) {
    setCudaOptions({allowTF32: precision === 'tf32'});
    for (const size of [256, 512]) {
      const x = tf.randomUniform([1, 4, size, size, 3]);
      const ms = await medianMs(async () => {
        const y = model.predict(x) as tf.Tensor;
        await y.data();
        y.dispose();
      });
      x.dispose();
      const name = `flavr2x ${size} ${precision}`;
      const torchMs = torch[name] as number | undefined;
      rows.push({name, ms, torchMs, ratio: torchMs ? ms / torchMs : undefined});
    }
  }
  console.log(`GPU: ${gpu}`);
  console.log('| case | tfjs-delta cuda ms | PyTorch eager ms | ratio (lower is better) |');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.ms.toFixed(2)} | ${r.torchMs?.toFixed(2) ?? '-'} | ${r.ratio?.toFixed(2) ?? '-'} |`);
  }
  fs.mkdirSync(outDir, {recursive: true});
  const file = path.join(outDir, `flavr_cuda_${gpu.replace(/[^A-Za-z0-9]+/g, '_')}.json`);
  fs.writeFileSync(file, JSON.stringify({gpu, torch, rows}, null, 1));
  console.log(`wrote ${file}`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
