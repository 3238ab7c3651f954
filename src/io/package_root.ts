/**
 * The folder of tfjs-delta's package.json, found by walking up from this file, so that paths to the
 * package's assets, addon build and caches hold wherever the compiled file sits (dist/ or an install).
 */
import * as fs from 'fs';
import * as path from 'path';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'tfjs-delta') return dir;
      } catch {
        // an unreadable package.json on the way up is not ours
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`tfjs-delta: no package.json of tfjs-delta above ${start}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(__dirname);
