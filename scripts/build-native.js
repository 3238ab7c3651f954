#!/usr/bin/env node
/*
 * Builds the native addon of the 'cuda' backend (build/Release/tfjs_delta_cuda.node) with cmake-js, from
 * `npm install` (the package's install script) or by hand. It never fails the install: without a CUDA toolkit,
 * or without cuDNN / cuBLAS, it prints one line saying what is missing and the package stays CPU-only.
 *
 * Environment: TFJS_DELTA_SKIP_NATIVE=1 skips the build; TFJS_DELTA_CUDA_ARCHS restricts the GPU targets
 * (e.g. "90"); CUDNN_ROOT / CUBLAS_ROOT / NVIDIA_WHEELS_ROOT say where cuDNN and cuBLAS are (see CMakeLists.txt);
 * CUDACXX names the nvcc to use. With --strict it exits non-zero on failure (CI).
 */
'use strict';
const {spawnSync} = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const strict = process.argv.includes('--strict');
const say = (msg) => console.log(`tfjs-delta: ${msg}`);

function done(ok, msg) {
  say(msg);
  process.exit(!ok && strict ? 1 : 0);
}

function findNvcc() {
  const candidates = [process.env.CUDACXX, process.env.CUDA_PATH && path.join(process.env.CUDA_PATH, 'bin', 'nvcc')];
  for (const dir of (process.env.PATH || '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((p) => p && fs.existsSync(p));
}

if (process.env.TFJS_DELTA_SKIP_NATIVE === '1')
  done(true, "native 'cuda' backend not built (TFJS_DELTA_SKIP_NATIVE=1); CPU-only install");
const nvcc = findNvcc();
if (!nvcc) {
  done(
    false,
    "no CUDA toolkit found (nvcc not in CUDACXX, PATH or /usr/local/cuda/bin): installed CPU-only, the 'cuda' backend is unavailable",
  );
}
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  done(false, "cmake-js is not installed: installed CPU-only, the 'cuda' backend is unavailable");
}

const t0 = Date.now();
// 'build' only reconfigures when CMake asks; an earlier failed configure (say, before cuDNN was there)
// leaves build/ without a build file, so configure afresh whenever there is none.
const configured = ['build.ninja', 'Makefile'].some((f) => fs.existsSync(path.join(root, 'build', f)));
const args = [cmakeJs, configured ? 'build' : 'rebuild', '--directory', root, `--CDCMAKE_CUDA_COMPILER=${nvcc}`];
if (process.env.TFJS_DELTA_CUDA_ARCHS) args.push(`--CDTFJS_DELTA_CUDA_ARCHS=${process.env.TFJS_DELTA_CUDA_ARCHS}`);
const r = spawnSync(process.execPath, args, {cwd: root, encoding: 'utf8', maxBuffer: 64 << 20});
const log = `${r.stdout || ''}${r.stderr || ''}`;
fs.mkdirSync(path.join(root, 'build'), {recursive: true});
fs.writeFileSync(path.join(root, 'build', 'build-native.log'), log);
if (r.status !== 0) {
  // Our CMakeLists states missing cuDNN / cuBLAS in one "tfjs-delta: ..." message; otherwise show the first error.
  // CMake wraps that message over several lines: join them up to the blank line that ends it.
  const lines = log.split('\n');
  const at = lines.findIndex((l) => /tfjs-delta: .* not found/.test(l));
  let why;
  if (at >= 0) {
    const end = lines.findIndex((l, i) => i > at && l.trim() === '');
    why = lines
      .slice(at, end < 0 ? undefined : end)
      .join(' ')
      .replace(/\s+/g, ' ')
      .replace(/^.*?tfjs-delta:\s*/, '')
      .replace(/\s*Call Stack.*$/, '');
  } else {
    why = (lines.find((l) => /error|Error/.test(l)) || `cmake-js exited with ${r.status}`).trim();
  }
  done(false, `native 'cuda' backend not built: ${why} (full log: build/build-native.log); installed CPU-only`);
}
done(
  true,
  `native 'cuda' backend built with ${nvcc} in ${((Date.now() - t0) / 1000).toFixed(1)} s: build/Release/tfjs_delta_cuda.node`,
);
