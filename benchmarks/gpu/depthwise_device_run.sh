#!/usr/bin/env bash
# The dense depthwise kernel (native/cuda/depthwise.cu) against cuDNN's grouped conv, in one device call:
#   tests    its parity cases on 'cuda' (both paths, float and half storage, whole LayersModels) and the compiled-stream
#            suite with it on;
#   bench    benchmarks/ops/depthwise_cuda.ts: MobileNet depthwise layers, own vs cuDNN GPU time in the same run;
#   frame    benchmarks/models/run_frame_cuda.ts (run's default job: PoseNet at 289x385 on the built-in clip, dense and
#            delta, graph time per frame) with TFJS_DELTA_CUDA_DEPTHWISE=0 and =1 (the default);
#   compare  `tfjs-delta run --compare` on the built-in clip, each way (needs an ffmpeg: TFJS_DELTA_FFMPEG);
#   vtest    PoseNet 577x769 batch 8 compiled, dense vs delta, each way (needs TFJS_DELTA_VTEST_FRAMES at 577x769).
# DEPTHWISE_WAYS (default "0 1") narrows the ways run.
# Carry .device, dist, build/Release and .cache/human-models; begin with `source .device/unpack.sh &&`. Parts:
# arguments (default tests bench frame). Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" ${*:-tests bench frame} "
source "$(dirname "$0")/common.sh"
if want tests; then
  TFJS_DELTA_TEST_BACKENDS=cuda step "depthwise_tests_$tag" 200 "${mocha[@]}" \
    dist/test/backends/cuda/*.test.js dist/test/stream/compile_stream.test.js
  grep -E "passed, .* failed" "$out/depthwise_tests_$tag.log"
  grep -E "^  [0-9]+\) " -A8 "$out/depthwise_tests_$tag.log" | cut -c1-240 | head -50
fi
if want bench; then
  step "depthwise_$tag" 90 node dist/benchmarks/ops/depthwise_cuda.js "$out"
  grep -E "^\|" "$out/depthwise_$tag.log" | tail -24
fi
for dw in ${DEPTHWISE_WAYS:-0 1}; do
  if want frame; then
    TFJS_DELTA_CUDA_DEPTHWISE=$dw step "run_frame_depthwise${dw}_$tag" 90 node dist/benchmarks/models/run_frame_cuda.js \
      --models dense,delta --replays 200 --out "$out/run_frame_depthwise${dw}_$tag.json"
    grep -E "graph nodes|speed-up|ms" "$out/run_frame_depthwise${dw}_$tag.log" | head -12 | cut -c1-200
  fi
  if want compare; then
    TFJS_DELTA_CUDA_DEPTHWISE=$dw step "run_compare_depthwise${dw}_$tag" 60 node dist/src/cli/main.js --backend cuda run \
      --compare
    grep -E "frames/s|speed-up|median|PCK|delta model measured" "$out/run_compare_depthwise${dw}_$tag.log" | cut -c1-200
  fi
  if want vtest && [ -n "${TFJS_DELTA_VTEST_FRAMES:-}" ]; then
    TFJS_DELTA_CUDA_DEPTHWISE=$dw posenet_vtest "delta_vtest_posenet_batch8_depthwise${dw}_$tag" 150 577x769 8 20
  fi
done
