/**
 * The whole interpolation job on the GPU machine: decode (ffmpeg) -> frames uploaded as bytes -> FLAVR 2x as a
 * compiled stream -> frames converted to bytes on the GPU and read asynchronously -> encode (ffmpeg), as
 * `tfjs-delta interpolate` runs it, at each clip's resolution; and FLAVR alone (a compiled step per window, GPU
 * time by events) on the same sizes, so the cost of the pipeline around the model shows. PyTorch FLAVR in the same
 * device run (interpolate_torch.py) gives the reference; ratios are printed when its JSON is given.
 *   node dist/benchmarks/pipeline/interpolate_cuda.js <outDir> <clip.mp4>... [--torch torch.json] [--precision fp16]
 * Random weights: the speed of the convolutions does not depend on their values.
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';

import {CudaBackend} from '../../src/backends/cuda/backend';
import {useCudaIfAvailable} from '../../src/backends/cuda/index';
import {flavr} from '../../src/models/flavr';
import {interpolateVideo} from '../../src/pipeline/interpolate';
import {probeVideo} from '../../src/pipeline/ffmpeg';
import {compileStream, StreamPrecision} from '../../src/stream/compile_stream';
import {median} from '../bench_util';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

interface Row {
  clip: string;
  width: number;
  height: number;
  inputFrames: number;
  /** The whole job: input frames per second of wall time (model compile and warm-up included). */
  inputFps: number;
  /** The same, after the first 8 input frames (the stream's capture and cuDNN's plan search). */
  steadyInputFps: number;
  /** FLAVR alone: one compiled window, GPU time (events) and wall time with a sync. */
  modelGpuMs: number;
  modelWallMs: number;
  torchModelMs?: number;
  torchPipelineFps?: number;
}

async function main(): Promise<void> {
  const [outDir, ...rest] = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  const clips = rest;
  const precision = (option('--precision') ?? 'fp16') as StreamPrecision;
  const torch = option('--torch') ? JSON.parse(fs.readFileSync(option('--torch')!, 'utf8')) : null;
  const why = await useCudaIfAvailable();
  if (tf.getBackend() !== 'cuda') throw new Error(`interpolate_cuda needs the 'cuda' backend: ${JSON.stringify(why)}`);
  const n = (tf.backend() as CudaBackend).n;
  const gpu = (tf.backend() as CudaBackend).device.name;
  const model = flavr({factor: 2});
  const rows: Row[] = [];
  for (const clip of clips) {
    const info = probeVideo(clip);
    // FLAVR alone at this size.
    const stream = compileStream(model, {precision});
    const windows = [0, 1, 2].map(() => tf.randomUniform([1, 4, info.height, info.width, 3]) as tf.Tensor5D);
    const gpuMs: number[] = [],
      wallMs: number[] = [];
    for (let i = 0; i < 25; i++) {
      const timer = n.timerStart();
      const t0 = process.hrtime.bigint();
      const y = stream.step(windows[i % 3]) as tf.Tensor;
      n.sync();
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      const g = n.timerEnd({timer});
      y.dispose();
      if (i >= 5) {
        gpuMs.push(g);
        wallMs.push(wall);
      }
    }
    tf.dispose(windows);
    // The whole job, as the command runs it.
    const out = path.join(outDir, `interpolated_${info.width}x${info.height}.mp4`);
    const t0 = Date.now();
    let steadyStart = 0;
    const result = await interpolateVideo({
      input: clip,
      output: out,
      factor: 2,
      interpolator: (w) => stream.step(w) as tf.Tensor5D,
      onProgress: (done) => {
        if (done === 8) steadyStart = Date.now();
      },
    });
    const seconds = (Date.now() - t0) / 1000;
    const steady = (Date.now() - steadyStart) / 1000;
    stream.dispose();
    fs.rmSync(out, {force: true});
    const key = `${info.width}x${info.height}`;
    const row: Row = {
      clip: path.basename(clip),
      width: info.width,
      height: info.height,
      inputFrames: result.inputFrames,
      inputFps: result.inputFrames / seconds,
      steadyInputFps: (result.inputFrames - 8) / steady,
      modelGpuMs: median(gpuMs),
      modelWallMs: median(wallMs),
      torchModelMs: torch?.[`model ${key} ${precision}`],
      torchPipelineFps: torch?.[`pipeline ${key} ${precision}`],
    };
    rows.push(row);
    console.log(
      `${key}: ${row.inputFrames} input frames, whole job ${row.inputFps.toFixed(1)} input frames/s ` +
        `(steady ${row.steadyInputFps.toFixed(1)}), FLAVR alone ${row.modelGpuMs.toFixed(2)} ms GPU / ` +
        `${row.modelWallMs.toFixed(2)} ms wall per window` +
        (row.torchModelMs != null
          ? `; PyTorch FLAVR ${row.torchModelMs.toFixed(2)} ms per window ` +
            `(${(row.torchModelMs / row.modelWallMs).toFixed(2)}x ours)`
          : '') +
        (row.torchPipelineFps != null
          ? `, PyTorch whole job ${row.torchPipelineFps.toFixed(1)} input frames/s ` +
            `(ours ${(row.steadyInputFps / row.torchPipelineFps).toFixed(2)}x)`
          : ''),
    );
  }
  const file = path.join(outDir, `interpolate_cuda_${gpu.replace(/[^A-Za-z0-9]+/g, '_')}.json`);
  fs.writeFileSync(file, JSON.stringify({gpu, precision, factor: 2, rows}, null, 1));
  console.log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
