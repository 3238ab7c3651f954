/**
 * The streaming video pipeline: ffmpeg probe/read/write, and frame interpolation's window logic
 * (every input frame kept, edges repeated, frame counts, frame rates, audio, interruption), driven
 * by a stand-in interpolator whose output is predictable (the blend of the middle frames).
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {interpolateVideo} from '../../src/pipeline/interpolate';
import {ffmpegBinaries, makeWaveClip} from '../support/clips';
import {ffmpegUnavailableReason, probeVideo, readFrames, VideoWriter} from '../../src/pipeline/ffmpeg';

/** A synthetic clip made by ffmpeg: `frames` frames at 10 fps, optional sine audio, lossless. */
function makeClip(dir: string, frames: number, audio: boolean, size = '64x48'): string {
  const file = path.join(dir, `clip_${frames}_${audio ? 'a' : 'n'}.mp4`);
  return makeWaveClip(file, {frames, size, audio, encoder: ['-crf', '0']});
}

async function countFrames(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readFrames(file)) n++;
  return n;
}

/** The file has audio and ends with its video, give or take the audio packet a stream copy cuts at. */
function expectAudioCutAt(file: string, videoSeconds: number): void {
  const info = probeVideo(file);
  expect(info.hasAudio, `${file} has audio`).to.equal(true);
  expect(info.duration, `${file}'s duration`).to.be.within(videoSeconds - 1e-3, videoSeconds + 0.15);
}

/** Mean of the two middle frames, repeated factor - 1 times. */
const blend =
  (factor: number) =>
  (windows: tf.Tensor5D): tf.Tensor5D =>
    tf.tidy(() => {
      const [b, , h, w, c] = windows.shape;
      const mid = tf.mean(tf.slice(windows, [0, 1, 0, 0, 0], [b, 2, h, w, c]), 1, true);
      return tf.tile(mid, [1, factor - 1, 1, 1, 1]) as tf.Tensor5D;
    });

// Once per ffmpeg found (the system's and the npm build differ in what they accept and how they mux).
const binaries = ffmpegBinaries();
for (const {binary, version} of binaries.length > 0 ? binaries : [{binary: null, version: 'none found'}]) {
  describe(`video pipeline (${version})`, function () {
    this.timeout(120000);
    let dir: string;
    const chosen = process.env.TFJS_DELTA_FFMPEG;

    before(function () {
      if (binary == null) {
        console.log(`      skipped: ${ffmpegUnavailableReason()}`);
        this.skip();
      }
      process.env.TFJS_DELTA_FFMPEG = binary;
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-video-'));
    });
    after(() => {
      if (chosen == null) delete process.env.TFJS_DELTA_FFMPEG;
      else process.env.TFJS_DELTA_FFMPEG = chosen;
      if (dir) fs.rmSync(dir, {recursive: true, force: true});
    });

    it('probes, decodes frame by frame and re-encodes losslessly enough', async () => {
      const clip = makeClip(dir, 7, false);
      const info = probeVideo(clip);
      expect([info.width, info.height, info.fps, info.hasAudio]).to.deep.equal([64, 48, 10, false]);
      const frames: Uint8Array[] = [];
      for await (const f of readFrames(clip)) frames.push(f);
      expect(frames.length).to.equal(7);
      expect(frames.every((f) => f.length === 64 * 48 * 3)).to.equal(true);
      const scaled: Uint8Array[] = [];
      for await (const f of readFrames(clip, {width: 32, height: 24, maxFrames: 3})) scaled.push(f);
      expect(scaled.map((f) => f.length)).to.deep.equal([32 * 24 * 3, 32 * 24 * 3, 32 * 24 * 3]);
    });

    it('rejects unreadable input and bad frames with clear errors, leaving no output file', async () => {
      const notVideo = path.join(dir, 'notes.txt');
      fs.writeFileSync(notVideo, 'not a video');
      expect(() => probeVideo(notVideo)).to.throw(/is not a readable video/);
      const noise = path.join(dir, 'noise.mp4');
      fs.writeFileSync(noise, Buffer.from(Array.from({length: 4096}, () => Math.floor(Math.random() * 256))));
      expect(() => probeVideo(noise)).to.throw(/is not a readable video/);
      expect(() => probeVideo(path.join(dir, 'missing.mp4'))).to.throw(/does not exist/);
      const out = path.join(dir, 'bad.mp4');
      const writer = new VideoWriter(out, {width: 8, height: 8, fps: 5});
      let message = '';
      try {
        await writer.write(new Uint8Array(10));
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).to.include('expected 192');
      await writer.abort();
      expect(fs.existsSync(out) || fs.existsSync(writer.tmpFile)).to.equal(false);
    });

    it("a writer whose folder vanishes fails within seconds with ffmpeg's message and leaves no file", async function () {
      this.timeout(60000);
      const folder = fs.mkdtempSync(path.join(dir, 'vanishing-'));
      const out = path.join(folder, 'gone.mp4');
      const writer = new VideoWriter(out, {width: 64, height: 48, fps: 10});
      fs.rmSync(folder, {recursive: true});
      const t0 = Date.now();
      let message = '';
      try {
        // Far more than a pipe buffer: a writer that waited for the dead encoder to drain would hang here.
        for (let i = 0; i < 200; i++) await writer.write(new Uint8Array(64 * 48 * 3).fill(i));
        await writer.finish();
      } catch (e) {
        message = (e as Error).message;
        await writer.abort();
      }
      expect(message).to.match(/ffmpeg could not write '.*gone\.mp4' \(exit \d+\): .*No such file or directory/);
      expect(Date.now() - t0).to.be.lessThan(20000);
      expect(fs.existsSync(out) || fs.existsSync(writer.tmpFile)).to.equal(false);
    });

    it('a writer refuses a non-video name, a missing folder and its own input; pads odd sizes to even', async () => {
      const clip = makeClip(dir, 3, false);
      expect(() => new VideoWriter(path.join(dir, 'notes.txt'), {width: 8, height: 8, fps: 5})).to.throw(
        /the extension must be one of \.mp4, .*\.webm/,
      );
      expect(() => new VideoWriter(path.join(dir, 'no', 'x.mp4'), {width: 8, height: 8, fps: 5})).to.throw(
        /does not exist/,
      );
      const before = fs.readFileSync(clip);
      expect(() => new VideoWriter(clip, {width: 8, height: 8, fps: 5, input: clip})).to.throw(
        /is the input video itself/,
      );
      expect(fs.readFileSync(clip).equals(before)).to.equal(true);
      // Frames larger than a pipe's buffer make every write wait for the encoder: no listener may pile up.
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.name);
      process.on('warning', onWarning);
      for (const [ext, frames] of [
        ['.mp4', 14],
        ['.webm', 3],
        ['.avi', 3],
      ] as Array<[string, number]>) {
        const out = path.join(dir, `odd${ext}`);
        const writer = new VideoWriter(out, {width: 333, height: 187, fps: 10});
        expect(writer.padded).to.deep.equal({width: 334, height: 188});
        for (let i = 0; i < frames; i++) await writer.write(new Uint8Array(333 * 187 * 3).fill(15 * i));
        await writer.finish();
        const info = probeVideo(out);
        expect([info.width, info.height, info.frames], ext).to.deep.equal([334, 188, frames]);
      }
      process.off('warning', onWarning);
      expect(warnings).to.deep.equal([]);
    });

    for (const factor of [2, 4, 8]) {
      for (const batch of factor === 8 ? [2] : [1, 3]) {
        it(`interpolates x${factor} (batch ${batch}): keeps every frame, (n-1)*${factor}+1 frames at ${factor}x fps`, async () => {
          const n = 6;
          const clip = makeClip(dir, n, false);
          const out = path.join(dir, `out_${factor}_${batch}.mp4`);
          const result = await interpolateVideo({
            input: clip,
            output: out,
            factor,
            interpolator: blend(factor),
            batch,
            crf: 0,
          });
          expect(result).to.deep.include({
            inputFrames: n,
            outputFrames: (n - 1) * factor + 1,
            fps: 10 * factor,
            interrupted: false,
          });
          const info = probeVideo(out);
          expect([info.width, info.height, info.fps]).to.deep.equal([64, 48, 10 * factor]);
          const input: Uint8Array[] = [];
          for await (const f of readFrames(clip)) input.push(f);
          const output: Uint8Array[] = [];
          for await (const f of readFrames(out)) output.push(f);
          expect(output.length).to.equal((n - 1) * factor + 1);
          // Input frame i sits at output i * factor; the blend of i and i+1 right after it (x264 lossless,
          // but RGB -> yuv420p -> RGB rounds: compare mean errors).
          const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, k) => s + Math.abs(v - b[k]), 0) / a.length;
          // Each output frame must be nearer its expected content than to the neighbouring frames'.
          const expectNearest = (got: Uint8Array, want: Uint8Array, others: Uint8Array[], what: string) => {
            const error = meanAbs(got, want);
            expect(error, what).to.be.lessThan(2.5);
            for (const other of others)
              expect(error, `${what} vs a neighbour`).to.be.lessThan(0.5 * meanAbs(got, other));
          };
          for (let i = 0; i < n; i++) {
            expectNearest(
              output[i * factor],
              input[i],
              [input[i - 1], input[i + 1]].filter((f) => f != null),
              `frame ${i}`,
            );
          }
          for (let i = 0; i + 1 < n; i++) {
            const mid = input[i].map((v, k) => Math.round((v + input[i + 1][k]) / 2));
            expectNearest(output[i * factor + 1], mid, [input[i], input[i + 1]], `between ${i} and ${i + 1}`);
          }
        });
      }
    }

    it('--slowmo keeps the input frame rate; audio is copied otherwise', async () => {
      const clip = makeClip(dir, 10, true);
      expect(probeVideo(clip).hasAudio).to.equal(true);
      const slow = await interpolateVideo({
        input: clip,
        output: path.join(dir, 'slow.mp4'),
        factor: 2,
        interpolator: blend(2),
        slowmo: true,
      });
      expect(slow.fps).to.equal(10);
      expect(probeVideo(path.join(dir, 'slow.mp4')).fps).to.equal(10);
      const fast = path.join(dir, 'fast.mp4');
      await interpolateVideo({input: clip, output: fast, factor: 2, interpolator: blend(2)});
      // Every frame kept, and the audio (1 s) cut at the video's end (0.95 s).
      expect(await countFrames(fast)).to.equal(19);
      expectAudioCutAt(fast, 19 / 20);
    });

    it('an interruption leaves a shorter playable video, its audio cut to it; a failing model leaves none', async () => {
      const clip = makeClip(dir, 12, true);
      const out = path.join(dir, 'partial.mp4');
      let seen = 0;
      const result = await interpolateVideo({
        input: clip,
        output: out,
        factor: 2,
        interpolator: blend(2),
        onProgress: (done) => {
          seen = done;
        },
        shouldStop: () => seen >= 6,
      });
      expect(result.interrupted).to.equal(true);
      expect(result.outputFrames).to.be.greaterThan(0).and.lessThan(23);
      expect(await countFrames(out)).to.equal(result.outputFrames);
      expectAudioCutAt(out, result.outputFrames / 20);
      const failed = path.join(dir, 'failed.mp4');
      let message = '';
      try {
        await interpolateVideo({
          input: clip,
          output: failed,
          factor: 2,
          interpolator: () => tf.zeros([1, 1, 1, 1, 3]) as tf.Tensor5D,
        });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).to.include('the model returned shape');
      expect(fs.readdirSync(dir).filter((f) => f.includes('failed'))).to.deep.equal([]);
    });
  });
}
