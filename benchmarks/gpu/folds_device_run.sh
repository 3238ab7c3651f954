#!/usr/bin/env bash
# One device call: what folding Keras' activation and padding layers into the convs does on 'cuda'. nsfwjs's
# MobileNetV2 at 576x768, batch 8, at the fidelity bar's point (threshold 0.2, input test 0.1 x 7: ~80% of the
# multiply-adds skipped at top-1 100% on tfjs-node), every fold (the default) against batch norms only
# (--no-fold-activations --no-fold-padding), each against its own folded dense reference; the folding tests on 'cuda';
# the pointwise work-list block (TFJS_DELTA_CUDA_POINTWISE=1) with every fold; the input change test alone
# (benchmarks/ops/delta_sparsify_cuda.ts).
# Carry .device, dist, build/Release and .scratch/media (vtest.avi, nsfwjs_mobilenet_v2: MEDIA); begin with
# `source .device/unpack.sh &&`. Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
[ -d "$media/nsfwjs_mobilenet_v2" ] && cp "$media"/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
vtest_frames "$media/vtest.avi" 576x768 || exit 1
run=(node dist/benchmarks/models/delta_vtest.js run --backend cuda --compiled --offset 37 --frames 20 --warmup 8
  --stats-frames 5 --models mobilenet_v2 --sizes 576x768 --profile-calls --batch 8 --thresholds mobilenet_v2=0.2
  --inputs 0.1x7)
mobilenet() {
  local folds=$1 pointwise=$2 extra=()
  [ "$folds" = bn_only ] && extra=(--no-fold-activations --no-fold-padding)
  local name="delta_vtest_mobilenet_v2_576x768_batch8_folds_${folds}_pointwise${pointwise}_$tag"
  TFJS_DELTA_CUDA_POINTWISE=$pointwise step "$name" 110 "${run[@]}" "${extra[@]}" --out "$out/$name.json"
  grep -E "^mobilenet|delta t=" "$out/$name.log" | cut -c1-300
}
mobilenet all 0
mobilenet bn_only 0
TFJS_DELTA_TEST_BACKENDS=cuda step "fold_tests_$tag" 100 "${mocha[@]}" dist/test/delta/fold_batch_norm.test.js
grep -E "passed, .* failed" "$out/fold_tests_$tag.log"
mobilenet all 1
step "delta_sparsify_$tag" 60 node dist/benchmarks/ops/delta_sparsify_cuda.js "$out"
grep -E "^\|" "$out/delta_sparsify_$tag.log"
