#!/usr/bin/env bash
# One GPU-machine call: where a frame of `run`'s default job goes, and the checks the delta engine still owes.
#   1. benchmarks/models/run_frame_cuda.ts on the built-in clip: wall / queued / graph-only time per frame for
#      PoseNet dense, folded and delta (run's defaults);
#   2. the same under Nsight Compute, one model at a time, every kernel node of 20 graph replays timed
#      (gpu__time_duration), summed per kernel name by benchmarks/gpu/ncu_kernels.py;
#   3. `tfjs-delta run --compare` on the built-in clip, layer statistics on (the default) and off;
#   4. ResNet-50 pose 576x768 batch 32 (benchmarks/models/delta_memory.ts) with the GPU held to 40 GB: a ballast
#      process takes the rest of the device's memory first, so an allocation past 40 GB fails.
#   ab: step 1 again with the variables of AB set (VAR=VALUE words, named AB_NAME in the results' names; default
#      TFJS_DELTA_CUDA_SMALL_CONV_BLOCKS=0, small_conv0), after step 1 with the defaults: a change's A/B on the clip.
# Parts (arguments; default the first four, which can exceed one device call's 10 minutes): frame ncu compare memory
# ab.
# Carry .device, dist, build/Release, .cache/human-models (or set TFJS_DELTA_CACHE), an ffmpeg (TFJS_DELTA_FFMPEG)
# and vtest frames at 576x768 (TFJS_DELTA_VTEST_FRAMES, from delta_vtest_torch.py frames) for step 4, and begin with
# `source .device/unpack.sh &&`. Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" ${*:-frame ncu compare memory} "
source "$(dirname "$0")/common.sh"
if want frame; then
  step "run_frame_$tag" 120 node dist/benchmarks/models/run_frame_cuda.js --out "$out/run_frame_$tag.json"
  grep -E "graph nodes|speed-up|delta model" "$out/run_frame_$tag.log"
fi
if want ab; then
  read -ra ab <<< "${AB:-TFJS_DELTA_CUDA_SMALL_CONV_BLOCKS=0}"
  ab_name=${AB_NAME:-small_conv0}
  want frame || step "run_frame_$tag" 120 node dist/benchmarks/models/run_frame_cuda.js --out "$out/run_frame_$tag.json"
  step "run_frame_${ab_name}_$tag" 120 env "${ab[@]}" node dist/benchmarks/models/run_frame_cuda.js \
    --out "$out/run_frame_${ab_name}_$tag.json"
  for name in "run_frame_$tag" "run_frame_${ab_name}_$tag"; do
    echo "$name:" && grep -E "graph nodes" "$out/$name.log"
  done
fi
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
want ncu && for model in dense delta; do
  step "ncu_$model" 150 "$ncu" --profile-from-start off --graph-profiling node --clock-control none \
    --metrics gpu__time_duration.sum --csv --print-units base \
    node dist/benchmarks/models/run_frame_cuda.js --models "$model" --frames 20 --replays 20 --profile-replays 20 \
    --out "/tmp/run_frame_ncu_$model.json"
  python3 benchmarks/gpu/ncu_kernels.py "$out/ncu_$model.log" 20 > "$out/run_frame_kernels_${model}_$tag.txt" &&
    head -25 "$out/run_frame_kernels_${model}_$tag.txt"
done
want compare && for stats in "" "--no-layer-stats"; do
  step "run_compare${stats:+_nostats}_$tag" 90 node dist/src/cli/main.js --backend cuda run --compare $stats
  grep -E "^model|frames/s \(|speed-up|PCK|tail|skipped|input active|delta model measured" \
    "$out/run_compare${stats:+_nostats}_$tag.log" | sed 's/; input:.*//'
done
if want memory && [ -n "${TFJS_DELTA_VTEST_FRAMES:-}" ]; then
  hold_gpu_to 40
  step "delta_memory_40GB_$tag" 300 node dist/benchmarks/models/delta_memory.js --size 576x768 --batch 32 --offset 9 \
    --steps 6 --out "$out/delta_memory_40GB_$tag.json"
  tail -25 "$out/delta_memory_40GB_$tag.log" | cut -c1-250
  release_gpu
fi
