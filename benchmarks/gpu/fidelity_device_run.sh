#!/usr/bin/env bash
# What the fidelity bar allows, on the GPU, in one device call: the batch-norm folding suites on 'cuda', then
# `delta_vtest.js run` at the issue's batch 8 with the dense model's noise floor: PoseNet at 577x769 and MobileNetV2 at
# 576x768 over input change tests from exact to 0.1 x 7, each timed against the folded dense model in the same run.
# Carry .device, dist, build/Release, .cache/human-models and .scratch/media (vtest.avi, nsfwjs_mobilenet_v2); begin
# with `source .device/unpack.sh &&`. Results go to $OUT (default benchmarks/results); render the tables and plots
# afterwards on the build machine: `node dist/benchmarks/models/delta_vtest.js report <results.json>`.
set -uo pipefail
parts=" "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
[ -d "$media/nsfwjs_mobilenet_v2" ] && cp "$media"/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
vtest_frames "$media/vtest.avi" 577x769,576x768 || exit 1
TFJS_DELTA_TEST_BACKENDS=cuda step "fold_batch_norm_tests_$tag" 120 "${mocha[@]}" dist/test/delta/fold_batch_norm.test.js \
  dist/test/pipeline/fallback.test.js
grep -E "passed, .* failed" "$out/fold_batch_norm_tests_$tag.log"
run=(node dist/benchmarks/models/delta_vtest.js run --backend cuda --compiled --batch 8 --offset 37 --frames 20 --warmup 8
  --stats-frames 5 --inputs 0x1,0.02x7,0.05x7,0.1x7 --noise-floor 0.005,0.01,0.02)
for case in "posenet 577x769 posenet=0.05,0.2" "mobilenet_v2 576x768 mobilenet_v2=0.1,0.2"; do
  read -r model size thresholds <<< "$case"
  name="delta_vtest_${model}_fidelity_${size}_batch8_$tag"
  step "$name" 240 "${run[@]}" --models "$model" --sizes "$size" --thresholds "$thresholds" --out "$out/$name.json"
  grep -E "^$model|dense \+ noise|delta t=" "$out/$name.log" | cut -c1-250
done
