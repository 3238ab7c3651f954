#!/usr/bin/env bash
# The delta engine with its defaults (pixel lists on) against the static-camera targets, in device calls of one or
# more parts (arguments; default "tests sweep"):
#   tests    the 'cuda' suites: test/backends/cuda and test/ops (each case against 'cpu'), then the video suites
#            (test/delta, test/models, test/stream: threshold-0 sequences against dense over vtest.avi frames);
#   sweep    nsfwjs's MobileNetV2 on vtest.avi at 576x768 at the fidelity bar's point (threshold 0.2, input test
#            0.1x7: top-1 100%), batch 8 and batch 1, the defaults against one knob changed at a time: lists off
#            (TFJS_DELTA_CUDA_PIXEL_LISTS=0), no cuDNN route for small grids (TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS=0),
#            the pointwise block (TFJS_DELTA_CUDA_POINTWISE=1), output channels % 32 != 0 on WMMA instead of the
#            mma kernel (TFJS_DELTA_CUDA_MMA_PARTIAL=0), global pools one thread per output instead of split over
#            their window (TFJS_DELTA_CUDA_POOL_SPLIT=0, which moves the dense reference too), tiled delta convs
#            without tile lists (TFJS_DELTA_CUDA_TILE_LISTS=0);
#   scale    the same point at 1080x1920 batch 1 and 8 and 576x768 batch 32, PoseNet 576x768 batch 8, then 1080x1920
#            batch 32 (half state on GPUs of less than 100 GB);
#   targets  the same point at 576x768 and 1080x1920, batch 8 and 1: the static-camera targets in a short call;
#   big32    the same point at 1080x1920 batch 32 alone (float32 state on a GPU of 100 GB or more, else half);
#   scaleknobs  1080x1920 batch 8 with pixel lists and with tile lists off, PoseNet with TFJS_DELTA_CUDA_MMA_PARTIAL=0 (its
#            48-channel pointwise conv on WMMA);
#   state    the same point at batch 8 with half state beside float32 (--state-precision fp32,fp16), and batch 1;
#   base     batch 8 and 1 with the addon of an earlier build (BASE_ADDON, xz-compressed; default
#            .scratch/base/tfjs_delta_cuda.node.xz) loaded through TFJS_DELTA_CUDA_ADDON: a native change's A/B;
#   route    no cuDNN route for small grids (TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS=0) against the default: the 'cuda' and
#            video suites with it, MobileNetV2 at batch 1, 8 and 32 and PoseNet at batch 8 with and without it;
#   ncu      the folded dense and the delta stream (NCU_VARIANTS) at 576x768 (NCU_SIZE) batch 8 (NCU_BATCHES="8 1":
#            each) under Nsight Compute, every kernel of 10 steps;
#   tiles    the 'cuda' and video suites with a tile list under every tiled delta conv that can take one
#            (TFJS_DELTA_CUDA_TILE_LIST_WAVES=0; by default only grids of more than two waves take them);
#   ab       batch 8, 1 and 32 (AB_BATCHES) at 576x768 (AB_SIZES="576x768 1080x1920": each) with the defaults and
#            with the variables of AB set (VAR=VALUE words, named AB_NAME in the results; default
#            TFJS_DELTA_CUDA_PDL=0, pdl0: without programmatic dependent launch);
#   knobs    batch 8 with lazy zeros only above 2^22 / 2^23 elements (TFJS_DELTA_CUDA_LAZY_ZEROS_ABOVE);
#   fusedconv  the dense FusedConv2D kernel benchmark (benchmarks/ops/fused_conv_cuda.ts: the tiled kernel with the
#            bias and activation in its store against cuDNN's conv and the bias-activation pass, per layer shape), and
#            PoseNet 576x768 batch 8 with and without that route (TFJS_DELTA_CUDA_FUSED_CONV_MAX_K=0), both models'
#            dense references moving with it (MobileNetV2: the ab part with AB=TFJS_DELTA_CUDA_FUSED_CONV_MAX_K=0);
#   detail   the per-pixel kernels (sparseAccumulate, the fused depthwise block) of one delta step under Nsight
#            Compute's throughput, occupancy and warp-state sections;
#   epilogue the accumulator in the tiled conv's epilogue (TFJS_DELTA_CUDA_MMA_ACCUMULATE=1), most needed first: its
#            parity tests, the delta conv block's kernel benchmark (benchmarks/ops/delta_block_cuda.ts: dense, split,
#            epilogue and pointwise block per layer and activity), then MobileNetV2 at 1080x1920 batch 8 and 576x768
#            batch 1 and 8 with the defaults and with it on.
# Each run times our compiled dense model, folded and not, in the same process as the delta one. Carry .device, dist,
# build/Release, .scratch/media (vtest.avi, nsfwjs_mobilenet_v2: MEDIA) and, for the video suites and PoseNet,
# .cache/human-models; begin with `source .device/unpack.sh &&`. Results go to $OUT (default benchmarks/results).
set -uo pipefail
parts=" ${*:-tests sweep} "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
[[ -d $media/nsfwjs_mobilenet_v2 ]] && cp "$media"/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
sizes=576x768
want tests || want tiles && sizes=96x128,256x256,576x768,577x769
want route && sizes=96x128,256x256,576x768,577x769
(want scale || want big32 || want scaleknobs || want targets || want epilogue) && sizes=$sizes,1080x1920
want ab && for size in ${AB_SIZES:-}; do [[ ,$sizes, == *,$size,* ]] || sizes=$sizes,$size; done
vtest_frames "$media/vtest.avi" "$sizes" || exit 1
export TFJS_DELTA_VTEST=$(cd "$media" && pwd)/vtest.avi

# suites NAME [VAR=VALUE...]: the 'cuda' suites and the video suites with the variables set.
suites() {
  local name=$1
  shift
  TFJS_DELTA_TEST_BACKENDS=cuda step "cuda_suites${name}_$tag" 240 env "$@" "${mocha[@]}" \
    dist/test/backends/cuda/*.test.js dist/test/ops/*.test.js
  grep -E "passed, .* failed" "$out/cuda_suites${name}_$tag.log"
  grep -E "^  [0-9]+\) " -A8 "$out/cuda_suites${name}_$tag.log" | cut -c1-240 | head -40
  TFJS_DELTA_TEST_BACKENDS=cuda step "video_suites_cuda${name}_$tag" 240 env "$@" "${mocha[@]}" --invert \
    --grep '\[(cpu|tensorflow)\]' dist/test/delta/*.test.js dist/test/models/*.test.js dist/test/stream/*.test.js
  grep -E "passed, .* failed" "$out/video_suites_cuda${name}_$tag.log"
  grep -E "^  [0-9]+\) " -A8 "$out/video_suites_cuda${name}_$tag.log" | cut -c1-240 | head -40
}
want tests && suites ""
want tiles && suites _tile_lists TFJS_DELTA_CUDA_TILE_LIST_WAVES=0

run=(node dist/benchmarks/models/delta_vtest.js run --backend cuda --compiled --models mobilenet_v2
  --thresholds mobilenet_v2=0.2 --inputs 0.1x7 --warmup 8)
# mobilenet NAME SIZE BATCH OFFSET [VAR=VALUE...]: one delta_vtest run with the variables set, then its summary.
mobilenet() {
  local name="delta_vtest_mobilenet_v2_$1_$tag" size=$2 batch=$3 offset=$4
  shift 4
  step "$name" 200 env "$@" "${run[@]}" --sizes "$size" --batch "$batch" --offset "$offset" --frames 20 \
    --stats-frames 3 --out "$out/$name.json"
  grep -E "delta t=" "$out/$name.log" | sed -E 's/; profiled frame.*//' | cut -c1-260
}
if want sweep; then
  mobilenet 576x768_batch8 576x768 8 37
  mobilenet 576x768_batch8_lists0 576x768 8 37 TFJS_DELTA_CUDA_PIXEL_LISTS=0
  mobilenet 576x768_batch8_dense_below0 576x768 8 37 TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS=0
  mobilenet 576x768_batch8_pointwise1 576x768 8 37 TFJS_DELTA_CUDA_POINTWISE=1
  mobilenet 576x768_batch8_mma_partial0 576x768 8 37 TFJS_DELTA_CUDA_MMA_PARTIAL=0
  mobilenet 576x768_batch8_pool_split0 576x768 8 37 TFJS_DELTA_CUDA_POOL_SPLIT=0
  mobilenet 576x768_batch8_tile_lists0 576x768 8 37 TFJS_DELTA_CUDA_TILE_LISTS=0
  mobilenet 576x768_batch1 576x768 1 0
  mobilenet 576x768_batch1_lists0 576x768 1 0 TFJS_DELTA_CUDA_PIXEL_LISTS=0
  mobilenet 576x768_batch1_mma_partial0 576x768 1 0 TFJS_DELTA_CUDA_MMA_PARTIAL=0
fi
if want scale; then
  mobilenet 1080x1920_batch1 1080x1920 1 0
  mobilenet 1080x1920_batch8 1080x1920 8 37
  mobilenet 576x768_batch32 576x768 32 10
  posenet_vtest "delta_vtest_posenet_576x768_batch8_$tag" 200 576x768 8 20
fi
if want scale || want big32; then
  # Float32 state of 32 streams at 1080x1920 is ~62 GB: on a GPU of less than 100 GB the state is half.
  if (($(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1) < 100000)); then
    run+=(--state-precision fp16)
    mobilenet 1080x1920_batch32_fp16 1080x1920 32 10
    unset 'run[-1]' 'run[-1]'
  else
    mobilenet 1080x1920_batch32 1080x1920 32 10
  fi
fi
if want targets; then
  for size in 1080x1920 576x768; do
    mobilenet "${size}_batch8" "$size" 8 37
    mobilenet "${size}_batch1" "$size" 1 0
  done
fi
if want scaleknobs; then
  mobilenet 1080x1920_batch8_lists0 1080x1920 8 37 TFJS_DELTA_CUDA_PIXEL_LISTS=0
  mobilenet 1080x1920_batch8_tile_lists0 1080x1920 8 37 TFJS_DELTA_CUDA_TILE_LISTS=0
  TFJS_DELTA_CUDA_MMA_PARTIAL=0 posenet_vtest "delta_vtest_posenet_576x768_batch8_mma_partial0_$tag" 200 576x768 8 20
fi
if want state; then
  want sweep || mobilenet 576x768_batch1 576x768 1 0
  run+=(--state-precision fp32,fp16)
  mobilenet 576x768_batch8_state 576x768 8 37
  unset 'run[-1]' 'run[-1]'
fi
if want base; then
  base_xz=${BASE_ADDON:-.scratch/base/tfjs_delta_cuda.node.xz}
  mkdir -p /tmp/base_addon && xz -dc "$base_xz" > /tmp/base_addon/tfjs_delta_cuda.node &&
    mobilenet 576x768_batch8_base 576x768 8 37 TFJS_DELTA_CUDA_ADDON=/tmp/base_addon/tfjs_delta_cuda.node &&
    mobilenet 576x768_batch1_base 576x768 1 0 TFJS_DELTA_CUDA_ADDON=/tmp/base_addon/tfjs_delta_cuda.node
fi
if want route; then
  below0=TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS=0
  TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS=0 TFJS_DELTA_TEST_BACKENDS=cuda step "cuda_suites_dense_below0_$tag" 240 \
    "${mocha[@]}" dist/test/backends/cuda/*.test.js dist/test/ops/*.test.js
  grep -E "passed, .* failed" "$out/cuda_suites_dense_below0_$tag.log"
  grep -E "^  [0-9]+\) " -A8 "$out/cuda_suites_dense_below0_$tag.log" | cut -c1-240 | head -30
  TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS=0 TFJS_DELTA_TEST_BACKENDS=cuda step "video_suites_cuda_dense_below0_$tag" 240 \
    "${mocha[@]}" --invert --grep '\[(cpu|tensorflow)\]' dist/test/delta/*.test.js dist/test/models/*.test.js \
    dist/test/stream/*.test.js
  grep -E "passed, .* failed" "$out/video_suites_cuda_dense_below0_$tag.log"
  grep -E "^  [0-9]+\) " -A8 "$out/video_suites_cuda_dense_below0_$tag.log" | cut -c1-240 | head -30
  for batch in 1 8 32; do
    offset=$((batch == 1 ? 0 : batch == 8 ? 37 : 10))
    mobilenet "576x768_batch${batch}" 576x768 "$batch" "$offset"
    mobilenet "576x768_batch${batch}_dense_below0" 576x768 "$batch" "$offset" "$below0"
  done
  posenet_vtest "delta_vtest_posenet_576x768_batch8_$tag" 200 576x768 8 20
  TFJS_DELTA_CUDA_DENSE_BELOW_BLOCKS=0 posenet_vtest "delta_vtest_posenet_576x768_batch8_dense_below0_$tag" 200 \
    576x768 8 20
fi
if want ncu || want detail; then ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu); fi
if want detail; then
  step ncu_detail_mobilenet_v2 200 "$ncu" --profile-from-start off --graph-profiling node --clock-control none \
    --kernel-name regex:'sparseAccumulateKernel|depthwiseAccumulateKernel' --launch-count 40 --print-units base \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --csv --page details \
    "${run[@]}" --sizes 576x768 --batch 8 --offset 37 --frames 19 --stats-frames 1 --ncu-steps 1 --ncu-variant delta \
    --out /tmp/ncu.json
  python3 benchmarks/gpu/ncu_detail.py "$out/ncu_detail_mobilenet_v2.log" \
    > "$out/ncu_detail_mobilenet_v2_576x768_batch8_$tag.txt" && head -42 "$out/ncu_detail_mobilenet_v2_576x768_batch8_$tag.txt"
fi
if want ncu; then
  ncu_size=${NCU_SIZE:-576x768}
  for batch in ${NCU_BATCHES:-8}; do
    for variant in ${NCU_VARIANTS:-folded delta}; do
      name="ncu_kernels_mobilenet_v2_${ncu_size}_batch${batch}_${variant}_$tag"
      step "ncu_mobilenet_v2_${variant}_batch$batch" 200 "$ncu" --profile-from-start off --graph-profiling node \
        --clock-control none --metrics gpu__time_duration.sum --csv --print-units base "${run[@]}" --sizes "$ncu_size" \
        --batch "$batch" --offset $((batch == 1 ? 0 : 37)) --frames 19 --stats-frames 1 --ncu-steps 10 \
        --ncu-variant "$variant" --out /tmp/ncu.json
      python3 benchmarks/gpu/ncu_kernels.py "$out/ncu_mobilenet_v2_${variant}_batch$batch.log" 10 --in-order \
        > "$out/$name.txt" && head -16 "$out/$name.txt"
    done
  done
fi
if want ab; then
  read -ra ab <<< "${AB:-TFJS_DELTA_CUDA_PDL=0}"
  ab_name=${AB_NAME:-pdl0}
  for size in ${AB_SIZES:-576x768}; do
    for batch in ${AB_BATCHES:-8 1 32}; do
      offset=$((batch == 1 ? 0 : batch == 8 ? 37 : 10))
      mobilenet "${size}_batch${batch}" "$size" "$batch" "$offset"
      mobilenet "${size}_batch${batch}_$ab_name" "$size" "$batch" "$offset" "${ab[@]}"
    done
  done
fi
if want epilogue; then
  TFJS_DELTA_TEST_BACKENDS=cuda step "mma_accumulate_tests_$tag" 120 "${mocha[@]}" \
    dist/test/backends/cuda/mma_accumulate_blocks.test.js
  grep -E "passed, .* failed" "$out/mma_accumulate_tests_$tag.log"
  grep -E "^  [0-9]+\) " -A10 "$out/mma_accumulate_tests_$tag.log" | cut -c1-300 | head -60
  step "delta_block_bench_$tag" 150 node dist/benchmarks/ops/delta_block_cuda.js "$out"
  grep -E "^\|" "$out/delta_block_bench_$tag.log" | cut -c1-250
  for point in "1080x1920 8 37" "576x768 1 0" "576x768 8 37"; do
    read -r size batch offset <<< "$point"
    mobilenet "${size}_batch${batch}" "$size" "$batch" "$offset"
    mobilenet "${size}_batch${batch}_mma_acc1" "$size" "$batch" "$offset" TFJS_DELTA_CUDA_MMA_ACCUMULATE=1
  done
fi
if want fusedconv; then
  step "fused_conv_bench_$tag" 200 node dist/benchmarks/ops/fused_conv_cuda.js "$out"
  sed -n '/^GPU:/,$p' "$out/fused_conv_bench_$tag.log" | cut -c1-200
  posenet_vtest "delta_vtest_posenet_576x768_batch8_$tag" 200 576x768 8 20
  TFJS_DELTA_CUDA_FUSED_CONV_MAX_K=0 posenet_vtest "delta_vtest_posenet_576x768_batch8_fused_conv0_$tag" 200 \
    576x768 8 20
fi
if want knobs; then
  for above in 4194304 8388608; do
    mobilenet "576x768_batch8_lazy_above$above" 576x768 8 37 TFJS_DELTA_CUDA_LAZY_ZEROS_ABOVE=$above
  done
fi
