#!/usr/bin/env bash
# One device call: where a delta model's compiled frame goes on the GPU, kernel by kernel, against the folded dense
# model's. MODEL (default mobilenet_v2) at SIZE (576x768), batch BATCH (8), threshold T (0.2), input test INPUT
# (0.1x7): first timed as delta_vtest times it (with a 0.5 dense tail too), then under Nsight Compute twice, the
# folded dense stream and the delta stream each stepped 10 frames inside the profiler's range (delta_vtest
# --ncu-steps), every kernel node timed (gpu__time_duration). ncu_kernels.py sums each log per kernel name; the raw
# logs keep the launches in graph order (one layer after another).
# Carry .device, dist, build/Release and .scratch/media (vtest.avi, nsfwjs_mobilenet_v2: MEDIA); begin with
# `source .device/unpack.sh &&`. Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
model=${MODEL:-mobilenet_v2} size=${SIZE:-576x768} batch=${BATCH:-8} t=${T:-0.2} input=${INPUT:-0.1x7}
[ -d "$media/nsfwjs_mobilenet_v2" ] && cp "$media"/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
vtest_frames "$media/vtest.avi" "$size" || exit 1
run=(node dist/benchmarks/models/delta_vtest.js run --backend cuda --compiled --offset 37 --models "$model"
  --sizes "$size" --batch "$batch" --thresholds "$model=$t" --inputs "$input")
name="delta_vtest_${model}_${size}_batch${batch}_t${t}_$tag"
step "$name" 150 "${run[@]}" --frames 20 --warmup 8 --stats-frames 5 --dense-above 0.5 --out "$out/$name.json"
grep -E "^$model|delta t=" "$out/$name.log" | cut -c1-330
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for variant in folded delta; do
  step "ncu_${model}_$variant" 200 "$ncu" --profile-from-start off --graph-profiling node --clock-control none \
    --metrics gpu__time_duration.sum --csv --print-units base \
    "${run[@]}" --frames 19 --warmup 8 --stats-frames 1 --ncu-steps 10 --ncu-variant "$variant" --out /tmp/ncu.json
  python3 benchmarks/gpu/ncu_kernels.py "$out/ncu_${model}_$variant.log" 10 --in-order > "$out/ncu_kernels_${model}_${variant}_$tag.txt" &&
    head -22 "$out/ncu_kernels_${model}_${variant}_$tag.txt"
done
