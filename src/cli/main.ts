#!/usr/bin/env node
/**
 * The tfjs-delta command line. `tfjs-delta --help` lists the commands; every long job shows a
 * progress bar and says which backend runs it.
 */
import {Command, InvalidArgumentError, Option} from 'commander';
import * as fs from 'fs';
import * as path from 'path';

// The package's entry registers its kernels and the fused tf.layers classes every command's models are made of.
import '../index';
import {videoOutputProblem, writableFolderProblem} from '../pipeline/ffmpeg';

import {BackendChoice, chooseBackend} from './backend';
import {benchCommand} from './bench';
import type {InputTest} from '../delta/to_delta';
import {convertCommand} from './convert';
import {runDemo} from './demo';
import {flavrWeightsProblem, interpolateCommand, InterpolateCommandOptions} from './interpolate';
import {DEFAULT_CLIP, DENSE_ABOVE_DEFAULT, runCommand, RunCommandOptions} from './run';
import {
  submitInterpolateCommand,
  SubmitInterpolateOptions,
  submitStreamCommand,
  SubmitStreamOptions,
  workerCommand,
  WorkerCommandOptions,
} from './queue';
import {DEFAULT_PREFIX, redisUrl, redisUrlProblem} from '../queue/connection';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer.`);
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number >= 0.`);
    return n;
  };
}

function fraction(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be a fraction in [0, 1].`);
    return n;
  };
}

function oddPositiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n % 2 === 0)
      throw new InvalidArgumentError(`${name} must be an odd integer >= 1.`);
    return n;
  };
}

interface BenchCliOptions {
  frames: number;
  thresholds: string;
  inputTests: Array<InputTest | null>;
  noise: number[];
  output: string;
}

/** --noise: comma-separated amplitudes > 0. */
function amplitudes(value: string): number[] {
  const list = value.split(',').map(Number);
  if (list.some((a) => !(a > 0))) throw new InvalidArgumentError(`amplitudes must be numbers > 0; got '${value}'.`);
  return list;
}

/** --input-tests: THRESHOLDxDILATION entries (dilation odd), or 'same'. */
function inputTests(value: string): Array<InputTest | null> {
  return value.split(',').map((entry) => {
    if (entry === 'same') return null;
    const m = /^(\d+(?:\.\d+)?|\.\d+)x(\d+)$/.exec(entry);
    const dilation = m ? Number(m[2]) : NaN;
    if (!m || dilation % 2 !== 1) {
      throw new InvalidArgumentError(
        `each entry is THRESHOLDxDILATION with an odd dilation (e.g. 0.1x7) or 'same'; got '${entry}'.`,
      );
    }
    return {threshold: Number(m[1]), dilation};
  });
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

/** HEIGHTxWIDTH, both positive integers; commander names the option and the value on error. */
function size(value: string): string {
  const m = /^(\d+)x(\d+)$/.exec(value.trim());
  if (m == null || !(Number(m[1]) > 0 && Number(m[2]) > 0)) {
    throw new InvalidArgumentError('It must be HEIGHTxWIDTH in pixels, two positive integers, e.g. 96x128.');
  }
  return `${Number(m[1])}x${Number(m[2])}`;
}

function parseSize(value: string): [number, number] {
  const [h, w] = value.split('x').map(Number);
  return [h, w];
}

/** Every check on the command's files, before a backend, a model or ffmpeg is started. */
function check(command: string, problems: Array<[string, string | undefined, string | null]>): void {
  const found = problems.filter(([, , problem]) => problem != null);
  if (found.length > 0) {
    throw new Error(found.map(([option, value, problem]) => `${command} ${option} '${value}': ${problem}`).join('\n'));
  }
}

function inputProblem(input: string): string | null {
  if (!fs.existsSync(input)) return 'no such file';
  return fs.statSync(input).isDirectory() ? 'is a folder, not a video' : null;
}

/** 'posenet', a model.json, or a folder holding one. */
function modelProblem(model: string): string | null {
  if (model === 'posenet') return null;
  const json = fs.existsSync(model) && fs.statSync(model).isDirectory() ? path.join(model, 'model.json') : model;
  if (fs.existsSync(json) && json.endsWith('.json')) return null;
  return "the model must be 'posenet' or a LayersModel's model.json (or a folder holding one), and this is neither";
}

function recordProblem(file: string | undefined): string | null {
  if (file == null) return null;
  if (!/\.(csv|json)$/i.test(file)) return 'the per-frame record must end in .csv or .json';
  return writableFolderProblem(file);
}

export function buildProgram(): Command {
  const program = new Command('tfjs-delta')
    .description('Fast video CNNs for TensorFlow.js: delta (sparse frame-difference) inference and frame interpolation')
    .addOption(
      new Option('--backend <name>', 'the tfjs backend (auto: the fastest available)')
        .choices(['auto', 'cuda', 'tensorflow', 'cpu'])
        .default('auto'),
    )
    .showHelpAfterError();

  program
    .command('run')
    .description(
      'run a model over a video, dense or delta (or both, compared), with an overlay video, ' +
        'a per-frame CSV/JSON and a summary; defaults: trained PoseNet on a built-in pedestrian clip',
    )
    .argument('[model]', "'posenet' or a LayersModel's model.json / folder", 'posenet')
    .argument('[input]', 'input video', DEFAULT_CLIP)
    .option('--delta', 'run the delta model (toDelta) instead of the dense one')
    .option('--compare', 'run dense and delta side by side and report the deviation')
    .option(
      '--threshold <t>',
      "delta threshold of every activation (the input's: --input-threshold)",
      nonNegative('--threshold'),
      0.05,
    )
    .option(
      '--input-threshold <t>',
      "the input's change threshold on pixel values in --range (default: twice --threshold)",
      nonNegative('--input-threshold'),
    )
    .option(
      '--dilation <k>',
      'a pixel whose change passes the input threshold sends its k x k neighbourhood (odd; 1: the pixel alone)',
      oddPositiveInt('--dilation'),
      7,
    )
    .option(
      '--dense-above <fraction>',
      "layers the clip's first 8 frames keep active above this fraction, and the layers after them, run dense " +
        `(1: every layer delta; default ${DENSE_ABOVE_DEFAULT}, 1 on 'cpu', whose delta kernels outrun its dense ones)`,
      fraction('--dense-above'),
    )
    .option(
      '--fallback-frames <n>',
      'time delta against dense on n frames once both run steadily; if delta was not faster, the dense model ' +
        'serves the delta side from then on (0: always run the delta model)',
      nonNegativeInt('--fallback-frames'),
      8,
    )
    .option('-o, --output <file>', 'overlay video (keypoints for PoseNet, a heatmap tint otherwise)')
    .option('--stats <file>', 'per-frame timings, active fractions and deviation (.csv or .json)')
    .option(
      '--size <HxW>',
      "model input size, HEIGHTxWIDTH (default: the model's, else the video scaled to <= 384 px)",
      size,
    )
    .option('--frames <n>', 'stop after n frames', positiveInt('--frames'))
    .option('--range <lo,hi>', 'pixel range the model expects (default -1,1 for PoseNet, else 0,1)')
    .option('--no-layer-stats', 'do not read per-layer masks back each frame (faster delta, no active fractions)')
    .option('--no-compile', "on 'cuda', run the models eagerly instead of as compiled streams (a CUDA graph per frame)")
    .option(
      '--no-fold-batch-norms',
      'run the dense model with its batch norms as they are (by default each one that follows a conv or dense ' +
        'layer is folded into it, as the delta model folds it: the same outputs to rounding, faster)',
    )
    .addOption(
      new Option(
        '--precision <p>',
        "compiled streams' precision: fp32 is strict, fp16 runs convolutions " +
          'and activations in half (delta layers stay float32; their state: --state-precision)',
      )
        .choices(['tf32', 'fp32', 'fp16'])
        .default('tf32'),
    )
    .addOption(
      new Option(
        '--state-precision <p>',
        "the delta layers' state: fp16 halves its bytes on 'cuda' (values within half's rounding; no saving on " +
          'the CPU backends)',
      )
        .choices(['fp32', 'fp16'])
        .default('fp32'),
    )
    .action(async (model: string, input: string, opts: RunCommandOptions) => {
      check('run', [
        ['[model]', model, modelProblem(model)],
        ['[input]', input, inputProblem(input)],
        ['-o', opts.output, opts.output == null ? null : videoOutputProblem(opts.output, input)],
        ['--stats', opts.stats, recordProblem(opts.stats)],
      ]);
      console.log(await chooseBackend(program.opts().backend as BackendChoice));
      await runCommand(model, input, opts);
    });

  program
    .command('bench')
    .description('dense vs delta over a range of thresholds on a clip: a table, a JSON file and a PNG plot')
    .argument('[model]', "'posenet' or a LayersModel's model.json / folder", 'posenet')
    .argument('[input]', 'input video', DEFAULT_CLIP)
    .option('--frames <n>', 'frames per pass', positiveInt('--frames'), 16)
    .option(
      '--thresholds <list>',
      'comma-separated delta thresholds of every activation (and of the input, unless --input-tests says otherwise)',
      '0,0.01,0.02,0.05,0.1',
    )
    .addOption(
      new Option(
        '--input-tests <list>',
        "each threshold with each of these input change tests, THRESHOLDxDILATION (run's default at --threshold t " +
          "is 2t x 7; 'same': the threshold itself, no dilation)",
      )
        .argParser(inputTests)
        .default([null], 'same'),
    )
    .addOption(
      new Option(
        '--noise <list>',
        "also the dense model on each frame plus uniform noise of +- each amplitude (the model's input units), " +
          'against itself: how strict the fidelity bar is',
      )
        .argParser(amplitudes)
        .default([], 'none'),
    )
    .option('-o, --output <prefix>', 'writes <prefix>.json and <prefix>.png', 'tfjs-delta-bench')
    .action(async (model: string, input: string, opts: BenchCliOptions) => {
      const thresholds = opts.thresholds.split(',').map(Number);
      if (thresholds.some((t) => !(t >= 0))) throw new InvalidArgumentError('--thresholds must be numbers >= 0.');
      check('bench', [
        ['[model]', model, modelProblem(model)],
        ['[input]', input, inputProblem(input)],
        ['-o', opts.output, writableFolderProblem(`${opts.output}.json`)],
      ]);
      console.log(await chooseBackend(program.opts().backend as BackendChoice));
      await benchCommand(model, input, {
        frames: opts.frames,
        thresholds,
        inputTests: opts.inputTests,
        noise: opts.noise,
        output: opts.output,
      });
    });

  program
    .command('demo')
    .description('a delta CNN on a built-in synthetic static-camera clip, dense vs delta, with per-frame statistics')
    .option('--frames <n>', 'frames to run', positiveInt('--frames'), 24)
    .option('--threshold <t>', 'delta threshold at the input and every activation', nonNegative('--threshold'), 0.02)
    .option('--size <HxW>', 'frame size, HEIGHTxWIDTH', size, '96x128')
    .action(async (opts: {frames: number; threshold: number; size: string}) => {
      const [height, width] = parseSize(opts.size);
      console.log(await chooseBackend(program.opts().backend as BackendChoice));
      await runDemo({frames: opts.frames, threshold: opts.threshold, height, width});
    });

  program
    .command('interpolate')
    .description('FLAVR frame interpolation: a video at 2x/4x/8x the frame rate (or in slow motion), streamed')
    .argument('<input>', 'input video (any format ffmpeg reads)')
    .requiredOption('-o, --output <file>', 'output video (.mp4, .mkv, .mov, .m4v, .avi or .webm)')
    .option('--factor <n>', '2, 4 or 8 (must match the weights)', factor, 2)
    .option(
      '--weights <checkpoint>',
      'FLAVR weights: a .pth or .safetensors checkpoint, or a folder written by `convert`',
    )
    .option('--fps <n>', 'output frame rate (default: input fps x factor)', positiveNumber('--fps'))
    .option('--slowmo', 'keep the input frame rate: slow motion, audio dropped')
    .option('--batch <n>', 'windows per model call', positiveInt('--batch'), 1)
    .option('--no-compile', "on 'cuda', run FLAVR eagerly instead of as a compiled stream (a CUDA graph per window)")
    .addOption(
      new Option(
        '--precision <p>',
        "FLAVR's precision on 'cuda': fp16 (default) runs convolutions and " +
          'activations in half with fp32 accumulation, tf32 on TF32 tensor cores, fp32 strict',
      )
        .choices(['tf32', 'fp32', 'fp16'])
        .default('fp16'),
    )
    .action(async (input: string, opts: InterpolateCommandOptions) => {
      if (opts.fps != null && opts.slowmo) throw new InvalidArgumentError('--fps and --slowmo exclude each other.');
      check('interpolate', [
        ['<input>', input, inputProblem(input)],
        ['-o', opts.output, videoOutputProblem(opts.output, input)],
        ['--weights', opts.weights, flavrWeightsProblem(opts.weights)],
      ]);
      console.log(await chooseBackend(program.opts().backend as BackendChoice));
      await interpolateCommand(input, opts);
    });

  const redisOption = () =>
    new Option(
      '--redis <url>',
      'the Redis server of the queue (default $TFJS_DELTA_REDIS, else redis://127.0.0.1:6379)',
    );
  const prefixOption = () =>
    new Option('--prefix <name>', 'key prefix of the queues on the server (several deployments can share one)').default(
      DEFAULT_PREFIX,
    );

  program
    .command('worker')
    .description(
      'take interpolation chunks and cameras from the queue (BullMQ on Redis) until stopped; one worker per GPU; ' +
        'prints what it holds',
    )
    .addOption(redisOption())
    .addOption(prefixOption())
    .option('--gpu <n>', "the CUDA device this worker runs on (the 'cuda' backend)", nonNegativeInt('--gpu'))
    .option('--streams <n>', 'cameras held at once (0: interpolation only)', nonNegativeInt('--streams'), 4)
    .option('--name <name>', 'the name it prints and stores with each result (default host:pid)')
    .option(
      '--lock-ms <ms>',
      "lease of a job: a dead worker's jobs move to others after about this long",
      positiveInt('--lock-ms'),
      30000,
    )
    .option(
      '--stalled-ms <ms>',
      'how often to look for jobs whose lease lapsed (default lock-ms / 2)',
      positiveInt('--stalled-ms'),
    )
    .action(async (opts: WorkerCommandOptions) => {
      const redis = redisUrl(opts.redis);
      check('worker', [['--redis', redis, redisUrlProblem(redis)]]);
      console.log(await chooseBackend(program.opts().backend as BackendChoice, opts.gpu));
      await workerCommand({...opts, redis});
    });

  const submit = program.command('submit').description('put a job on the queue for the workers (BullMQ on Redis)');
  submit
    .command('interpolate')
    .description('FLAVR interpolation of a video in chunks on any worker, concatenated in order with the audio')
    .argument('<input>', 'input video, at a path every worker can read')
    .requiredOption('-o, --output <file>', 'output video, at a path the workers can write')
    .requiredOption('--weights <checkpoint>', 'FLAVR weights (as for interpolate), at a path every worker can read')
    .option('--factor <n>', '2, 4 or 8 (must match the weights)', factor, 2)
    .option('--fps <n>', 'output frame rate (default: input fps x factor)', positiveNumber('--fps'))
    .option('--slowmo', 'keep the input frame rate: slow motion, audio dropped')
    .option('--batch <n>', 'windows per model call', positiveInt('--batch'), 1)
    .option('--chunk <pairs>', 'frame pairs per chunk (a chunk decodes pairs + 3 frames)', positiveInt('--chunk'), 64)
    .option('--work-dir <folder>', "the chunks' intermediates, shared by the workers (default: beside the output)")
    .option('--wait', 'wait for the job to finish and report it')
    .addOption(redisOption())
    .addOption(prefixOption())
    .action(async (input: string, opts: SubmitInterpolateOptions) => {
      if (opts.fps != null && opts.slowmo) throw new InvalidArgumentError('--fps and --slowmo exclude each other.');
      const redis = redisUrl(opts.redis);
      check('submit interpolate', [
        ['<input>', input, inputProblem(input)],
        ['-o', opts.output, videoOutputProblem(opts.output, input)],
        ['--weights', opts.weights, flavrWeightsProblem(opts.weights)],
        ['--redis', redis, redisUrlProblem(redis)],
      ]);
      await submitInterpolateCommand(input, {...opts, redis});
    });
  submit
    .command('stream')
    .description(
      'a camera (a file or a URL ffmpeg reads) run through a delta model, one result per frame to a Redis stream',
    )
    .argument('<source>', 'video file or stream URL')
    .requiredOption('--camera <name>', "the camera's name: its results go to the Redis stream <prefix>:results:<name>")
    .option('--model <model>', "'posenet' or a LayersModel's model.json, at a path every worker can read", 'posenet')
    .option('--dense', 'run the dense model instead of the delta model')
    .option('--threshold <t>', 'delta threshold at the input and every activation', nonNegative('--threshold'), 0.05)
    .option('--size <HxW>', "model input size, HEIGHTxWIDTH (default: the model's or the video's)", size)
    .option('--frames <n>', 'stop after n frames', positiveInt('--frames'))
    .option('--max-len <n>', 'approximate cap of the results stream (XADD MAXLEN ~)', positiveInt('--max-len'), 10000)
    .option('--wait', 'wait for the camera to end and report it')
    .addOption(redisOption())
    .addOption(prefixOption())
    .action(async (source: string, opts: SubmitStreamOptions) => {
      const redis = redisUrl(opts.redis);
      check('submit stream', [
        ['[model]', opts.model, modelProblem(opts.model)],
        ['--redis', redis, redisUrlProblem(redis)],
      ]);
      await submitStreamCommand(source, {...opts, redis});
    });

  program
    .command('convert')
    .description(
      'convert a PyTorch (.pth, zip or legacy) or safetensors checkpoint of FLAVR or a torchvision ResNet to model.json + weights',
    )
    .argument('<checkpoint>', 'checkpoint file')
    .argument('<outdir>', 'output folder')
    .action(async (checkpoint: string, outdir: string) => {
      check('convert', [
        ['<checkpoint>', checkpoint, inputProblem(checkpoint)],
        [
          '<outdir>',
          outdir,
          fs.existsSync(outdir)
            ? fs.statSync(outdir).isDirectory()
              ? writableFolderProblem(path.join(outdir, 'model.json'))
              : 'is a file, not a folder'
            : writableFolderProblem(outdir),
        ],
      ]);
      console.log(await chooseBackend(program.opts().backend as BackendChoice));
      await convertCommand(checkpoint, outdir);
    });
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      console.error(`tfjs-delta: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    });
}
