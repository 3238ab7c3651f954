/**
 * The tfjs-delta command line, run as a user runs it (a child process): demo, interpolate with a
 * FLAVR checkpoint on a generated clip, convert, and the errors a user meets.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';
import {spawn, spawnSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {flavrFromCheckpoint} from '../../src/models/flavr';
import {loadPyTorchCheckpoint} from '../../src/models/pytorch/checkpoint';
import {DEFAULT_CLIP, denseAboveFor, fallbackLine} from '../../src/cli/run';
import {fallbackVerdict} from '../../src/pipeline/run_model';
import {nodeFileSystem} from '../../src/io/node_file_system';
import {ffmpegBinary, ffmpegUnavailableReason, probeVideo, readFrames} from '../../src/pipeline/ffmpeg';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {makeLavfiClip} from '../support/clips';

const CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');
const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'torch');

function cli(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, '--backend', 'cpu', ...args], {encoding: 'utf8', timeout: 300000});
  return {code: run.status, out: run.stdout, err: run.stderr};
}

/**
 * The CLI with a deadline: a job that hangs is killed and reported as such (code null), so a hang
 * fails the test instead of the suite.
 */
function cliWithin(seconds: number, env: NodeJS.ProcessEnv, ...args: string[]) {
  const t0 = Date.now();
  const run = spawnSync(process.execPath, [CLI, '--backend', 'cpu', ...args], {
    encoding: 'utf8',
    timeout: seconds * 1000,
    env: {...process.env, ...env},
  });
  const what = `tfjs-delta ${args.join(' ')}`;
  expect(run.signal, `${what} hung (killed after ${seconds} s): ${run.stderr}`).to.equal(null);
  return {code: run.status, out: run.stdout, err: run.stderr, seconds: (Date.now() - t0) / 1000};
}

/** The names in `folder` that belong to `output`: the file itself or its partial twin. */
function leftovers(output: string): string[] {
  const stem = path.basename(output, path.extname(output));
  return fs.readdirSync(path.dirname(output)).filter((f) => f.includes(stem));
}

/** A tiny synthetic clip made by ffmpeg: ffmpeg's test pattern, lossless. */
function makeClip(file: string, size: string, frames: number): string {
  return makeLavfiClip(file, {
    source: `testsrc=size=${size}:rate=10`,
    frames,
    pixFmt: 'yuv444p',
    encoder: ['-crf', '0'],
  });
}

/** A safetensors file of a state dict (8-byte header length, JSON header, raw float32 data). */
async function writeSafetensors(file: string, checkpoint: string): Promise<void> {
  const sd = await loadPyTorchCheckpoint(checkpoint);
  const header: {[name: string]: {dtype: string; shape: number[]; data_offsets: [number, number]}} = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, tensor] of sd) {
    const data = Buffer.from(tensor.gather().buffer);
    header[name] = {dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + data.length]};
    chunks.push(data);
    offset += data.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([length, json, ...chunks]));
}

/** Skips the test, saying why, where no ffmpeg runs. */
function skipWithoutFfmpeg(test: Mocha.Context): void {
  const missing = ffmpegUnavailableReason();
  if (missing == null) return;
  console.log(`      skipped: ${missing}`);
  test.skip();
}

describe('tfjs-delta CLI', function () {
  this.timeout(300000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-cli-'));
  });
  after(() => fs.rmSync(dir, {recursive: true, force: true}));

  it("the package's command runs as an executable after the build, as npx runs it in a fresh clone", function () {
    if (process.platform === 'win32') this.skip(); // no executable bit; npm writes .cmd shims there
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
      bin: {[name: string]: string};
    };
    const bin = path.join(PACKAGE_ROOT, pkg.bin['tfjs-delta']);
    expect(fs.statSync(bin).mode & 0o111, `${bin} is executable`).to.not.equal(0);
    const r = spawnSync(bin, ['--help'], {encoding: 'utf8'});
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Usage: tfjs-delta/);
  });

  it('demo runs on the built-in clip and reports per-frame statistics', () => {
    const r = cli('demo', '--frames', '3', '--size', '24x32', '--threshold', '0');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/backend 'cpu'/);
    const error = Number(/max relative error vs dense: (\S+)/.exec(r.out)![1]);
    expect(error).to.be.lessThan(1e-5);
  });

  it('rejects bad arguments with a message, not a stack trace', () => {
    for (const [args, message] of [
      [['demo', '--frames', '0'], '--frames must be a positive integer'],
      [['interpolate', 'in.mp4', '-o', 'out.mp4', '--factor', '3'], 'factor must be 2, 4 or 8'],
      [['run', 'posenet', 'in.mp4', '--precision', 'fp8'], "'fp8' is invalid. Allowed choices are tf32, fp32, fp16"],
      [['run', 'posenet', 'in.mp4', '--state-precision', 'fp8'], "'fp8' is invalid. Allowed choices are fp32, fp16"],
      [['run', 'posenet', 'in.mp4', '--dense-above', '1.5'], '--dense-above must be a fraction in [0, 1]'],
      [['run', 'posenet', 'in.mp4', '--dilation', '4'], '--dilation must be an odd integer >= 1'],
      [['run', 'posenet', 'in.mp4', '--input-threshold', '-0.1'], '--input-threshold must be a number >= 0'],
      [['run', 'posenet', 'in.mp4', '--fallback-frames', '2.5'], '--fallback-frames must be a whole number >= 0'],
      [['interpolate', 'in.mp4', '-o', 'out.mp4'], 'needs FLAVR weights'],
      [['interpolate', 'in.mp4', '-o', 'out.mp4', '--weights', 'missing.pth'], "weights 'missing.pth' do not exist"],
    ] as Array<[string[], string]>) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).to.not.equal(0);
      expect(r.err, args.join(' ')).to.include(message);
      expect(r.err, args.join(' ')).to.not.match(/\n\s+at /);
    }
  });

  it('refuses bad sizes, backends, models, weights and output paths before any work, naming the option and value', function () {
    this.timeout(120000);
    const input = path.join(dir, 'input.mp4');
    fs.copyFileSync(DEFAULT_CLIP, input);
    const before = fs.readFileSync(input);
    const linked = path.join(dir, 'link-to-input.mp4');
    fs.symlinkSync(input, linked);
    const empty = path.join(dir, 'empty-folder');
    fs.mkdirSync(empty);
    const weights = path.join(FIXTURES, 'flavr2x.pth');
    for (const [args, message] of [
      [['run', '--size', '0x0'], "option '--size <HxW>' argument '0x0' is invalid. It must be HEIGHTxWIDTH"],
      [['run', '--size', '96'], "argument '96' is invalid"],
      [['demo', '--size', '-4x8'], "argument '-4x8' is invalid"],
      [['--backend', 'bogus', 'demo'], "argument 'bogus' is invalid. Allowed choices are auto, cuda, tensorflow, cpu"],
      [
        ['run', path.join(dir, 'no-model'), input],
        "run [model] '" + path.join(dir, 'no-model') + "': the model must be 'posenet'",
      ],
      [['run', 'posenet', path.join(dir, 'no.mp4')], "run [input] '" + path.join(dir, 'no.mp4') + "': no such file"],
      [
        ['run', 'posenet', input, '-o', path.join(dir, 'nodir', 'x.mp4')],
        `the folder '${path.join(dir, 'nodir')}' does not exist`,
      ],
      [
        ['run', 'posenet', input, '-o', path.join(dir, 'x.txt')],
        'the extension must be one of .mp4, .mov, .m4v, .mkv, .avi, .webm',
      ],
      [['run', 'posenet', input, '-o', input], 'is the input video itself'],
      [
        ['run', 'posenet', input, '--stats', path.join(dir, 'nodir', 's.csv')],
        `run --stats '${path.join(dir, 'nodir', 's.csv')}'`,
      ],
      [
        ['bench', 'posenet', input, '-o', path.join(dir, 'nodir', 'x')],
        `bench -o '${path.join(dir, 'nodir', 'x')}': the folder`,
      ],
      [['interpolate', input, '-o', path.join(dir, 'nodir', 'x.mp4'), '--weights', weights], "interpolate -o '"],
      [['interpolate', input, '-o', path.join(dir, 'out.txt'), '--weights', weights], 'is not a video file name'],
      [['interpolate', input, '-o', linked, '--weights', weights], 'is the input video itself'],
      [['interpolate', input, '-o', path.join(dir, 'o.mp4'), '--weights', empty], 'the folder has no model.json'],
      [['interpolate', input, '-o', path.join(dir, 'o.mp4'), '--weights', empty], 'tarun005/FLAVR'],
      [['convert', weights, path.join(dir, 'nodir', 'deeper', 'out')], "convert <outdir> '"],
    ] as Array<[string[], string]>) {
      const r = cliWithin(60, {}, ...args);
      expect(r.code, args.join(' ')).to.equal(1);
      expect(r.err, args.join(' ')).to.include(message);
      expect(r.err, args.join(' ')).to.not.match(/\n\s+at /);
      expect(r.out, `${args.join(' ')}: refused before choosing a backend`).to.not.include('backend');
    }
    expect(fs.readFileSync(input).equals(before), 'the input video is unchanged').to.equal(true);
    expect(fs.existsSync(path.join(dir, 'nodir')), 'no output folder was made').to.equal(false);
    expect(
      fs.readdirSync(dir).filter((f) => f.includes('out') || f.startsWith('o.') || f.startsWith('x.')),
    ).to.deep.equal([]);
  });

  describe('with ffmpeg', function () {
    before(function () {
      skipWithoutFfmpeg(this);
    });

    it('interpolate: a FLAVR checkpoint doubles the frame rate of an odd-sized clip, keeping every frame', () => {
      const clip = makeClip(path.join(dir, 'clip.mp4'), '36x28', 5);
      const out = path.join(dir, 'out.mp4');
      const r = cli('interpolate', clip, '-o', out, '--weights', path.join(FIXTURES, 'flavr2x.pth'), '--batch', '2');
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/wrote .*out\.mp4: 9 frames at 20 fps from 5 input frames/);
      const info = probeVideo(out);
      expect([info.width, info.height, info.fps, info.frames]).to.deep.equal([36, 28, 20, 9]);
      expect(fs.readdirSync(dir).filter((f) => f.includes('partial'))).to.deep.equal([]);

      const wrongFactor = cli(
        'interpolate',
        clip,
        '-o',
        path.join(dir, 'x.mp4'),
        '--factor',
        '4',
        '--weights',
        path.join(FIXTURES, 'flavr2x.pth'),
      );
      expect(wrongFactor.err).to.include('--factor 4 does not match the weights, which interpolate 2x');
      const notVideo = cli(
        'interpolate',
        path.join(FIXTURES, 'tensors.json'),
        '-o',
        path.join(dir, 'y.mp4'),
        '--weights',
        path.join(FIXTURES, 'flavr2x.pth'),
      );
      expect(notVideo.err).to.include('is not a readable video');
    });

    /** A LayersModel small enough to run on a few frames in a second, saved as model.json + weights. */
    async function tinyModel(): Promise<string> {
      const modelDir = path.join(dir, 'tiny-conv');
      if (fs.existsSync(path.join(modelDir, 'model.json'))) return modelDir;
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            inputShape: [null, null, 3] as unknown as number[],
            filters: 4,
            kernelSize: 3,
            padding: 'same',
            activation: 'relu',
          }),
        ],
      });
      await model.save(nodeFileSystem(modelDir));
      model.dispose();
      return modelDir;
    }

    it('odd frame sizes (333x187) come out as playable video through interpolate and run -o', async function () {
      this.timeout(240000);
      const clip = makeClip(path.join(dir, 'odd.mkv'), '333x187', 3);
      const out = path.join(dir, 'odd-interpolated.mp4');
      const r = cliWithin(200, {}, 'interpolate', clip, '-o', out, '--weights', path.join(FIXTURES, 'flavr2x.pth'));
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.include('333x187 is odd').and.include('334x188');
      const info = probeVideo(out);
      expect([info.width, info.height, info.fps, info.frames]).to.deep.equal([334, 188, 20, 5]);
      const overlay = path.join(dir, 'odd-overlay.mp4');
      const run = cliWithin(60, {}, 'run', await tinyModel(), clip, '--size', '48x64', '-o', overlay);
      expect(run.code, run.err).to.equal(0);
      const shown = probeVideo(overlay);
      expect([shown.width, shown.height, shown.frames]).to.deep.equal([334, 188, 3]);
      expect(fs.readdirSync(dir).filter((f) => f.includes('partial'))).to.deep.equal([]);
    });

    it('interpolate --weights takes a .safetensors checkpoint and a folder written by convert', async function () {
      this.timeout(240000);
      const clip = makeClip(path.join(dir, 'small.mkv'), '36x28', 3);
      const safetensors = path.join(dir, 'flavr2x.safetensors');
      await writeSafetensors(safetensors, path.join(FIXTURES, 'flavr2x.pth'));
      const converted = path.join(dir, 'flavr2x-converted');
      expect(cliWithin(60, {}, 'convert', path.join(FIXTURES, 'flavr2x.pth'), converted).code).to.equal(0);
      const outputs: Uint8Array[] = [];
      for (const [kind, weights] of [
        ['safetensors', safetensors],
        ['folder', converted],
        ['model.json', path.join(converted, 'model.json')],
        ['pth', path.join(FIXTURES, 'flavr2x.pth')],
      ]) {
        const out = path.join(dir, `weights-${kind}.mkv`);
        const r = cliWithin(120, {}, 'interpolate', clip, '-o', out, '--weights', weights);
        expect(r.code, `${kind}: ${r.err}`).to.equal(0);
        expect(probeVideo(out).frames, kind).to.equal(5);
        const frames: Uint8Array[] = [];
        for await (const f of readFrames(out)) frames.push(f);
        outputs.push(Buffer.concat(frames));
      }
      // The same weights in each form: the same interpolated frames.
      for (const o of outputs.slice(1)) expect(Buffer.from(o).equals(Buffer.from(outputs[0]))).to.equal(true);
    });

    /**
     * TFJS_DELTA_FFMPEG pointing at a wrapper that behaves like the real ffmpeg except that the
     * encoder (frames on pipe:0) or the decoder (frames to pipe:1) dies part-way with a message.
     */
    function dyingFfmpeg(side: 'encoder' | 'decoder'): string {
      const wrapper = path.join(dir, `ffmpeg-dying-${side}.sh`);
      fs.writeFileSync(
        wrapper,
        `#!/usr/bin/env bash
for a in "$@"; do
  if [[ $a == pipe:0 && ${side} == encoder ]]; then head -c 20000 >/dev/null; echo "simulated ${side} failure: disk full" >&2; exit 3; fi
  if [[ $a == pipe:1 && ${side} == decoder ]]; then "${ffmpegBinary()}" "$@" | head -c 30000; echo "simulated ${side} failure: bad packet" >&2; exit 3; fi
done
exec "${ffmpegBinary()}" "$@"
`,
        {mode: 0o755},
      );
      return wrapper;
    }

    for (const side of ['encoder', 'decoder'] as const) {
      it(`when ffmpeg's ${side} dies, interpolate and run -o end within seconds with its message, exit 1 and no output file`, async function () {
        this.timeout(180000);
        const clip = makeClip(path.join(dir, `die-${side}.mkv`), '64x48', 40);
        const env = {TFJS_DELTA_FFMPEG: dyingFfmpeg(side)};
        const out = path.join(dir, `died-${side}-interpolated.mp4`);
        const r = cliWithin(60, env, 'interpolate', clip, '-o', out, '--weights', path.join(FIXTURES, 'flavr2x.pth'));
        expect(r.code, r.out).to.equal(1);
        expect(r.err).to.include(`simulated ${side} failure`);
        expect(leftovers(out)).to.deep.equal([]);
        const overlay = path.join(dir, `died-${side}-overlay.mp4`);
        const run = cliWithin(60, env, 'run', await tinyModel(), clip, '--size', '24x32', '-o', overlay);
        expect(run.code, run.out).to.equal(1);
        expect(run.err).to.include(`simulated ${side} failure`);
        expect(leftovers(overlay)).to.deep.equal([]);
      });
    }
  });

  it('run: any LayersModel over a video, dense vs delta, with overlay, per-frame CSV and summary', async function () {
    skipWithoutFfmpeg(this);
    const modelDir = path.join(dir, 'tiny');
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({
          inputShape: [null, null, 3] as unknown as number[],
          filters: 6,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
        }),
        tfl.layers.maxPooling2d({}),
        tfl.layers.conv2d({filters: 4, kernelSize: 3, padding: 'same'}),
        tfl.layers.batchNormalization({}),
        tfl.layers.reLU({}),
      ],
    });
    await model.save(nodeFileSystem(modelDir));
    model.dispose();
    const csv = path.join(dir, 'frames.csv');
    const overlay = path.join(dir, 'overlay.mp4');
    const r = cli(
      'run',
      modelDir,
      DEFAULT_CLIP,
      '--compare',
      '--threshold',
      '0',
      '--frames',
      '6',
      '--size',
      '72x96',
      '--stats',
      csv,
      '-o',
      overlay,
    );
    expect(r.code, r.err).to.equal(0);
    expect(r.out, "'cpu' runs no dense tail unless asked").to.match(/dilation 7\), every layer delta, /);
    expect(r.out).to.match(/frames\/s \(after the first\)\s+[\d.]+\s+[\d.]+/);
    const deviation = Number(/max output deviation\s+(\S+)/.exec(r.out)![1]);
    expect(deviation, 'threshold 0 reproduces the dense model').to.be.lessThan(1e-5);
    expect(r.out, 'the dense side runs its batch norm folded').to.match(/batch norms folded\s+1\n/);
    expect(r.out, 'and its ReLU as the conv activation').to.match(/activation layers folded\s+1\n/);
    const skipped = Number(/mean multiply-adds skipped\s+([\d.]+)%/.exec(r.out)![1]) / 100;
    const ceiling = Number(/ceiling \(skipped work free\)\s+([\d.]+)x/.exec(r.out)![1]);
    // Within the two printed roundings: the ceiling's (0.005) and the skipped share's (0.05%) carried through 1/(1-s).
    expect(ceiling, r.out).to.be.closeTo(1 / (1 - skipped), 0.005 + 0.0006 / (1 - skipped) ** 2);
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).to.equal(
      'frame,denseMs,deltaMs,inputActive,macsSkipped,deviation,pck,pckKeypoints,densePoses,deltaPoses,top1Agreement,logitRelError,deltaRoute',
    );
    expect(rows.length).to.equal(7);
    expect(
      rows.slice(1).map((row) => row.split(',').pop()),
      'six frames: too few to measure a fallback',
    ).to.deep.equal(Array(6).fill('delta'));
    const info = probeVideo(overlay);
    expect([info.width, info.height, info.frames], 'dense and delta side by side').to.deep.equal([2 * 384, 288, 6]);
    const bad = cli('run', path.join(dir, 'missing-model'), DEFAULT_CLIP);
    expect(bad.code).to.not.equal(0);
    expect(bad.err).to.match(/missing-model/);
  });

  it('run --state-precision fp16: the delta model keeps half state, within half rounding of dense', function () {
    skipWithoutFfmpeg(this);
    const modelDir = path.join(dir, 'tiny'); // saved by the run test above
    const args = ['run', modelDir, DEFAULT_CLIP, '--compare', '--threshold', '0', '--frames', '4', '--size', '72x96'];
    const r = cli(...args, '--state-precision', 'fp16');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/every layer delta, fp16 state/);
    const deviation = Number(/max output deviation\s+(\S+)/.exec(r.out)![1]);
    // Half's relative step is 4.9e-4; float32 state gives < 1e-5 on this run (the test above).
    expect(deviation, r.out).to.be.within(1e-5, 2e-2);
  });

  it('bench: a table over thresholds, a JSON record and a PNG plot', async function () {
    skipWithoutFfmpeg(this);
    const modelDir = path.join(dir, 'tiny'); // saved by the run test above
    const prefix = path.join(dir, 'bench');
    const r = cli('bench', modelDir, DEFAULT_CLIP, '--frames', '3', '--thresholds', '0,0.1', '-o', prefix);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/^dense\s+[\d.]+\s+1\.00x/m);
    expect(r.out).to.match(/dense with its 1 batch norm and 1 activation layer folded/);
    const record = JSON.parse(fs.readFileSync(`${prefix}.json`, 'utf8'));
    expect(record.rows.map((row: {threshold: number | null}) => row.threshold)).to.deep.equal([null, 0, 0.1]);
    expect(record.rows[1].deviation, 'threshold 0 equals dense').to.be.lessThan(1e-5);
    expect(record.rows[1].layers.length).to.be.greaterThan(2);
    // Each threshold with each input change test.
    const bench = (...args: string[]) => cli('bench', modelDir, DEFAULT_CLIP, '--frames', '3', ...args, '-o', prefix);
    const tests = bench('--thresholds', '0,0.1', '--input-tests', 'same,0.3x3');
    expect(tests.code, tests.err).to.equal(0);
    expect(tests.out).to.match(/^0\.1\s+0\.3x3\s+[\d.]+\s+[\d.]+x/m);
    type Row = {threshold: number | null; input?: {threshold: number; dilation: number}; macsSkipped?: number};
    const rows = (JSON.parse(fs.readFileSync(`${prefix}.json`, 'utf8')).rows as Row[]).map((row) => [
      row.threshold,
      row.input ?? null,
    ]);
    expect(rows).to.deep.equal([
      [null, null],
      [0, null],
      [0, {threshold: 0.3, dilation: 3}],
      [0.1, null],
      [0.1, {threshold: 0.3, dilation: 3}],
    ]);
    const bad = cli('bench', modelDir, DEFAULT_CLIP, '--input-tests', '0.1x6');
    expect(bad.code).to.not.equal(0);
    expect(bad.err).to.match(/--input-tests.*'0\.1x6'.*odd dilation/);
    // The dense model against itself under noise: a small amplitude moves its outputs less than a large one.
    const noise = bench('--thresholds', '0', '--noise', '0.001,0.1');
    expect(noise.code, noise.err).to.equal(0);
    expect(noise.out).to.match(/^dense \+ noise \+-0\.1\s+\d\.\d\de-\d/m);
    const floor = JSON.parse(fs.readFileSync(`${prefix}.json`, 'utf8')).noise as Array<{
      amplitude: number;
      deviation: number;
    }>;
    expect(floor.map((f) => f.amplitude)).to.deep.equal([0.001, 0.1]);
    expect(floor[0].deviation).to.be.greaterThan(0);
    expect(floor[0].deviation).to.be.lessThan(floor[1].deviation);
    expect(cli('bench', modelDir, DEFAULT_CLIP, '--noise', '0').err).to.match(
      /--noise.*amplitudes must be numbers > 0/,
    );
    const png = fs.readFileSync(`${prefix}.png`);
    expect(png.subarray(1, 4).toString()).to.equal('PNG');
  });

  it('interpolate: a missing or truncated input, or Ctrl-C, exits non-zero with a message and no corrupt file', async function () {
    skipWithoutFfmpeg(this);
    const weights = path.join(FIXTURES, 'flavr2x.pth');
    const missing = cli(
      'interpolate',
      path.join(dir, 'nope.mp4'),
      '-o',
      path.join(dir, 'o1.mp4'),
      '--weights',
      weights,
    );
    expect(missing.code).to.not.equal(0);
    expect(missing.err).to.include("interpolate <input> '" + path.join(dir, 'nope.mp4') + "': no such file");
    const long = path.join(dir, 'long.mp4');
    // Large enough that the job is still running when Ctrl-C comes (the tiny FLAVR runs ~1 window/s at this size).
    makeLavfiClip(long, {source: 'testsrc=size=320x240:rate=10', frames: 300});
    const truncated = path.join(dir, 'truncated.mp4');
    fs.writeFileSync(truncated, fs.readFileSync(long).subarray(0, Math.floor(fs.statSync(long).size * 0.6)));
    const cut = cli('interpolate', truncated, '-o', path.join(dir, 'o2.mp4'), '--weights', weights);
    expect(cut.code).to.not.equal(0);
    expect(cut.err).to.match(/truncated\.mp4/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('o2'))).to.deep.equal([]);

    // Ctrl-C once the encoder has started: a shorter but playable video, exit 130.
    const out = path.join(dir, 'o3.mp4');
    // detached: its own process group, signalled as a whole as a terminal's Ctrl-C does (ffmpeg included).
    const child = spawn(
      process.execPath,
      [CLI, '--backend', 'cpu', 'interpolate', long, '-o', out, '--weights', weights],
      {detached: true},
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const partial = path.join(dir, '.o3.partial.mp4');
    for (let i = 0; i < 600 && !fs.existsSync(partial); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, stderr).to.equal(130);
    expect(stderr).to.include('interrupted');
    const info = probeVideo(out);
    expect(info.frames)
      .to.be.greaterThan(0)
      .and.lessThan(2 * 300 - 1);
    expect(fs.existsSync(partial)).to.equal(false);
  });

  it('convert: a FLAVR checkpoint becomes model.json + weights that load back and predict the same', async () => {
    const out = path.join(dir, 'flavr2x');
    const r = cli('convert', path.join(FIXTURES, 'flavr2x.pth'), out);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/converted FLAVR \([\d,]+ parameters\)/);
    await tf.setBackend('cpu');
    const loaded = await tfl.loadLayersModel(nodeFileSystem(out));
    const direct = await flavrFromCheckpoint(path.join(FIXTURES, 'flavr2x.pth'));
    const frames = tf.randomUniform([1, 4, 16, 24, 3]);
    const diff = tf.tidy(
      () =>
        tf.max(tf.abs(tf.sub(loaded.predict(frames) as tf.Tensor, direct.predict(frames) as tf.Tensor))).dataSync()[0],
    );
    expect(diff).to.equal(0);
    tf.dispose(frames);
    loaded.dispose();
    direct.dispose();
    const bad = cli('convert', path.join(FIXTURES, 'tensors.safetensors'), path.join(dir, 'bad'));
    expect(bad.err).to.include('is neither a FLAVR nor a torchvision ResNet checkpoint');
  });
});

describe("run's default dense tail", () => {
  it("none on 'cpu', layers active above half their pixels elsewhere", () => {
    expect(denseAboveFor('cpu')).to.equal(1);
    expect(denseAboveFor('tensorflow')).to.equal(0.5);
    expect(denseAboveFor('cuda')).to.equal(0.5);
  });
});

describe('fallbackLine (the CLI summary)', () => {
  it('gives the measured ratio, the frames and what served the rest; deviation only when compared', () => {
    const dropped = fallbackVerdict([30, 32, 31], [60, 58, 62], 1, 2);
    const line = fallbackLine(dropped, true);
    expect(line).to.match(/^delta model measured at 0\.52x dense over frames 2-4 \(median 60\.00 ms vs 31\.00 ms\)/);
    expect(line).to.include('the dense model served the delta side from frame 5 on');
    expect(line).to.include('over the frames the delta model ran');
    expect(fallbackLine(dropped, false)).to.not.include('deviation');
    expect(fallbackLine(dropped, false)).to.not.include('statistics');
    expect(fallbackLine(dropped, false, true)).to.include('--no-layer-stats leaves out');
    expect(fallbackLine(fallbackVerdict([30], [20], 1, 3), false)).to.match(/1\.50x dense over frames 3-3 .*: kept$/);
  });
});
