#!/usr/bin/env bash
# Half-precision delta state (statePrecision 'fp16') on the GPU machine, in one device call:
#   tests   the op suites (the accumulator's with half state), the 'cuda' backend's suites (half storage), the
#           state-precision and compiled-stream suites, and the fp16 sequences over 200 vtest frames (PoseNet eager and
#           compiled, ResNet-50 pose two streams) on 'cuda' against 'cpu' / dense;
#   memory  ResNet-50 pose 576x768 batch 32 with the GPU held to 40 GB (a ballast process takes the rest first),
#           every layer delta and with the dense tail, fp16 state (benchmarks/models/delta_memory.ts);
#   speed   PoseNet 577x769 batch 8, compiled, float32 against fp16 state in the same run (delta_vtest.ts).
# Carry .device, dist, build/Release, .cache/human-models and vtest frames (TFJS_DELTA_VTEST_FRAMES, from
# delta_vtest_torch.py frames, 96x128 and 576x768 and 577x769); begin with `source .device/unpack.sh &&`.
# Parts: arguments (default all three). Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" ${*:-tests memory speed} "
source "$(dirname "$0")/common.sh"
if want tests; then
  TFJS_DELTA_TEST_BACKENDS=cuda step half_state_tests_$tag 180 "${mocha[@]}" dist/test/kernels/half.test.js \
    dist/test/ops/*.test.js dist/test/backends/cuda/*.test.js dist/test/delta/state_precision.test.js \
    dist/test/stream/compile_stream.test.js
  TFJS_DELTA_TEST_BACKENDS=cuda step half_state_sequences_$tag 90 "${mocha[@]}" --grep "fp16 state" \
    dist/test/delta/video_sequence.test.js
  grep -hE "passed, .* failed|max rel error" "$out/half_state_tests_$tag.log" "$out/half_state_sequences_$tag.log"
  grep -hE "^  [0-9]+\) " -A8 "$out/half_state_tests_$tag.log" "$out/half_state_sequences_$tag.log" | cut -c1-240 | head -60
fi
if want memory && [ -n "${TFJS_DELTA_VTEST_FRAMES:-}" ]; then
  hold_gpu_to 40
  step "delta_memory_40GB_fp16_$tag" 230 node dist/benchmarks/models/delta_memory.js --size 576x768 --batch 32 \
    --offset 9 --steps 6 --configs all:fp16,tail:fp16 --out "$out/delta_memory_40GB_fp16_$tag.json"
  grep -E "state|failed|layer|step 5|toDelta" "$out/delta_memory_40GB_fp16_$tag.log" | cut -c1-250
  release_gpu
fi
if want speed; then
  posenet_vtest "delta_vtest_posenet_batch8_state_$tag" 200 577x769 8 20 --state-precision fp32,fp16
fi
