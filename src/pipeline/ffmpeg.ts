/**
 * Streaming video I/O through an ffmpeg child process: frames are decoded to raw RGB24 one at a
 * time (never the whole video in memory) and encoded from raw RGB24 with backpressure.
 *
 * The ffmpeg binary is, in order: $TFJS_DELTA_FFMPEG, `ffmpeg` on PATH, or the static binary of
 * the optional npm dependency @ffmpeg-installer/ffmpeg (installed by `npm ci` where it has a build).
 */
import {ChildProcess, ChildProcessWithoutNullStreams, spawn, spawnSync} from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import {envString} from '../io/env';

export const FFMPEG_HINT =
  'install ffmpeg (Debian/Ubuntu: `sudo apt-get install ffmpeg`; macOS: ' +
  '`brew install ffmpeg`; or `npm install @ffmpeg-installer/ffmpeg`), or set TFJS_DELTA_FFMPEG to its path';

let cachedBinary: string | null = null;
let cachedFor: string | undefined;

/**
 * The ffmpeg binaries looked for when TFJS_DELTA_FFMPEG is unset, in order: `ffmpeg` on PATH, then the optional
 * dependency @ffmpeg-installer/ffmpeg's when it is installed.
 */
export function ffmpegCandidates(): string[] {
  const candidates = ['ffmpeg'];
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    candidates.push((require('@ffmpeg-installer/ffmpeg') as {path: string}).path);
  } catch {
    // the optional dependency has no build for this platform, or was omitted (npm ci --omit=optional)
  }
  return candidates;
}

/** Whether `binary -version` runs. */
function ffmpegRuns(binary: string): boolean {
  return spawnSync(binary, ['-hide_banner', '-version'], {encoding: 'utf8'}).status === 0;
}

export function ffmpegBinary(): string {
  const chosen = envString('TFJS_DELTA_FFMPEG');
  // Chosen again when TFJS_DELTA_FFMPEG changes.
  if (cachedBinary != null && cachedFor === chosen) return cachedBinary;
  cachedFor = chosen;
  if (chosen != null) {
    // A binary the user named must not be silently replaced by another one.
    if (!ffmpegRuns(chosen))
      throw new Error(`TFJS_DELTA_FFMPEG='${chosen}' does not run as ffmpeg (\`${chosen} -version\` failed)`);
    return (cachedBinary = chosen);
  }
  const candidates = ffmpegCandidates();
  for (const candidate of candidates) if (ffmpegRuns(candidate)) return (cachedBinary = candidate);
  throw new Error(`ffmpeg not found (tried ${candidates.join(', ')}): ${FFMPEG_HINT}`);
}

/**
 * ffmpeg children run in their own process group: a Ctrl-C in the terminal reaches only this
 * process, which finishes the frames in flight and closes the encoder itself (ffmpeg would
 * otherwise stop on the same signal and the job could not finish cleanly). When this process exits
 * for any reason, the children still running are killed and their partial files removed.
 */
const live = new Map<ChildProcess, string | null>();
process.on('exit', () => {
  for (const [child, partial] of live) {
    if (child.exitCode == null) child.kill('SIGKILL');
    if (partial != null) fs.rmSync(partial, {force: true});
  }
});

function spawnFfmpeg(args: string[], partialFile: string | null = null): ChildProcessWithoutNullStreams {
  const child = spawn(ffmpegBinary(), args, {detached: true});
  live.set(child, partialFile);
  child.on('close', () => live.delete(child));
  return child;
}

/**
 * Containers the writer encodes to, by extension: the video codec and the audio codecs it can copy
 * (other audio is re-encoded with `audio`).
 */
const CONTAINERS: {[ext: string]: {video: string[]; copies: string[]; audio: string}} = {
  '.mp4': {video: ['-c:v', 'libx264'], copies: ['aac', 'mp3', 'alac', 'ac3'], audio: 'aac'},
  '.mov': {video: ['-c:v', 'libx264'], copies: ['aac', 'mp3', 'alac', 'ac3', 'pcm_s16le'], audio: 'aac'},
  '.m4v': {video: ['-c:v', 'libx264'], copies: ['aac', 'mp3', 'ac3'], audio: 'aac'},
  '.mkv': {video: ['-c:v', 'libx264'], copies: ['*'], audio: 'aac'},
  '.avi': {video: ['-c:v', 'libx264'], copies: ['mp3', 'ac3', 'pcm_s16le'], audio: 'libmp3lame'},
  '.webm': {
    video: ['-c:v', 'libvpx-vp9', '-b:v', '0', '-deadline', 'good', '-cpu-used', '4'],
    copies: ['opus', 'vorbis'],
    audio: 'libopus',
  },
};

export const VIDEO_EXTENSIONS = Object.keys(CONTAINERS);

/**
 * Why `file` cannot be written as a video, or null when it can: a known container extension, an
 * existing writable folder, not a folder itself, and not the same file as `input` (links
 * resolved), so a job never overwrites its own input.
 */
export function videoOutputProblem(file: string, input?: string): string | null {
  const ext = path.extname(file).toLowerCase();
  if (!(ext in CONTAINERS)) {
    return `'${file}' is not a video file name: the extension must be one of ${VIDEO_EXTENSIONS.join(', ')}`;
  }
  const folderProblem = writableFolderProblem(file);
  if (folderProblem != null) return folderProblem;
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return `'${file}' is a folder`;
  if (input != null && fs.existsSync(input) && realPathOf(file) === realPathOf(input)) {
    return `'${file}' is the input video itself; choose another output name`;
  }
  return null;
}

/** The size a video of width x height is encoded at: 4:2:0 chroma needs even sizes. */
export function evenSize(width: number, height: number): {width: number; height: number} {
  return {width: width + (width % 2), height: height + (height % 2)};
}

/** Why no file can be created at `file` (its folder is missing, not a folder or not writable), or null. */
export function writableFolderProblem(file: string): string | null {
  const folder = path.dirname(path.resolve(file));
  if (!fs.existsSync(folder)) return `the folder '${path.dirname(file)}' does not exist`;
  if (!fs.statSync(folder).isDirectory()) return `'${path.dirname(file)}' is not a folder`;
  try {
    fs.accessSync(folder, fs.constants.W_OK);
  } catch {
    return `the folder '${path.dirname(file)}' is not writable`;
  }
  return null;
}

/** The real path of a file that may not exist yet: its folder's real path and its name. */
function realPathOf(file: string): string {
  if (fs.existsSync(file)) return fs.realpathSync(file);
  return path.join(fs.realpathSync(path.dirname(path.resolve(file))), path.basename(file));
}

/** Why ffmpeg cannot be used here (with the install hint), or null when it can. */
export function ffmpegUnavailableReason(): string | null {
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
  /** The first audio stream's codec (e.g. 'aac'), when there is one. */
  audioCodec?: string;
}

/** Reads a video's geometry, frame rate and streams from ffmpeg's description of the input. */
export function probeVideo(file: string): VideoInfo {
  if (!fs.existsSync(file)) throw new Error(`video '${file}' does not exist`);
  const run = spawnSync(ffmpegBinary(), ['-hide_banner', '-i', file], {encoding: 'utf8'});
  const text = run.stderr ?? '';
  const video = /Stream #\S+.*?: Video: ([^,\s]+)[^\n]*?, (\d+)x(\d+)[^\n]*/.exec(text);
  // Older ffmpeg builds (the npm @ffmpeg-installer one among them) open any text file as a video: its tty demuxer
  // renders the characters as ANSI art.
  if (/^Input #0, tty,/m.test(text)) throw new Error(`'${file}' is not a readable video: ffmpeg reads it as text`);
  if (video == null) {
    const reason = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith('At least one output'))
      .pop();
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
    audioCodec: (/Stream #\S+.*?: Audio: ([^,\s]+)/.exec(text) ?? [])[1],
  };
}

function collectStderr(child: ChildProcessWithoutNullStreams): () => string {
  let tail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  return () => tail.trim().split('\n').slice(-3).join(' | ') || '(ffmpeg printed nothing)';
}

/** Resolves with the exit code (or the signal's name) once the child has exited and its pipes closed. */
function exitOf(child: ChildProcess): Promise<number | string | null> {
  return new Promise((resolve) => {
    child.on('error', () => resolve(child.exitCode ?? 'spawn error'));
    child.on('close', (code, signal) => resolve(code ?? signal));
  });
}

export interface ReadOptions {
  /** Scale frames to this size while decoding (default: native). */
  width?: number;
  height?: number;
  /** Stop after this many frames. */
  maxFrames?: number;
  /**
   * Start at this time (seconds from the start of the file, as ffmpeg's input -ss): the first frame is the first
   * one shown at or after it. With frameTimes() this starts at a given frame; 0 or unset reads from the start.
   */
  startSeconds?: number;
}

export interface FrameTimes {
  /** Presentation time of each video frame in seconds, in display order, on the clock of ffmpeg's -ss. */
  times: number[];
  /** Whether every frame lasts as long as the first (within a tick): only then is frame i at time times[i] of a CFR decode. */
  constantRate: boolean;
}

/**
 * The presentation times of a video's frames, read from its packets without decoding them (ffmpeg's framecrc of
 * a stream copy: one line per packet). For the usual codecs each packet is one frame; chunked jobs use the times
 * to start a decoder at an exact frame (ReadOptions.startSeconds) and check the frames they share.
 */
export function frameTimes(file: string): FrameTimes {
  if (!fs.existsSync(file)) throw new Error(`video '${file}' does not exist`);
  const run = spawnSync(
    ffmpegBinary(),
    ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-c', 'copy', '-f', 'framecrc', '-'],
    {encoding: 'utf8', maxBuffer: 1 << 30},
  );
  if (run.status !== 0) {
    throw new Error(`ffmpeg could not list the frames of '${file}' (exit ${run.status}): ${run.stderr.trim()}`);
  }
  const tb = /^#tb 0: (\d+)\/(\d+)$/m.exec(run.stdout);
  if (tb == null) throw new Error(`ffmpeg's frame list of '${file}' has no time base`);
  const [num, den] = [Number(tb[1]), Number(tb[2])];
  const ticks = run.stdout
    .split('\n')
    .filter((line) => /^0,/.test(line))
    .map((line) => Number(line.split(',')[2]))
    .sort((a, b) => a - b);
  if (ticks.some((t) => !Number.isFinite(t))) throw new Error(`'${file}' has video packets without a timestamp`);
  const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
  const constantRate = gaps.every((g) => Math.abs(g - gaps[0]) <= 1);
  return {times: ticks.map((t) => (t * num) / den), constantRate};
}

/** Decoded RGB24 frames (height x width x 3 bytes each), one at a time. */
export async function* readFrames(file: string, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
  const info = probeVideo(file);
  const width = options.width ?? info.width;
  const height = options.height ?? info.height;
  const args = ['-hide_banner', '-loglevel', 'error'];
  // Before -i: ffmpeg seeks to the keyframe before and decodes up to the time, so the first frame is exact.
  if (options.startSeconds != null && options.startSeconds > 0) args.push('-ss', options.startSeconds.toFixed(6));
  args.push('-i', file);
  if (width !== info.width || height !== info.height) args.push('-vf', `scale=${width}:${height}:flags=area`);
  if (options.maxFrames != null) args.push('-frames:v', String(options.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const child = spawnFfmpeg(args);
  const stderr = collectStderr(child);
  const exited = exitOf(child);
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
    if (pendingBytes > 0)
      throw new Error(`ffmpeg's decoding of '${file}' ended inside a frame (${pendingBytes} of ${frameBytes} bytes)`);
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
  /** Encoder quality, x264 CRF (default 18; 0 = lossless). */
  crf?: number;
  /** The video the frames come from: refused as the output. */
  input?: string;
  /**
   * Lossless RGB (FFV1, .mkv only), for intermediate files that another process decodes back to the same bytes:
   * no 4:2:0, so no padding of odd sizes and no rounding.
   */
  lossless?: boolean;
}

/**
 * Encodes RGB24 frames to `file` (the container by its extension: VIDEO_EXTENSIONS). Frames go to
 * a temporary file beside the output that is renamed into place only by finish(), so an
 * interrupted or failed job never leaves a corrupt file under the output name: abort() removes
 * it, finish() after an interruption keeps a shorter but playable video. If ffmpeg dies, the next
 * write() or finish() throws with its own message instead of waiting for it.
 */
export class VideoWriter {
  readonly tmpFile: string;
  /**
   * The encoded size when it differs from the frames': 4:2:0 video needs even sizes, so an odd
   * width or height gets one black column or row (players show 4:2:0 only).
   */
  readonly padded: {width: number; height: number} | null;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly stderr: () => string;
  private readonly exited: Promise<number | string | null>;
  private exitCode: number | string | null | undefined = undefined;
  private pipeError: Error | null = null;
  /** Settles when the encoder can take no more frames: its stdin broke or it exited. */
  private readonly broken: Promise<unknown>;
  /** Whether the input's audio is muxed in: finish() then cuts it at the video's end. */
  private hasAudio = false;
  framesWritten = 0;

  constructor(
    readonly file: string,
    readonly options: WriterOptions,
  ) {
    const problem = videoOutputProblem(file, options.input ?? options.audioFrom);
    if (problem != null) throw new Error(problem);
    const ext = path.extname(file);
    const container = CONTAINERS[ext.toLowerCase()];
    this.tmpFile = path.join(path.dirname(file), `.${path.basename(file, ext)}.partial${ext}`);
    if (options.lossless && ext.toLowerCase() !== '.mkv') {
      throw new Error(`VideoWriter: lossless output must be .mkv (FFV1), got '${file}'`);
    }
    const {width, height} = options;
    const even = options.lossless ? {width, height} : evenSize(width, height);
    this.padded = even.width !== width || even.height !== height ? even : null;
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${width}x${height}`,
      '-r',
      String(options.fps),
      '-i',
      'pipe:0',
    ];
    const audio = options.audioFrom != null ? probeVideo(options.audioFrom).audioCodec : undefined;
    if (audio != null) {
      const copy = container.copies.includes('*') || container.copies.includes(audio);
      args.push('-i', options.audioFrom!, '-map', '0:v:0', '-map', '1:a:0', '-c:a', copy ? 'copy' : container.audio);
      this.hasAudio = true;
    }
    if (this.padded) args.push('-vf', `pad=${even.width}:${even.height}:0:0:black`);
    if (options.lossless) args.push('-c:v', 'ffv1', '-level', '3', '-pix_fmt', 'gbrp', this.tmpFile);
    const crf = options.crf ?? 18;
    const quality = container.video.includes('libvpx-vp9')
      ? crf === 0
        ? ['-lossless', '1']
        : ['-crf', String(Math.min(63, crf + 13))]
      : ['-crf', String(crf)];
    if (!options.lossless) args.push(...container.video, ...quality, '-pix_fmt', 'yuv420p', this.tmpFile);
    this.child = spawnFfmpeg(args, this.tmpFile);
    this.stderr = collectStderr(this.child);
    this.exited = exitOf(this.child).then((code) => (this.exitCode = code));
    this.broken = Promise.race([
      this.exited,
      new Promise<void>((resolve) =>
        this.child.stdin.on('error', (e: Error) => {
          this.pipeError = e;
          resolve();
        }),
      ),
    ]);
  }

  /** The error to report once ffmpeg has exited early (its own message), or null while it runs. */
  private async failure(): Promise<Error | null> {
    if (this.exitCode === undefined && this.pipeError == null) return null;
    const code = await this.exited;
    return new Error(`ffmpeg could not write '${this.file}' (exit ${code}): ${this.stderr()}`);
  }

  async write(frame: Uint8Array): Promise<void> {
    const expected = this.options.width * this.options.height * 3;
    if (frame.length !== expected) {
      throw new Error(
        `VideoWriter: frame has ${frame.length} bytes, expected ${expected} (${this.options.width}x${this.options.height} RGB)`,
      );
    }
    let failure = await this.failure();
    if (failure) throw failure;
    if (!this.child.stdin.write(frame)) {
      // A dead encoder never drains: wait for whichever comes first.
      await Promise.race([
        new Promise<void>((resolve) => this.child.stdin.once('drain', () => resolve())),
        this.broken,
      ]);
      failure = await this.failure();
      if (failure) throw failure;
    }
    this.framesWritten++;
  }

  /** Closes the encoder and moves the finished file to its name. */
  async finish(): Promise<void> {
    this.child.stdin.end();
    const code = await this.exited;
    if (code !== 0 || this.pipeError != null) {
      fs.rmSync(this.tmpFile, {force: true});
      throw new Error(`ffmpeg could not write '${this.file}' (exit ${code}): ${this.stderr()}`);
    }
    if (this.hasAudio && this.framesWritten > 0) this.cutAudioAtVideoEnd();
    fs.renameSync(this.tmpFile, this.file);
  }

  /**
   * The video decides the length: the audio is encoded whole and cut here, by a stream copy, at the last frame's end.
   * ffmpeg's -shortest would cut the video where shorter audio ends, and ffmpeg 4.x's (the npm @ffmpeg-installer
   * build) ends the file when copied audio ends before the encoder's lookahead has emitted a video packet.
   */
  private cutAudioAtVideoEnd(): void {
    const ext = path.extname(this.file);
    const cut = path.join(path.dirname(this.file), `.${path.basename(this.file, ext)}.partial-cut${ext}`);
    const seconds = (this.framesWritten / this.options.fps).toFixed(6);
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-i', this.tmpFile, '-map', '0', '-c', 'copy'];
    const run = spawnSync(ffmpegBinary(), [...args, '-t', seconds, cut], {encoding: 'utf8'});
    fs.rmSync(this.tmpFile, {force: true});
    if (run.status !== 0) {
      fs.rmSync(cut, {force: true});
      const why = (run.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || `exit ${run.status ?? run.signal}`;
      throw new Error(`ffmpeg could not cut the audio of '${this.file}' at ${seconds} s: ${why}`);
    }
    fs.renameSync(cut, this.tmpFile);
  }

  /** Stops the encoder and removes the partial file. */
  async abort(): Promise<void> {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
    await this.exited;
    fs.rmSync(this.tmpFile, {force: true});
  }
}
