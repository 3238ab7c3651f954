#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, the tarball installed into an empty project with the tfjs peers it needs,
# one op run from the installed copy on 'cpu', then the native 'tensorflow' ops and the 'cuda' addon (sm_90) built
# there from the packaged sources only, so a file missing from package.json "files" fails here rather than on a
# user's machine.
# Needs `npm run build` first (the tarball ships dist/src). cuDNN / cuBLAS come from NVIDIA_WHEELS_ROOT (default
# .cache/nvidia/root, as .ci/run unpacks them); without nvcc the addon part is skipped with a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
wheels=${NVIDIA_WHEELS_ROOT:-$repo/.cache/nvidia/root}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[[ -f dist/src/index.js ]] || { echo "check-package: dist/src/index.js missing: run npm run build first" >&2; exit 1; }
tarball=$(npm pack --silent --pack-destination "$tmp" | tail -1)
echo "check-package: $tarball ($(du -h "$tmp/$tarball" | cut -f1))"

# tfjs-node is an optional peer npm does not install; the others, at the versions package.json asks for.
peers=$(node -p "const p = require('./package.json').peerDependencies;
  ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-layers'].map(n => n + '@' + p[n]).join(' ')")
cd "$tmp"
npm init -y >/dev/null
# The addon is built below, once, for one arch and with --strict; the install script would build it for every arch.
# shellcheck disable=SC2086
TFJS_DELTA_SKIP_NATIVE=1 npm install --no-audit --no-fund --loglevel=error "./$tarball" $peers

node -e "
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const where = require.resolve('tfjs-delta');
if (!where.startsWith(process.cwd())) throw new Error('tfjs-delta resolved outside the test project: ' + where);
const delta = require('tfjs-delta');
(async () => {
  await tf.setBackend('cpu');
  const x = tf.randomNormal([2, 9, 11, 3], 0, 1, 'float32', 1);
  const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2);
  const err = tf.max(tf.abs(tf.sub(delta.deltaConv2d(x, w, 2, 'same'), tf.conv2d(x, w, 2, 'same')))).dataSync()[0];
  if (!(err < 1e-5)) throw new Error('deltaConv2d vs tf.conv2d from the installed package: max error ' + err);
  console.log('check-package: deltaConv2d from ' + where + ' on cpu: max error vs tf.conv2d ' + err);
})().catch(e => { console.error(e); process.exit(1); });
"

cd node_modules/tfjs-delta
# The native 'tensorflow' ops from the packaged sources, against the repository's tfjs-node (set up by then).
tfjs_node=$repo/node_modules/@tensorflow/tfjs-node
if [[ -f $tfjs_node/deps/lib/libtensorflow_framework.so.2 ]]; then
  if ! TFJS_NODE_DIR=$tfjs_node node scripts/build-native.js --only tensorflow --strict; then
    tail -n 40 build-tensorflow/build-native.log >&2 || true
    exit 1
  fi
  echo "check-package: build-tensorflow/Release/tfjs_delta_tensorflow.node built from the installed package"
else
  echo "WARNING: tfjs-node's libtensorflow is not set up: the native 'tensorflow' ops were not built from the package"
fi

if ! command -v nvcc >/dev/null && [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  echo "WARNING: no nvcc on this machine: the addon was not built from the installed package"; exit 0
fi
if ! TFJS_DELTA_CUDA_ARCHS=90 NVIDIA_WHEELS_ROOT="$wheels" node scripts/build-native.js --only cuda --strict; then
  tail -n 40 build/build-native.log >&2 || true
  exit 1
fi
addon=build/Release/tfjs_delta_cuda.node
[[ -f $addon ]] || { echo "check-package: $addon missing in the installed package after the build" >&2; exit 1; }
echo "check-package: $addon built from the installed package ($(du -h "$addon" | cut -f1))"
