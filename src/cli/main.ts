#!/usr/bin/env node
/**
 * The tfjs-delta command line. `tfjs-delta --help` lists the commands; every long job shows a
 * progress bar and says which backend runs it.
 */
import {Command, InvalidArgumentError, Option} from 'commander';

import {BackendChoice, chooseBackend} from './backend';
import {benchCommand} from './bench';
import {convertCommand} from './convert';
import {runDemo} from './demo';
import {interpolateCommand, InterpolateCommandOptions} from './interpolate';
import {DEFAULT_CLIP, runCommand, RunCommandOptions} from './run';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer.`);
    return n;
  };
}

function nonNegative(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n >= 0)) throw new InvalidArgumentError(`${name} must be a number >= 0.`);
    return n;
  };
}

function factor(value: string): number {
  if (!['2', '4', '8'].includes(value)) throw new InvalidArgumentError('factor must be 2, 4 or 8.');
  return Number(value);
}

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number.`);
    return n;
  };
}

function size(value: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(value);
  if (m == null) throw new InvalidArgumentError('size must look like HEIGHTxWIDTH, e.g. 96x128.');
  return [Number(m[1]), Number(m[2])];
}

export function buildProgram(): Command {
  const program = new Command('tfjs-delta')
      .description('Fast video CNNs for TensorFlow.js: delta (sparse frame-difference) inference and frame interpolation')
      .option('--backend <name>', "auto | cuda | tensorflow | cpu", 'auto')
      .showHelpAfterError();

  program.command('run')
      .description('run a model over a video, dense or delta (or both, compared), with an overlay video, ' +
          'a per-frame CSV/JSON and a summary; defaults: trained PoseNet on a built-in pedestrian clip')
      .argument('[model]', "'posenet' or a LayersModel's model.json / folder", 'posenet')
      .argument('[input]', 'input video', DEFAULT_CLIP)
      .option('--delta', 'run the delta model (toDelta) instead of the dense one')
      .option('--compare', 'run dense and delta side by side and report the deviation')
      .option('--threshold <t>', 'delta threshold at the input and every activation', nonNegative('--threshold'), 0.05)
      .option('-o, --output <file>', 'overlay video (keypoints for PoseNet, a heatmap tint otherwise)')
      .option('--stats <file>', 'per-frame timings, active fractions and deviation (.csv or .json)')
      .option('--size <HxW>', 'model input size (default: the model\'s, else the video scaled to <= 384 px)')
      .option('--frames <n>', 'stop after n frames', positiveInt('--frames'))
      .option('--range <lo,hi>', 'pixel range the model expects (default -1,1 for PoseNet, else 0,1)')
      .option('--no-layer-stats', 'do not read per-layer masks back each frame (faster delta, no active fractions)')
      .option('--no-compile', "on 'cuda', run the models eagerly instead of as compiled streams (a CUDA graph per frame)")
      .addOption(new Option('--precision <p>', "compiled streams' precision: fp32 is strict, fp16 runs convolutions " +
                            'and activations in half (delta layers stay float32)')
                     .choices(['tf32', 'fp32', 'fp16']).default('tf32'))
      .action(async (model: string, input: string, opts: RunCommandOptions) => {
        if (opts.size != null) size(opts.size);
        console.log(await chooseBackend(program.opts().backend as BackendChoice));
        await runCommand(model, input, opts);
      });

  program.command('bench')
      .description('dense vs delta over a range of thresholds on a clip: a table, a JSON file and a PNG plot')
      .argument('[model]', "'posenet' or a LayersModel's model.json / folder", 'posenet')
      .argument('[input]', 'input video', DEFAULT_CLIP)
      .option('--frames <n>', 'frames per pass', positiveInt('--frames'), 16)
      .option('--thresholds <list>', 'comma-separated delta thresholds', '0,0.01,0.02,0.05,0.1')
      .option('-o, --output <prefix>', 'writes <prefix>.json and <prefix>.png', 'tfjs-delta-bench')
      .action(async (model: string, input: string, opts: {frames: number, thresholds: string, output: string}) => {
        const thresholds = opts.thresholds.split(',').map(Number);
        if (thresholds.some(t => !(t >= 0))) throw new InvalidArgumentError('--thresholds must be numbers >= 0.');
        console.log(await chooseBackend(program.opts().backend as BackendChoice));
        await benchCommand(model, input, {frames: opts.frames, thresholds, output: opts.output});
      });

  program.command('demo')
      .description('a delta CNN on a built-in synthetic static-camera clip, dense vs delta, with per-frame statistics')
      .option('--frames <n>', 'frames to run', positiveInt('--frames'), 24)
      .option('--threshold <t>', 'delta threshold at the input and every activation', nonNegative('--threshold'), 0.02)
      .option('--size <HxW>', 'frame size', '96x128')
      .action(async (opts: {frames: number, threshold: number, size: string}) => {
        const [height, width] = size(opts.size);
        console.log(await chooseBackend(program.opts().backend as BackendChoice));
        await runDemo({frames: opts.frames, threshold: opts.threshold, height, width});
      });

  program.command('interpolate')
      .description('FLAVR frame interpolation: a video at 2x/4x/8x the frame rate (or in slow motion), streamed')
      .argument('<input>', 'input video (any format ffmpeg reads)')
      .requiredOption('-o, --output <file>', 'output video (.mp4)')
      .option('--factor <n>', '2, 4 or 8 (must match the weights)', factor, 2)
      .option('--weights <checkpoint>', 'FLAVR checkpoint (.pth or .safetensors)')
      .option('--fps <n>', 'output frame rate (default: input fps x factor)', positiveNumber('--fps'))
      .option('--slowmo', 'keep the input frame rate: slow motion, audio dropped')
      .option('--batch <n>', 'windows per model call', positiveInt('--batch'), 1)
      .option('--no-compile', "on 'cuda', run FLAVR eagerly instead of as a compiled stream (a CUDA graph per window)")
      .addOption(new Option('--precision <p>', "FLAVR's precision on 'cuda': fp16 (default) runs convolutions and " +
                            'activations in half with fp32 accumulation, tf32 on TF32 tensor cores, fp32 strict')
                     .choices(['tf32', 'fp32', 'fp16']).default('fp16'))
      .action(async (input: string, opts: InterpolateCommandOptions) => {
        if (opts.fps != null && opts.slowmo) throw new InvalidArgumentError('--fps and --slowmo exclude each other.');
        console.log(await chooseBackend(program.opts().backend as BackendChoice));
        await interpolateCommand(input, opts);
      });

  program.command('convert')
      .description('convert a PyTorch (.pth, zip or legacy) or safetensors checkpoint of FLAVR or a torchvision ResNet to model.json + weights')
      .argument('<checkpoint>', 'checkpoint file')
      .argument('<outdir>', 'output folder')
      .action(async (checkpoint: string, outdir: string) => {
        console.log(await chooseBackend(program.opts().backend as BackendChoice));
        await convertCommand(checkpoint, outdir);
      });
  return program;
}

if (require.main === module) {
  buildProgram().parseAsync(process.argv).catch((e: unknown) => {
    console.error(`tfjs-delta: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
