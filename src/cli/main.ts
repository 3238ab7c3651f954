#!/usr/bin/env node
/**
 * The tfjs-delta command line. `tfjs-delta --help` lists the commands; every long job shows a
 * progress bar and says which backend runs it.
 */
import {Command, InvalidArgumentError} from 'commander';

import {BackendChoice, chooseBackend} from './backend';
import {runDemo} from './demo';

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
  return program;
}

if (require.main === module) {
  buildProgram().parseAsync(process.argv).catch((e: unknown) => {
    console.error(`tfjs-delta: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
