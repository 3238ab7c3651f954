#!/usr/bin/env node
/*
 * Builds tfjs-delta's native parts with cmake-js, from `npm install` (the package's install script) or by hand:
 *   cuda        the 'cuda' backend's addon (build/Release/tfjs_delta_cuda.node), where a CUDA toolkit is present;
 *   tensorflow  the TensorFlow ops for the 'tensorflow' backend (build-tensorflow/Release/tfjs_delta_tensorflow.node,
 *               native/tensorflow), where @tensorflow/tfjs-node and its libtensorflow are installed.
 * It never fails the install: a part whose prerequisites are missing prints one line saying what is missing, and
 * the package runs without it. `--only cuda` or `--only tensorflow` builds one part.
 *
 * Environment: TFJS_DELTA_SKIP_NATIVE=1 skips both; TFJS_DELTA_CUDA_ARCHS restricts the GPU targets (e.g. "90");
 * CUDNN_ROOT / CUBLAS_ROOT / NVIDIA_WHEELS_ROOT say where cuDNN and cuBLAS are (see CMakeLists.txt); CUDACXX names
 * the nvcc to use; TFJS_NODE_DIR the tfjs-node whose libtensorflow to build against. With --strict it exits non-zero
 * when the part(s) asked for fail (CI).
 */
'use strict';
const {spawnSync} = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const strict = process.argv.includes('--strict');
const onlyArg = process.argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
const only =
  onlyArg < 0
    ? null
    : process.argv[onlyArg].startsWith('--only=')
      ? process.argv[onlyArg].slice('--only='.length)
      : (process.argv[onlyArg + 1] ?? '');
if (only != null && only !== 'cuda' && only !== 'tensorflow') {
  console.error(`build-native: --only takes 'cuda' or 'tensorflow', got '${only}'`);
  process.exit(2);
}
const say = (msg) => console.log(`tfjs-delta: ${msg}`);
let failed = false;

function done(ok, msg) {
  say(msg);
  if (!ok) failed = true;
}

function findNvcc() {
  const candidates = [process.env.CUDACXX, process.env.CUDA_PATH && path.join(process.env.CUDA_PATH, 'bin', 'nvcc')];
  for (const dir of (process.env.PATH || '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((p) => p && fs.existsSync(p));
}

/**
 * Runs cmake-js on `dir` into `out` (configuring afresh where there is no build file yet) and returns null on
 * success, else why it failed, from our CMake messages ("tfjs-delta: ... not found") or the first error line.
 */
function cmakeJs(cmakeJsBin, dir, out, defines, fresh = false) {
  // 'build' only reconfigures when CMake asks; an earlier failed configure (say, before cuDNN was there) leaves
  // the build folder without a build file, so configure afresh whenever there is none (or `fresh` asks).
  const configured = !fresh && ['build.ninja', 'Makefile'].some((f) => fs.existsSync(path.join(out, f)));
  const args = [cmakeJsBin, configured ? 'build' : 'rebuild', '--directory', dir, '--out', out, ...defines];
  const r = spawnSync(process.execPath, args, {cwd: root, encoding: 'utf8', maxBuffer: 64 << 20});
  const log = `${r.stdout || ''}${r.stderr || ''}`;
  fs.mkdirSync(out, {recursive: true});
  fs.writeFileSync(path.join(out, 'build-native.log'), log);
  if (r.status === 0) return null;
  // CMake wraps our message over several lines: join them up to the blank line that ends it.
  const lines = log.split('\n');
  const at = lines.findIndex((l) => /tfjs-delta: .* not found/.test(l));
  if (at >= 0) {
    const end = lines.findIndex((l, i) => i > at && l.trim() === '');
    return lines
      .slice(at, end < 0 ? undefined : end)
      .join(' ')
      .replace(/\s+/g, ' ')
      .replace(/^.*?tfjs-delta:\s*/, '')
      .replace(/\s*Call Stack.*$/, '');
  }
  return (lines.find((l) => /error|Error/.test(l)) || `cmake-js exited with ${r.status}`).trim();
}

function buildCuda(cmakeJsBin) {
  const nvcc = findNvcc();
  if (!nvcc) {
    return done(
      false,
      "no CUDA toolkit found (nvcc not in CUDACXX, PATH or /usr/local/cuda/bin): the 'cuda' backend is unavailable",
    );
  }
  const t0 = Date.now();
  const defines = [`--CDCMAKE_CUDA_COMPILER=${nvcc}`];
  if (process.env.TFJS_DELTA_CUDA_ARCHS) defines.push(`--CDTFJS_DELTA_CUDA_ARCHS=${process.env.TFJS_DELTA_CUDA_ARCHS}`);
  const why = cmakeJs(cmakeJsBin, root, path.join(root, 'build'), defines);
  if (why != null) return done(false, `native 'cuda' backend not built: ${why} (full log: build/build-native.log)`);
  done(
    true,
    `native 'cuda' backend built with ${nvcc} in ${((Date.now() - t0) / 1000).toFixed(1)} s: build/Release/tfjs_delta_cuda.node`,
  );
}

function buildTensorflow(cmakeJsBin) {
  if (process.platform !== 'linux') {
    return done(false, `the native 'tensorflow' ops are built on Linux only (this is ${process.platform})`);
  }
  let tfjsNode = process.env.TFJS_NODE_DIR;
  if (!tfjsNode) {
    try {
      tfjsNode = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json', {paths: [root]}));
    } catch {
      return done(
        false,
        "@tensorflow/tfjs-node is not installed: the native 'tensorflow' ops are not built (delta ops on tfjs-node run as TF ops)",
      );
    }
  }
  if (!fs.existsSync(path.join(tfjsNode, 'deps', 'lib', 'libtensorflow_framework.so.2'))) {
    return done(
      false,
      `tfjs-node's libtensorflow is not in ${path.join(tfjsNode, 'deps', 'lib')} yet (tfjs-node's own install ` +
        "downloads it): the native 'tensorflow' ops are not built; run `npm rebuild tfjs-delta` after it",
    );
  }
  const t0 = Date.now();
  // Configured afresh each time (about 2 s): the tfjs-node it is built against may have moved.
  const why = cmakeJs(
    cmakeJsBin,
    root,
    path.join(root, 'build-tensorflow'),
    ['--CDTFJS_DELTA_PART=tensorflow', `--CDTFJS_NODE_DIR=${tfjsNode}`],
    true,
  );
  if (why != null) {
    return done(
      false,
      `native 'tensorflow' ops not built: ${why} (full log: build-tensorflow/build-native.log); delta ops on tfjs-node run as TF ops`,
    );
  }
  done(
    true,
    `native 'tensorflow' ops built in ${((Date.now() - t0) / 1000).toFixed(1)} s: build-tensorflow/Release/tfjs_delta_tensorflow.node`,
  );
}

if (process.env.TFJS_DELTA_SKIP_NATIVE === '1') {
  say('native parts not built (TFJS_DELTA_SKIP_NATIVE=1)');
  process.exit(0);
}
let cmakeJsBin = null;
try {
  cmakeJsBin = require.resolve('cmake-js/bin/cmake-js');
} catch {
  done(false, 'cmake-js is not installed: no native part is built');
}
if (cmakeJsBin != null) {
  if (only !== 'tensorflow') buildCuda(cmakeJsBin);
  if (only !== 'cuda') buildTensorflow(cmakeJsBin);
}
process.exit(failed && strict ? 1 : 0);
