#!/usr/bin/env bash
# One command on the GPU machine for the 'cuda' backend: the GPU test suite, then the dense benchmark
# against PyTorch eager measured in the same run. Logs and results go to $OUT (the device tool's folder) or
# benchmarks/results. Build and pack here first:
#   node scripts/build-native.js && npm run build && bash ../shared/tools/device-pack.sh
# then run on the device with carry [".device", "dist", "build"]:
#   source .device/unpack.sh && bash benchmarks/gpu/cuda_device_run.sh [tests|bench|all]
set -uo pipefail
what=${1:-all}
out=${OUT:-benchmarks/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader | tee "$out/gpu.txt"
ldd build/Release/tfjs_delta_cuda.node | grep -E "cudnn|cublas|not found"
node -e "const c=require('./dist/src/backends/cuda').cudaAvailability(); console.log(JSON.stringify(c))"
if [[ $what == all || $what == tests ]]; then
  t0=$SECONDS
  TFJS_DELTA_TEST_BACKENDS=cpu node node_modules/mocha/bin/mocha.js --no-config --require dist/test/support/setup.js \
    --timeout 600000 'dist/test/backends/cuda/*.test.js' > "$out/cuda_tests.log" 2>&1
  echo "tests: exit $? in $((SECONDS - t0)) s"
  grep -E "passing|failing|pending" "$out/cuda_tests.log"
  grep -E "^  [0-9]+\) " -A3 "$out/cuda_tests.log" | grep -v "^--$" | head -80
fi
if [[ $what == all || $what == bench ]]; then
  t0=$SECONDS
  PYTHONUNBUFFERED=1 python3 benchmarks/backends/cuda_dense_torch.py "$out/torch.json" > "$out/torch.log" 2>&1 || tail -5 "$out/torch.log"
  node dist/benchmarks/backends/cuda_dense.js "$out/torch.json" "$out" 2>&1 | tee "$out/bench.log" | tail -12
  echo "bench: $((SECONDS - t0)) s"
fi
if [[ $what == all || $what == profile ]]; then
  node --cpu-prof --cpu-prof-dir="$out/prof" dist/benchmarks/backends/cuda_profile.js 2>&1 | grep -v "^Hi\|^====" | tee "$out/profile.log"
  ls "$out/prof" >/dev/null 2>&1 && mv "$out"/prof/*.cpuprofile "$out/cuda_profile.cpuprofile" && rmdir "$out/prof"
fi
