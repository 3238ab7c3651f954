#!/usr/bin/env bash
# A native change against a base build, in one device call: the 'cuda' suites (test/backends/cuda, test/ops) with
# this build, then each benchmark twice in the same call, with the base addon (BASE_ADDON: an xz-compressed
# tfjs_delta_cuda.node, loaded through TFJS_DELTA_CUDA_ADDON) and with this build's:
#   the kernel benchmarks named in BENCHES (default delta_sparsify: benchmarks/ops/<name>_cuda.ts, results in
#   $out/base and $out), and MobileNetV2 (nsfwjs) on vtest.avi at the fidelity bar's point (threshold 0.2, input test
#   0.1x7) at 576x768 batch 8 and batch 1 (each run times our compiled dense model, folded and not, beside the delta one).
# Make the base from the build before the change (e.g. `xz -c build/Release/tfjs_delta_cuda.node >
# .scratch/base/tfjs_delta_cuda.node.xz` before rebuilding). Carry .device, dist, build/Release, the base and
# .scratch/media (vtest.avi, nsfwjs_mobilenet_v2: MEDIA); begin with `source .device/unpack.sh &&`. Results go to $OUT
# (default benchmarks/results).
set -uo pipefail
parts=" "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
base_xz=${BASE_ADDON:-.scratch/base/tfjs_delta_cuda.node.xz}
[[ -f $base_xz ]] || { echo "no base addon at $base_xz" >&2; exit 1; }
base=/tmp/base_addon/tfjs_delta_cuda.node
mkdir -p /tmp/base_addon && xz -dc "$base_xz" > "$base"
[[ -d $media/nsfwjs_mobilenet_v2 ]] && cp "$media"/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
TFJS_DELTA_TEST_BACKENDS=cuda step "cuda_suites_$tag" 240 "${mocha[@]}" dist/test/backends/cuda/*.test.js dist/test/ops/*.test.js
grep -E "passed, .* failed" "$out/cuda_suites_$tag.log"
grep -E "^  [0-9]+\) " -A8 "$out/cuda_suites_$tag.log" | cut -c1-240 | head -40
for bench in ${BENCHES:-delta_sparsify}; do
  mkdir -p "$out/base"
  TFJS_DELTA_CUDA_ADDON=$base step "${bench}_base_$tag" 150 node "dist/benchmarks/ops/${bench}_cuda.js" "$out/base"
  step "${bench}_$tag" 150 node "dist/benchmarks/ops/${bench}_cuda.js" "$out"
  grep -E "^\| [0-9]" "$out/${bench}_base_$tag.log" | sed 's/^/base: /'
  grep -E "^\| [0-9]" "$out/${bench}_$tag.log" | sed 's/^/this: /'
done
vtest_frames "$media/vtest.avi" 576x768 || exit 1
run=(node dist/benchmarks/models/delta_vtest.js run --backend cuda --compiled --models mobilenet_v2 --sizes 576x768
  --thresholds mobilenet_v2=0.2 --inputs 0.1x7 --warmup 8 --frames 20 --stats-frames 3)
for batch in 8 1; do
  offset=$((batch > 1 ? 37 : 0))
  for which in base this; do
    name="delta_vtest_mobilenet_v2_576x768_batch${batch}_${which}_$tag"
    addon=()
    [[ $which == base ]] && addon=(TFJS_DELTA_CUDA_ADDON=$base)
    step "$name" 150 env "${addon[@]}" "${run[@]}" --batch "$batch" --offset "$offset" --out "$out/$name.json"
    grep -E "delta t=" "$out/$name.log" | sed -E 's/; profiled frame.*//' | cut -c1-200
  done
done
