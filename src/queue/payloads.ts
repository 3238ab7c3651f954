/**
 * The jobs' payloads, checked by whoever takes a job: anything may have been put on the queue (another client,
 * another version), so a worker checks each payload before any work and fails a bad one at once, without retries,
 * with a message that names the job, the field and what was wrong, and then goes on with the next job.
 */
import {UnrecoverableError} from 'bullmq';
import {z} from 'zod';

const path = z.string().min(1);
const factor = z.literal([2, 4, 8]);
const count = z.number().int().min(0);

/** One chunk of an interpolation job: the pairs [from, to) (to: to the end), decoded from startSeconds. */
export const chunkJob = z.strictObject({
  job: z.string().min(1),
  index: count,
  input: path,
  weights: path,
  factor,
  batch: z.number().int().min(1).max(64),
  from: count,
  to: count.optional(),
  /** Where the decoder starts: frame max(from - 1, 0) (ffmpeg's -ss of ReadOptions.startSeconds). */
  startSeconds: z.number().min(0),
  /** Folder shared by the workers (same path on each) for the chunks' lossless intermediates. */
  workDir: path,
});
export type ChunkJob = z.infer<typeof chunkJob>;

/** The parent of the chunks: checks them, concatenates them into `output` with the input's audio. */
export const concatJob = z.strictObject({
  job: z.string().min(1),
  input: path,
  output: path,
  factor,
  fps: z.number().positive().optional(),
  slowmo: z.boolean().optional(),
  crf: z.number().int().min(0).max(51).optional(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** Input frames counted at submit (packets); the chunks' decoders decide. */
  frames: count,
  chunks: z.number().int().positive(),
  pairsPerChunk: z.number().int().positive(),
  workDir: path,
});
export type ConcatJob = z.infer<typeof concatJob>;

/** A camera: a file or a URL ffmpeg reads, run through a model, one result per frame to a Redis stream. */
export const streamJob = z.strictObject({
  camera: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'a camera name is 1-100 letters, digits, dots, dashes or underscores'),
  source: z.string().min(1),
  model: z.string().min(1),
  mode: z.enum(['delta', 'dense']),
  threshold: z.number().min(0),
  /** Model input HEIGHTxWIDTH; default PoseNet's for the video, else the model's or the video scaled to <= 384 px. */
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
  /** Stop after this many frames (a file ends by itself; a live camera runs until then or forever). */
  frames: z.number().int().positive().optional(),
  /** Approximate cap of the results stream's length (XADD MAXLEN ~). */
  maxLen: z.number().int().positive().default(10000),
});
export type StreamJob = z.infer<typeof streamJob>;

/** The payload as `schema` reads it, or an UnrecoverableError (no retries) naming the job and every problem. */
export function checkPayload<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
    return `${field}: ${issue.message}`;
  });
  throw new UnrecoverableError(`${what}: bad payload: ${problems.join('; ')}`);
}
