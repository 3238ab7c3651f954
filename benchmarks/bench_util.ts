/** What the benchmark scripts share: their command-line options, medians, crossovers and result files. */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';

import {PACKAGE_ROOT} from '../src/io/package_root';

/** The value after `--name` on the command line, else `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Wall ms of one synchronous call of `fn`; what it returns is disposed after the clock stops. */
export function timeOnce(fn: () => tf.TensorContainer): number {
  const t0 = process.hrtime.bigint();
  const out = fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  tf.dispose(out);
  return ms;
}

/**
 * Where a sparse route stops paying: the x (an active share, rising) at which `sparseMs` reaches `denseMs`, by
 * linear interpolation between the measured points; 0 when the sparse route is not faster at the first point, 1
 * when it stays faster.
 */
export function crossover(points: Array<{x: number; sparseMs: number; denseMs: number}>): number {
  for (let i = 1; i < points.length; i++) {
    const [p, q] = [points[i - 1], points[i]];
    const [gp, gq] = [p.sparseMs - p.denseMs, q.sparseMs - q.denseMs];
    if (i === 1 && gp >= 0) return 0;
    if (gp < 0 && gq >= 0) return p.x + (q.x - p.x) * (-gp / (gq - gp));
  }
  return 1;
}

/** Writes `record` as JSON to `--out`, else to benchmarks/results/`name`, and says where. */
export function writeResults(name: string, record: object): void {
  const out = arg('out', path.join(PACKAGE_ROOT, 'benchmarks', 'results', name));
  fs.writeFileSync(out, JSON.stringify(record, null, 1));
  console.log(`wrote ${out}`);
}

/** Runs a benchmark's main, exiting non-zero with the error if it fails. */
export function runMain(main: () => Promise<void>): void {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
