/** What the benchmark scripts share: their command-line options, medians and crossovers. */

/** The value after `--name` on the command line, else `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
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
