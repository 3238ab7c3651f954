#!/usr/bin/env bash
# One device call: pixel lists (native/cuda/pixel_list.cuh) in sparseAccumulate and the fused depthwise block, on
# (TFJS_DELTA_CUDA_PIXEL_LISTS=1, the default) against off (the pixel groups over every pixel):
#   1. their tests on 'cuda' (test/backends/cuda/pixel_lists.test.ts, the op suites of both kernels and of the input
#      test, the 'cuda' delta and pointwise suites);
#   2. MobileNetV2 576x768 batch 8 at threshold 0.2 / input 0.1x7 (with a 0.5 dense tail too), off and on;
#   3. benchmarks/ops/delta_accumulate_cuda.ts with the lists off and on (PoseNet's layers, 0-100% active);
#   4. the delta stream with the lists on under Nsight Compute, every kernel node of 10 steps timed.
# Carry .device, dist, build/Release and .scratch/media (vtest.avi, nsfwjs_mobilenet_v2: MEDIA); begin with
# `source .device/unpack.sh &&`. Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
[ -d "$media/nsfwjs_mobilenet_v2" ] && cp "$media"/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
TFJS_DELTA_TEST_BACKENDS=cuda step "pixel_lists_tests_$tag" 240 "${mocha[@]}" \
  dist/test/backends/cuda/pixel_lists.test.js dist/test/backends/cuda/pointwise.test.js \
  dist/test/backends/cuda/delta.test.js dist/test/ops/fused_delta_depthwise_conv2d.test.js \
  dist/test/ops/sparse_accumulate.test.js dist/test/ops/delta_sparsify.test.js
grep -E "passed, .* failed" "$out/pixel_lists_tests_$tag.log"
grep -E "^  [0-9]+\) " -A8 "$out/pixel_lists_tests_$tag.log" | cut -c1-240 | head -40
vtest_frames "$media/vtest.avi" 576x768 || exit 1
run=(node dist/benchmarks/models/delta_vtest.js run --backend cuda --compiled --offset 37 --models mobilenet_v2
  --sizes 576x768 --batch 8 --thresholds mobilenet_v2=0.2 --inputs 0.1x7)
for lists in 0 1; do
  name="delta_vtest_mobilenet_v2_576x768_batch8_lists${lists}_$tag"
  TFJS_DELTA_CUDA_PIXEL_LISTS=$lists step "$name" 150 "${run[@]}" --frames 20 --warmup 8 --stats-frames 5 \
    --dense-above 0.5 --out "$out/$name.json"
  grep -E "^mobilenet|delta t=" "$out/$name.log" | cut -c1-330
done
for lists in 0 1; do
  mkdir -p "$out/lists$lists"
  TFJS_DELTA_CUDA_PIXEL_LISTS=$lists step "delta_accumulate_lists${lists}_$tag" 150 \
    node dist/benchmarks/ops/delta_accumulate_cuda.js "$out/lists$lists"
  grep -E "^\| (depthwise|accumulate)" "$out/delta_accumulate_lists${lists}_$tag.log" | cut -d'|' -f3-6,9-11
done
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
TFJS_DELTA_CUDA_PIXEL_LISTS=1 step "ncu_mobilenet_v2_delta" 200 "$ncu" --profile-from-start off --graph-profiling node --clock-control none \
  --metrics gpu__time_duration.sum --csv --print-units base \
  "${run[@]}" --frames 19 --warmup 8 --stats-frames 1 --ncu-steps 10 --ncu-variant delta --out /tmp/ncu.json
python3 benchmarks/gpu/ncu_kernels.py "$out/ncu_mobilenet_v2_delta.log" 10 --in-order \
  > "$out/ncu_kernels_mobilenet_v2_delta_$tag.txt" && head -22 "$out/ncu_kernels_mobilenet_v2_delta_$tag.txt"
