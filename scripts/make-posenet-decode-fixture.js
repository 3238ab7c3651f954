#!/usr/bin/env node
/**
 * Writes test/fixtures/posenet_decode.json: PoseNet-MobileNetV1's real outputs on a few vtest.avi frames (and
 * seeded random outputs), with the poses that the reference decoder, @tensorflow-models/posenet 2.2.2's
 * decodeMultiplePoses and decodeSinglePose, finds in them. test/models/posenet_decode.test.ts checks our
 * decoder against these.
 *
 * The reference declares peer tfjs-core ^3, which conflicts with this package's tfjs 4.22, so it is installed
 * with its own tfjs 3 into a scratch folder (npm install --no-save; $POSENET_REF_DIR to reuse one) and runs in
 * a child process: two tfjs-core versions in one process would share one global engine.
 *
 * Needs: npm run build, scripts/fetch-posenet.sh (weights), scripts/fetch-test-data.sh (ffmpeg, vtest.avi).
 * Usage: node scripts/make-posenet-decode-fixture.js
 */
'use strict';
const {spawnSync} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'fixtures', 'posenet_decode.json');
const REF_DIR = process.env.POSENET_REF_DIR ?? path.join(os.tmpdir(), 'tfjs-delta-posenet-ref');
const REF_PACKAGES = [
  '@tensorflow-models/posenet@2.2.2',
  '@tensorflow/tfjs-core@3.21.0',
  '@tensorflow/tfjs-backend-cpu@3.21.0',
  '@tensorflow/tfjs-converter@3.21.0',
];
const VIDEO = process.env.TFJS_DELTA_VTEST ?? '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const MODEL =
  process.env.TFJS_DELTA_POSENET ?? path.join(ROOT, '.cache', 'human-models', 'package', 'models', 'posenet.json');
// 16k + 1 pixels, the sizes PoseNet was trained at; small enough to keep the fixture under a megabyte.
const [HEIGHT, WIDTH] = [241, 321];
const FRAMES = [0, 120, 400];
const STRIDE = 16;
// Decoding settings the reference is run with: its defaults, and a permissive one that finds many poses.
const SETTINGS = [
  {maxDetections: 10, scoreThreshold: 0.5, nmsRadius: 20},
  {maxDetections: 20, scoreThreshold: 0.15, nmsRadius: 10},
];

const b64 = (a) => Buffer.from(new Float32Array(a).buffer).toString('base64');
const unb64 = (s) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
};

/** The reference decoder, in a child process with tfjs 3. */
async function reference(inFile, outFile) {
  const req = (name) => require(path.join(REF_DIR, 'node_modules', name));
  const tf = req('@tensorflow/tfjs-core');
  req('@tensorflow/tfjs-backend-cpu');
  const posenet = req('@tensorflow-models/posenet');
  await tf.setBackend('cpu');
  const cases = JSON.parse(fs.readFileSync(inFile, 'utf8'));
  const toPose = (p) => ({
    score: p.score,
    keypoints: p.keypoints.map((k) => ({y: k.position.y, x: k.position.x, score: k.score})),
  });
  for (const c of cases) {
    const t = (key, depth) => tf.tensor3d(unb64(c[key]), [c.height, c.width, depth]);
    const scores = tf.sigmoid(t('heatmaps', 17));
    const [offsets, fwd, bwd] = [t('offsets', 34), t('displacementsFwd', 32), t('displacementsBwd', 32)];
    const [sb, ob, fb, bb] = await Promise.all([scores, offsets, fwd, bwd].map((x) => x.buffer()));
    c.reference = {
      version: posenet.version,
      single: toPose(await posenet.decodeSinglePose(scores, offsets, STRIDE)),
      multi: SETTINGS.map((s) => ({
        options: {outputStride: STRIDE, ...s},
        poses: posenet
          .decodeMultiplePoses(sb, ob, fb, bb, STRIDE, s.maxDetections, s.scoreThreshold, s.nmsRadius)
          .map(toPose),
      })),
    };
    tf.dispose([scores, offsets, fwd, bwd]);
  }
  fs.writeFileSync(outFile, JSON.stringify(cases));
}

/** Seeded uniform numbers (mulberry32). */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main() {
  for (const [file, how] of [
    [path.join(ROOT, 'dist', 'src', 'models', 'posenet.js'), 'npm run build'],
    [MODEL, 'bash scripts/fetch-posenet.sh'],
    [VIDEO, 'bash scripts/fetch-test-data.sh'],
  ]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run ${how}`);
  }
  if (!fs.existsSync(path.join(REF_DIR, 'node_modules', '@tensorflow-models', 'posenet'))) {
    fs.mkdirSync(REF_DIR, {recursive: true});
    const npm = spawnSync(
      'npm',
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', REF_DIR, ...REF_PACKAGES],
      {stdio: 'inherit'},
    );
    if (npm.status !== 0) throw new Error(`could not install the reference into ${REF_DIR}`);
  }
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const {posenet} = require(path.join(ROOT, 'dist', 'src', 'models', 'posenet.js'));
  const {readFrames} = require(path.join(ROOT, 'dist', 'src', 'pipeline', 'ffmpeg.js'));
  const model = await posenet(MODEL);

  const cases = [];
  let index = 0;
  for await (const frame of readFrames(VIDEO, {width: WIDTH, height: HEIGHT, maxFrames: Math.max(...FRAMES) + 1})) {
    if (FRAMES.includes(index)) {
      const outputs = tf.tidy(() =>
        model.predict(tf.sub(tf.div(tf.tensor4d(frame, [1, HEIGHT, WIDTH, 3], 'int32'), 127.5), 1)),
      );
      const [h, w] = outputs[0].shape.slice(1, 3);
      const [heatmaps, offsets, displacementsFwd, displacementsBwd] = outputs.map((o) => b64(o.dataSync()));
      cases.push({
        name: `vtest.avi frame ${index}`,
        height: h,
        width: w,
        heatmaps,
        offsets,
        displacementsFwd,
        displacementsBwd,
      });
      tf.dispose(outputs);
    }
    index++;
  }
  const rand = random(7);
  const [h, w] = [9, 12];
  const fill = (n, lo, hi) => b64(Array.from({length: n}, () => lo + (hi - lo) * rand()));
  cases.push({
    name: 'random outputs',
    height: h,
    width: w,
    heatmaps: fill(h * w * 17, -6, 4),
    offsets: fill(h * w * 34, -24, 24),
    displacementsFwd: fill(h * w * 32, -60, 60),
    displacementsBwd: fill(h * w * 32, -60, 60),
  });
  model.dispose();

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'posenet-fixture-'));
  try {
    const [inFile, outFile] = [path.join(scratch, 'in.json'), path.join(scratch, 'out.json')];
    fs.writeFileSync(inFile, JSON.stringify(cases));
    const child = spawnSync(process.execPath, [__filename, '--reference', inFile, outFile], {stdio: 'inherit'});
    if (child.status !== 0) throw new Error('the reference decoder failed');
    const done = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    fs.writeFileSync(
      OUT,
      JSON.stringify(
        {
          about:
            'PoseNet-MobileNetV1 outputs (float32, base64, little-endian, [h, w, c] row-major; heatmaps are logits) and the ' +
            'poses @tensorflow-models/posenet decodes from them (positions in model-input pixels). Made by ' +
            'scripts/make-posenet-decode-fixture.js.',
          inputSize: [HEIGHT, WIDTH],
          outputStride: STRIDE,
          cases: done,
        },
        null,
        0,
      ) + '\n',
    );
    const kb = (fs.statSync(OUT).size / 1024).toFixed(0);
    console.log(
      `wrote ${path.relative(ROOT, OUT)} (${kb} KiB): ${done.map((c) => `${c.name}: ${c.reference.multi.map((m) => m.poses.length).join('/')} poses`).join('; ')}`,
    );
  } finally {
    fs.rmSync(scratch, {recursive: true, force: true});
  }
}

if (process.argv[2] === '--reference') {
  reference(process.argv[3], process.argv[4]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e.message ?? e);
    process.exit(1);
  });
}
