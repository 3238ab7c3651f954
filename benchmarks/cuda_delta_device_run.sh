#!/usr/bin/env bash
# One command on the GPU machine for the delta kernels on 'cuda' (issue 7): the parity suites on cuda (strict
# kernels: no CPU fallback; strict fp32 so that dense cuDNN references and delta kernels agree to 1e-5), the
# cuda-specific delta tests, then the deltaConv2d kernel benchmark. Build and pack here first:
#   TFJS_DELTA_CUDA_ARCHS=90 node scripts/build-native.js --strict && npx tsc -p . && bash ../shared/tools/device-pack.sh
# then on the device (carry [".device", "dist", "build/Release"]):
#   source .device/unpack.sh && bash benchmarks/cuda_delta_device_run.sh [tests|bench|all]   (bench: also the
# TFJS_DELTA_CONV_MIN_BLOCKS=2 and TFJS_DELTA_BENCH_QUEUE=spin variants)
set -uo pipefail
what=${1:-all}
out=${OUT:-benchmarks/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader | tee "$out/gpu.txt"
mocha() {
  node node_modules/mocha/bin/mocha.js --no-config --require dist/test/support/setup.js --timeout 600000 "$@"
}
if [[ $what == all || $what == tests ]]; then
  t0=$SECONDS
  suites="companion_parity conv3d_gated_parity delta_conv_parity delta_max_pool_parity layers_parity masks sequence
          sparse_accumulate_parity models_resnet models_flavr"
  files=$(for s in $suites; do echo dist/test/$s.test.js; done)
  TFJS_DELTA_TEST_BACKENDS=cpu,cuda TFJS_DELTA_STRICT_KERNELS=1 TFJS_DELTA_STRICT_FP32=1 \
    mocha $files dist/test/cuda_delta.test.js dist/test/cuda_backend.test.js > "$out/cuda_delta_tests.log" 2>&1
  echo "tests: exit $? in $((SECONDS - t0)) s"
  grep -E "passing|failing|pending" "$out/cuda_delta_tests.log"
  grep -cE "\[cuda\]|\[cuda on" "$out/cuda_delta_tests.log" | sed 's/^/suites on cuda: /'
  grep -E "^  [0-9]+\) " -A4 "$out/cuda_delta_tests.log" | grep -v "^--$" | cut -c1-300 | head -60
fi
if [[ $what == all || $what == bench ]]; then
  t0=$SECONDS
  node dist/benchmarks/cuda_delta.js "$out" > "$out/cuda_delta_bench.log" 2>&1
  echo "bench: exit $? in $((SECONDS - t0)) s"
  grep -E "^\||GPU:|Error|error" "$out/cuda_delta_bench.log" | head -80
fi
if [[ $what == all || $what == bench || $what == bench2 ]]; then  # variants: 128-register kernels; spin queue
  TFJS_DELTA_CONV_MIN_BLOCKS=2 node dist/benchmarks/cuda_delta.js "$out/minblocks2" > "$out/cuda_delta_bench2.log" 2>&1
  echo "bench (TFJS_DELTA_CONV_MIN_BLOCKS=2): exit $?"
  grep -E "^\| tf32|Error|error" "$out/cuda_delta_bench2.log" | cut -d'|' -f3-11 | head -40
  TFJS_DELTA_BENCH_QUEUE=spin node dist/benchmarks/cuda_delta.js "$out/spin" > "$out/cuda_delta_bench_spin.log" 2>&1
  echo "bench (TFJS_DELTA_BENCH_QUEUE=spin, as runs 1-3): exit $?"
  grep -E "^\| tf32|Error|error" "$out/cuda_delta_bench_spin.log" | cut -d'|' -f3-11 | head -40
fi
