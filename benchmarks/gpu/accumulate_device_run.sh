#!/usr/bin/env bash
# The delta engine's per-pixel kernels (the fused depthwise block, native/cuda/delta_fused.cu, and sparseAccumulate,
# native/cuda/delta_accumulate.cu), in one device call:
#   tests  the op suites (test/ops) on 'cuda', each case against the 'cpu' reference;
#   bench  benchmarks/ops/delta_accumulate_cuda.ts: PoseNet's layers at 289x385 batch 1 and 577x769 batch 8, each
#          kernel against its dense counterpart in the same run, 0-100% of 16x16 input tiles active.
# Carry .device, dist and build/Release; begin with `source .device/unpack.sh &&`. Parts: arguments (default both).
# Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" ${*:-tests bench} "
source "$(dirname "$0")/common.sh"
if want tests; then
  TFJS_DELTA_TEST_BACKENDS=cuda step "ops_tests_cuda_$tag" 240 "${mocha[@]}" dist/test/ops/*.test.js
  grep -E "passed, .* failed" "$out/ops_tests_cuda_$tag.log"
  grep -E "^  [0-9]+\) " -A8 "$out/ops_tests_cuda_$tag.log" | cut -c1-240 | head -40
fi
if want bench; then
  step "delta_accumulate_$tag" 150 node dist/benchmarks/ops/delta_accumulate_cuda.js "$out"
  grep -E "^\|" "$out/delta_accumulate_$tag.log"
fi
