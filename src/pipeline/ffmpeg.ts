/**
 * Streaming video I/O through an ffmpeg child process: frames are decoded to raw RGB24 one at a
 * time (never the whole video in memory) and encoded from raw RGB24 with backpressure.
 *
 * The ffmpeg binary is, in order: $TFJS_DELTA_FFMPEG, `ffmpeg` on PATH, or the static binary of
 * the optional npm package @ffmpeg-installer/ffmpeg.
 */
import {ChildProcessWithoutNullStreams, spawn, spawnSync} from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import {envString} from '../io/env';

export const FFMPEG_HINT = 'install ffmpeg (Debian/Ubuntu: `sudo apt-get install ffmpeg`; macOS: ' +
    '`brew install ffmpeg`; or `npm install @ffmpeg-installer/ffmpeg`), or set TFJS_DELTA_FFMPEG to its path';

let cachedBinary: string|null = null;

export function ffmpegBinary(): string {
  if (cachedBinary != null) return cachedBinary;
  const candidates: string[] = [];
  const configured = envString('TFJS_DELTA_FFMPEG');
  if (configured != null) candidates.push(configured);
  candidates.push('ffmpeg');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    candidates.push((require('@ffmpeg-installer/ffmpeg') as {path: string}).path);
  } catch {
    // optional dependency not installed
  }
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-hide_banner', '-version'], {encoding: 'utf8'});
    if (probe.status === 0) return cachedBinary = candidate;
  }
  throw new Error(`ffmpeg not found (tried ${candidates.join(', ')}): ${FFMPEG_HINT}`);
}

/** Why ffmpeg cannot be used here (with the install hint), or null when it can. */
export function ffmpegUnavailableReason(): string|null {
  try {
    ffmpegBinary();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  /** Seconds, or NaN when the container does not say. */
  duration: number;
  /** Estimated frame count (duration x fps), or NaN. */
  frames: number;
  codec: string;
  hasAudio: boolean;
}

/** Reads a video's geometry, frame rate and streams from ffmpeg's description of the input. */
export function probeVideo(file: string): VideoInfo {
  if (!fs.existsSync(file)) throw new Error(`video '${file}' does not exist`);
  const run = spawnSync(ffmpegBinary(), ['-hide_banner', '-i', file], {encoding: 'utf8'});
  const text = run.stderr ?? '';
  const video = /Stream #\S+.*?: Video: ([^,\s]+)[^\n]*?, (\d+)x(\d+)[^\n]*/.exec(text);
  if (video == null) {
    const reason = text.split('\n').map(l => l.trim()).filter(l => l.length > 0 && !l.startsWith('At least one output')).pop();
    throw new Error(`'${file}' is not a readable video${reason ? `: ${reason}` : ''}`);
  }
  const line = video[0];
  const fps = Number((/([\d.]+) fps/.exec(line) ?? /([\d.]+) tbr/.exec(line) ?? [])[1]);
  const d = /Duration: (\d+):(\d+):([\d.]+)/.exec(text);
  const duration = d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : NaN;
  if (!(fps > 0)) throw new Error(`'${file}': could not read the frame rate from ffmpeg (${line.trim()})`);
  return {
    codec: video[1],
    width: Number(video[2]),
    height: Number(video[3]),
    fps,
    duration,
    frames: Math.round(duration * fps),
    hasAudio: /Stream #\S+.*?: Audio:/.test(text),
  };
}

function collectStderr(child: ChildProcessWithoutNullStreams): () => string {
  let tail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  return () => tail.trim().split('\n').slice(-3).join(' | ');
}

export interface ReadOptions {
  /** Scale frames to this size while decoding (default: native). */
  width?: number;
  height?: number;
  /** Stop after this many frames. */
  maxFrames?: number;
}

/** Decoded RGB24 frames (height x width x 3 bytes each), one at a time. */
export async function* readFrames(file: string, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
  const info = probeVideo(file);
  const width = options.width ?? info.width;
  const height = options.height ?? info.height;
  const args = ['-hide_banner', '-loglevel', 'error', '-i', file];
  if (width !== info.width || height !== info.height) args.push('-vf', `scale=${width}:${height}:flags=area`);
  if (options.maxFrames != null) args.push('-frames:v', String(options.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const child = spawn(ffmpegBinary(), args);
  const stderr = collectStderr(child);
  const exited = new Promise<number|null>(resolve => child.on('close', code => resolve(code)));
  const frameBytes = width * height * 3;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= frameBytes) {
        const all = pending.length === 1 ? pending[0] : Buffer.concat(pending);
        yield new Uint8Array(all.buffer.slice(all.byteOffset, all.byteOffset + frameBytes));
        const rest = all.subarray(frameBytes);
        pending = rest.length > 0 ? [rest] : [];
        pendingBytes = rest.length;
      }
    }
    const code = await exited;
    if (code !== 0) throw new Error(`ffmpeg could not decode '${file}' (exit ${code}): ${stderr()}`);
  } finally {
    if (child.exitCode == null) child.kill('SIGKILL');
  }
}

export interface WriterOptions {
  width: number;
  height: number;
  fps: number;
  /** Copy the audio of this file into the output, when it has any. */
  audioFrom?: string;
  /** Encoder quality, x264 CRF (default 18). */
  crf?: number;
}

/**
 * Encodes RGB24 frames to `file`. Frames go to a temporary file beside the output that is renamed
 * into place only by finish(), so an interrupted or failed job never leaves a corrupt file under
 * the output name: abort() removes it, finish() after an interruption keeps a shorter but
 * playable video.
 */
export class VideoWriter {
  readonly tmpFile: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly stderr: () => string;
  private readonly exited: Promise<number|null>;
  private failure: Error|null = null;
  framesWritten = 0;

  constructor(readonly file: string, readonly options: WriterOptions) {
    const ext = path.extname(file) || '.mp4';
    this.tmpFile = path.join(path.dirname(file), `.${path.basename(file, ext)}.partial${ext}`);
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24',
      '-s', `${options.width}x${options.height}`, '-r', String(options.fps), '-i', 'pipe:0'];
    if (options.audioFrom != null) args.push('-i', options.audioFrom, '-map', '0:v:0', '-map', '1:a?', '-c:a', 'copy', '-shortest');
    args.push('-c:v', 'libx264', '-crf', String(options.crf ?? 18), '-pix_fmt', 'yuv420p', this.tmpFile);
    this.child = spawn(ffmpegBinary(), args);
    this.stderr = collectStderr(this.child);
    this.exited = new Promise(resolve => this.child.on('close', code => resolve(code)));
    this.child.stdin.on('error', (e: Error) => {
      this.failure = new Error(`ffmpeg stopped accepting frames for '${file}': ${e.message}; ${this.stderr()}`);
    });
  }

  async write(frame: Uint8Array): Promise<void> {
    const expected = this.options.width * this.options.height * 3;
    if (frame.length !== expected) {
      throw new Error(`VideoWriter: frame has ${frame.length} bytes, expected ${expected} (${this.options.width}x${this.options.height} RGB)`);
    }
    if (this.failure) throw this.failure;
    if (!this.child.stdin.write(frame)) {
      await new Promise<void>(resolve => this.child.stdin.once('drain', () => resolve()));
    }
    this.framesWritten++;
  }

  /** Closes the encoder and moves the finished file to its name. */
  async finish(): Promise<void> {
    this.child.stdin.end();
    const code = await this.exited;
    if (this.failure != null || code !== 0) {
      fs.rmSync(this.tmpFile, {force: true});
      throw this.failure ?? new Error(`ffmpeg could not encode '${this.file}' (exit ${code}): ${this.stderr()}`);
    }
    fs.renameSync(this.tmpFile, this.file);
  }

  /** Stops the encoder and removes the partial file. */
  async abort(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    fs.rmSync(this.tmpFile, {force: true});
  }
}
