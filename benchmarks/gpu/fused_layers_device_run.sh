#!/usr/bin/env bash
# tf.layers classes on fused ops (src/layers/fused_layers.ts: relu6 as one kernel, Conv2D and DepthwiseConv2D
# with bias and activation fused) against tfjs-layers' own, in one device call: their tests on 'cuda', then PoseNet
# dense vs delta (compiled, trained weights, vtest.avi) at 289x385 batch 1 (the built-in clip's size) and 577x769
# batch 8, each with TFJS_DELTA_LAYERS_FUSED=0 and =1. Carry .device, dist, build/Release,
# .cache/human-models and vtest.avi (MEDIA, default .scratch/media); begin with `source .device/unpack.sh &&`.
# Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
vtest_frames "$media/vtest.avi" 289x385,577x769 || exit 1
TFJS_DELTA_TEST_BACKENDS=cuda step "fused_layers_tests_$tag" 90 "${mocha[@]}" dist/test/layers/fused_layers.test.js \
  dist/test/backends/cuda/model.test.js
grep -E "passed, .* failed" "$out/fused_layers_tests_$tag.log"
grep -E "^  [0-9]+\) " -A8 "$out/fused_layers_tests_$tag.log" | cut -c1-240 | head -30
for r in 0 1; do
  for case in "289x385 1 40 60" "577x769 8 20 120"; do
    read -r size batch frames limit <<< "$case"
    TFJS_DELTA_LAYERS_FUSED=$r posenet_vtest "delta_vtest_posenet_${size}_batch${batch}_fused_layers_${r}_$tag" \
      "$limit" "$size" "$batch" "$frames"
  done
done
