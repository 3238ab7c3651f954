#!/usr/bin/env bash
# One command on the GPU machine for the delta kernels on 'cuda': the parity suites on cuda (strict
# kernels: no CPU fallback; strict fp32 so that dense cuDNN references and delta kernels agree to 1e-5), the
# cuda-specific delta tests (TF32 and strict fp32 delta convs against the cpu reference), then the deltaConv2d
# kernel benchmark. Build and pack here first:
#   TFJS_DELTA_CUDA_ARCHS=90 node scripts/build-native.js --strict && npx tsc -p . && bash ../shared/tools/device-pack.sh
# then on the device (carry [".device", "dist", "build/Release"]):
#   source .device/unpack.sh && bash benchmarks/gpu/cuda_delta_device_run.sh [tests|bench|all]   (bench: also, TF32
# rows only: the WMMA kernel (TFJS_DELTA_CONV_MMA=0), the mma kernel without the packed filter (
# TFJS_DELTA_CONV_MMA_PACK=0), 64 channels per block for 3x3 (TFJS_DELTA_CONV_MMA_NB=64)); prof: Nsight Compute (stall reasons) on benchmarks/ops/delta_conv2d_cuda_profile.ts
set -uo pipefail
what=${1:-all}
out=${OUT:-benchmarks/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader
mocha() {
  node node_modules/mocha/bin/mocha.js --no-config --require dist/test/support/setup.js --timeout 600000 "$@"
}
if [[ $what == all || $what == tests ]]; then
  t0=$SECONDS
  suites="ops/delta_companions ops/conv3d_gated ops/delta_conv2d ops/delta_max_pool delta/layers ops/mask delta/sequence
          ops/sparse_accumulate models/resnet models/flavr"
  files=$(for s in $suites; do echo dist/test/$s.test.js; done)
  TFJS_DELTA_TEST_BACKENDS=cpu,cuda TFJS_DELTA_STRICT_KERNELS=1 TFJS_DELTA_STRICT_FP32=1 \
    mocha $files dist/test/backends/cuda/delta.test.js dist/test/backends/cuda/backend.test.js > "$out/cuda_delta_tests.log" 2>&1
  echo "tests: exit $? in $((SECONDS - t0)) s"
  grep -E "passing|failing|pending" "$out/cuda_delta_tests.log"
  grep -cE "\[cuda\]|\[cuda on" "$out/cuda_delta_tests.log" | sed 's/^/suites on cuda: /'
  grep -E "^  [0-9]+\) " -A4 "$out/cuda_delta_tests.log" | grep -v "^--$" | cut -c1-300 | head -60
fi
if [[ $what == all || $what == bench ]]; then
  t0=$SECONDS
  node dist/benchmarks/ops/delta_conv2d_cuda.js "$out" > "$out/cuda_delta_bench.log" 2>&1
  echo "bench: exit $? in $((SECONDS - t0)) s"
  grep -E "^\| tf32|GPU:|Error|error" "$out/cuda_delta_bench.log" | cut -d'|' -f3-11 | head -40
fi
if [[ $what == all || $what == bench || $what == bench2 ]]; then  # variants, TF32 rows only (JSON + variants log)
  for v in "TFJS_DELTA_CONV_MMA=0 wmma" "TFJS_DELTA_CONV_MMA_PACK=0 nopack" "TFJS_DELTA_CONV_MMA_NB=64 nb64"; do
    set -- $v
    echo "== $1" >> "$out/cuda_delta_bench_variants.log"
    env TFJS_DELTA_BENCH_MODES=tf32 "$1" node dist/benchmarks/ops/delta_conv2d_cuda.js "$out/$2" >> "$out/cuda_delta_bench_variants.log" 2>&1
    echo "bench ($1): exit $?"
  done
  grep -E "Error|error" "$out/cuda_delta_bench_variants.log" | head
fi
if [[ $what == all || $what == prof ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [[ -n $ncu ]]; then
    timeout 240 "$ncu" --clock-control none -k regex:deltaConvMma --section SpeedOfLight --section LaunchStats \
      --section Occupancy --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,smsp__inst_executed.sum,sm__cycles_active.max,smsp__inst_executed_pipe_tensor.sum" \
      node dist/benchmarks/ops/delta_conv2d_cuda_profile.js > "$out/cuda_delta_ncu.txt" 2>&1
    echo "ncu: exit $?"
    grep -E "deltaConvMma|Duration|SM Active Cycles|Elapsed Cycles|Registers Per|Achieved Occupancy|issue_stalled.*ratio +[0-9.]+$|inst_executed|cycles_active" "$out/cuda_delta_ncu.txt" \
      | awk '$NF+0 >= 0.3 || !/stalled/' | cut -c1-160 | head -150
  else
    echo "ncu not found"
  fi
fi
