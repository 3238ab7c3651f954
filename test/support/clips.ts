/** Synthetic test clips made by ffmpeg. */
import {spawnSync} from 'child_process';

import {ffmpegBinary, ffmpegCandidates} from '../../src/pipeline/ffmpeg';

export interface LavfiClip {
  /** An ffmpeg lavfi video source, e.g. `testsrc=size=64x48:rate=10`. */
  source: string;
  frames: number;
  /** Pixel format of the encoded video (default yuv420p). */
  pixFmt?: string;
  /** libx264 options, e.g. ['-crf', '0']. */
  encoder?: string[];
  /** A sine tone as an audio track, as long as the video. */
  audio?: boolean;
  /** The source's frame rate (default 10): with audio, both streams end at frames / fps seconds. */
  fps?: number;
}

/**
 * Every working ffmpeg this machine has, each once, with its version line: $TFJS_DELTA_FFMPEG, PATH's and the npm
 * @ffmpeg-installer build (an ffmpeg 4.x), whose behaviours differ.
 */
export function ffmpegBinaries(): Array<{binary: string; version: string}> {
  const found = new Map<string, string>();
  for (const binary of [process.env.TFJS_DELTA_FFMPEG, ...ffmpegCandidates()]) {
    if (!binary) continue;
    const run = spawnSync(binary, ['-hide_banner', '-version'], {encoding: 'utf8'});
    if (run.status !== 0) continue;
    const version = `ffmpeg ${(/ffmpeg version (\S+)/.exec(run.stdout) ?? [])[1] ?? '?'}`;
    if (![...found.values()].includes(version)) found.set(binary, version);
  }
  return [...found].map(([binary, version]) => ({binary, version}));
}

/** `file`: `frames` frames of a lavfi source, encoded with libx264. */
export function makeLavfiClip(
  file: string,
  {source, frames, pixFmt = 'yuv420p', encoder = [], audio = false, fps = 10}: LavfiClip,
): string {
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source];
  // With audio, a duration rather than -frames:v or -shortest: ffmpeg 5 ends the audio a few packets in under
  // either, ffmpeg 4 does not.
  if (audio)
    args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000', '-c:a', 'aac', '-t', `${frames / fps}`);
  else args.push('-frames:v', String(frames));
  args.push('-pix_fmt', pixFmt, '-c:v', 'libx264', ...encoder, file);
  const run = spawnSync(ffmpegBinary(), args, {encoding: 'utf8'});
  if (run.status !== 0) throw new Error(`could not make the test clip ${file}: ${run.stderr}`);
  return file;
}

/**
 * `file`: `frames` frames at 10 fps of smooth colour waves moving fast (every pixel changes between frames, little
 * chroma detail), H.264 with `encoder`'s options, and a sine tone when `audio`.
 */
export function makeWaveClip(
  file: string,
  {frames, size, audio = false, encoder = []}: {frames: number; size: string; audio?: boolean; encoder?: string[]},
): string {
  const waves = `geq=r='128+100*sin(X/6+T*8)':g='128+100*sin(Y/5+T*6)':b='128+100*sin((X+Y)/9-T*5)'`;
  return makeLavfiClip(file, {source: `color=c=black:s=${size}:r=10,${waves}`, frames, encoder, audio});
}
