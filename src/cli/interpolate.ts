/** `tfjs-delta interpolate`: FLAVR frame interpolation of a whole video, streamed. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {flavrWeightsProblem, loadFlavr} from '../models/flavr_weights';
import {interpolateVideo} from '../pipeline/interpolate';
import {evenSize, probeVideo} from '../pipeline/ffmpeg';
import {compileStream, StreamPrecision} from '../stream/compile_stream';
import {interruptible, progressBar} from './progress';

export {flavrWeightsProblem};

export interface InterpolateCommandOptions {
  output: string;
  factor: number;
  weights?: string;
  fps?: number;
  slowmo?: boolean;
  batch: number;
  /** On 'cuda': run FLAVR as a compiled stream (default true). */
  compile?: boolean;
  precision?: StreamPrecision;
}

export async function interpolateCommand(input: string, options: InterpolateCommandOptions): Promise<void> {
  const problem = flavrWeightsProblem(options.weights);
  if (problem != null) throw new Error(problem);
  const info = probeVideo(input);
  console.log(
    `input: ${input}, ${info.width}x${info.height} at ${info.fps} fps, ~${info.frames} frames` +
      `${info.hasAudio ? ', with audio' : ''}`,
  );
  const encoded = evenSize(info.width, info.height);
  if (encoded.width !== info.width || encoded.height !== info.height) {
    console.log(
      `note: ${info.width}x${info.height} is odd; 4:2:0 video needs even sizes, so the output is ` +
        `${encoded.width}x${encoded.height} (the frames padded with one black column or row)`,
    );
  }
  const model: tfl.LayersModel = await loadFlavr(options.weights!);
  const modelFactor = (model.outputs[0].shape[1] ?? 1) + 1;
  if (modelFactor !== options.factor) {
    model.dispose();
    throw new Error(`--factor ${options.factor} does not match the weights, which interpolate ${modelFactor}x`);
  }
  // On 'cuda' a window's kernels replay as one CUDA graph; fp16 halves the convolutions' memory traffic.
  const stream =
    tf.getBackend() === 'cuda' && options.compile !== false
      ? compileStream(model, {precision: options.precision ?? 'fp16'})
      : null;
  if (stream != null) console.log(`FLAVR runs as a compiled stream on 'cuda' (${stream.precision})`);
  const interrupt = interruptible('the frames in flight');
  const bar = progressBar('interpolating', 'frames', info.frames);
  const t0 = Date.now();
  try {
    const result = await interpolateVideo({
      input,
      output: options.output,
      factor: options.factor,
      fps: options.fps,
      slowmo: options.slowmo,
      batch: options.batch,
      interpolator: (windows) => (stream != null ? stream.step(windows) : model.predict(windows)) as tf.Tensor5D,
      onProgress: (done) => bar.update(done),
      shouldStop: interrupt.stopRequested,
    });
    bar.stop();
    const seconds = (Date.now() - t0) / 1000;
    // An interrupted job still ends in failure for scripts (130, as for SIGINT), with a usable prefix.
    if (result.interrupted) process.exitCode = 130;
    console.log(
      `${result.interrupted ? 'interrupted; wrote a shorter playable video' : 'wrote'} ${options.output}: ` +
        `${result.outputFrames} frames at ${result.fps} fps from ${result.inputFrames} input frames ` +
        `in ${seconds.toFixed(1)} s (${(result.inputFrames / seconds).toFixed(2)} input frames/s)`,
    );
  } finally {
    bar.stop();
    interrupt.release();
    stream?.dispose();
    model.dispose();
  }
}
