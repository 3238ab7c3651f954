#!/usr/bin/env bash
# Makes `require('@tensorflow/tfjs-node')` work on machines that cannot reach Google's storage host.
#
# tfjs-node's install script downloads libtensorflow 2.9.1 from storage.googleapis.com, which these
# machines cannot reach, so package.json denies it (`allowScripts: {"@tensorflow/tfjs-node": false}`)
# and `npm ci` installs the package without its binding. This script then builds the binding
# against the libtensorflow of the tensorflow-cpu 2.21.0 wheel from the configured pip index
# (../shared/research/tfjs.md §4.2):
#   1. pip download the wheel once into a gitignored cache (.cache/tf-wheel, or $TF_WHEEL_DIR);
#   2. unpack libtensorflow_cc.so.2, libtensorflow_framework.so.2 and ~14 C-API headers into
#      node_modules/@tensorflow/tfjs-node/deps, with the link names binding.gyp and install.js use;
#   3. compile the binding from source (node-pre-gyp -> node-gyp, offline against local headers);
#   4. check that the module loads and registers the 'tensorflow' backend.
# Idempotent: when the stamp matches and the module loads, it does nothing (about 1 s).
# Real users need none of this: `npm install @tensorflow/tfjs-node` downloads libtensorflow.
#
# Usage: scripts/setup-tfjs-node-offline.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."

TF_VERSION=2.21.0
WHEEL_DIR=${TF_WHEEL_DIR:-.cache/tf-wheel}
PKG=node_modules/@tensorflow/tfjs-node
DEPS=$PKG/deps
STAMP=$DEPS/.tfjs-delta-offline-setup
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}   # quiet TF's info logs on load

t_start=$SECONDS
timed() {  # timed <label> <command...>: runs it and prints how long it took
  local label=$1 t0=$SECONDS; shift
  "$@"
  echo "setup-tfjs-node: $label took $((SECONDS - t0)) s"
}
die() { echo "setup-tfjs-node: error: $*" >&2; exit 1; }

loads() {
  node -e "
    const tf = require('@tensorflow/tfjs-node');
    if (tf.findBackend('tensorflow') == null) throw new Error('no tensorflow backend');
    console.log('setup-tfjs-node: tfjs-node loads, TF ' + tf.backend().binding.TF_Version);"
}

[[ -d $PKG ]] || die "$PKG is missing: run 'npm ci' first (@tensorflow/tfjs-node is a devDependency)"
want_stamp="tensorflow-cpu==$TF_VERSION tfjs-node@$(node -p "require('./$PKG/package.json').version") node@$(node -p process.versions.node)"

if [[ ${1:-} != --force && -f $STAMP && "$(cat "$STAMP")" == "$want_stamp" ]] && loads 2>/dev/null; then
  echo "setup-tfjs-node: already set up ($want_stamp); nothing to do ($((SECONDS - t_start)) s)"
  exit 0
fi

# 1. The wheel (274 MB), cached outside node_modules so that `npm ci` keeps it.
wheel() { compgen -G "$WHEEL_DIR/tensorflow_cpu-$TF_VERSION-*.whl" | head -n 1 || true; }
if [[ -z "$(wheel)" ]]; then
  mkdir -p "$WHEEL_DIR"
  # The libraries inside do not depend on the Python version; pin the wheel's tags so that any
  # python3 can fetch it.
  timed "pip download tensorflow-cpu==$TF_VERSION" \
    python3 -m pip download "tensorflow-cpu==$TF_VERSION" --no-deps --only-binary=:all: \
      --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_27_x86_64 \
      --dest "$WHEEL_DIR" --quiet --retries 0 ||
    die "could not download tensorflow-cpu==$TF_VERSION from the configured pip index"
fi
WHL=$(wheel)
[[ -n $WHL ]] || die "no tensorflow_cpu-$TF_VERSION wheel in $WHEEL_DIR"
echo "setup-tfjs-node: wheel $WHL"

# 2. deps/: the two shared libraries and the C-API headers the binding includes.
unpack() {
  rm -rf "$DEPS"
  mkdir -p "$DEPS/lib" "$DEPS/include"
  unzip -q -j -o "$WHL" 'tensorflow/libtensorflow_cc.so.2' 'tensorflow/libtensorflow_framework.so.2' -d "$DEPS/lib"
  ln -sf libtensorflow_cc.so.2 "$DEPS/lib/libtensorflow.so"               # -ltensorflow
  ln -sf libtensorflow_framework.so.2 "$DEPS/lib/libtensorflow_framework.so"
  ln -sf libtensorflow_cc.so.2 "$DEPS/lib/libtensorflow.so.2.9.1"         # what install.js checks: no download
  local tmp
  tmp=$(mktemp -d)
  unzip -q -o "$WHL" 'tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/*' \
    'tensorflow/include/tsl/platform/*' 'tensorflow/include/xla/tsl/c/*' -d "$tmp"
  cp -r "$tmp"/tensorflow/include/* "$DEPS/include/"
  rm -rf "$tmp"
}
timed "unpack libtensorflow into $DEPS" unpack

# 3. Build the binding from source. node-gyp must find the Node headers locally (no download).
if [[ -z ${npm_config_nodedir:-} ]]; then
  node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  nodedir=$(npm config get nodedir 2>/dev/null || true)
  if [[ -n $nodedir && $nodedir != undefined && -f $nodedir/include/node/node_api.h ]]; then
    export npm_config_nodedir=$nodedir
  elif [[ -f $node_prefix/include/node/node_api.h ]]; then
    export npm_config_nodedir=$node_prefix
  fi
fi
if [[ -z ${npm_config_node_gyp:-} ]]; then
  npm_cli=$(readlink -f "$(command -v npm)")
  gyp=$(dirname "$(dirname "$npm_cli")")/node_modules/node-gyp/bin/node-gyp.js
  if [[ -f $gyp ]]; then export npm_config_node_gyp=$gyp; fi
fi
build() {
  (cd "$PKG" && rm -rf build lib &&
    ../../.bin/node-pre-gyp install --build-from-source --loglevel=warn >/dev/null)
}
timed "build the tfjs-node binding (nodedir=${npm_config_nodedir:-default})" build ||
  die "building the binding failed; rerun with output: (cd $PKG && ../../.bin/node-pre-gyp install --build-from-source)"

# 4. Check and stamp.
loads || die "the binding was built but @tensorflow/tfjs-node does not load"
echo "$want_stamp" > "$STAMP"
echo "setup-tfjs-node: done in $((SECONDS - t_start)) s"
