#!/usr/bin/env bash
# One GPU-machine call for a session's final check: FLAVR 2x on 'cuda' vs PyTorch eager (same run),
# then the whole mocha suite on 'cpu' + 'cuda' (tfjs-node's libtensorflow does not travel; ffmpeg is
# not on that machine, so the video suites skip saying so). Build and pack here first:
#   TFJS_DELTA_CUDA_ARCHS=90 node scripts/build-native.js --strict && npx tsc -p . && bash ../shared/tools/device-pack.sh
# then run with carry [".device", "dist", "build/Release", ".cache/human-models"]:
#   source .device/unpack.sh && bash benchmarks/gpu_session.sh
set -uo pipefail
out=${OUT:-benchmarks/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
t0=$SECONDS
python3 benchmarks/flavr_torch.py "$out/flavr_torch.json" > "$out/flavr_torch.log" 2>&1
echo "torch FLAVR: exit $? in $((SECONDS - t0)) s"
t0=$SECONDS
node dist/benchmarks/flavr_cuda.js "$out/flavr_torch.json" "$out" 2>&1 | tee "$out/flavr_cuda.log" | grep -E "^\||GPU|wrote|Error"
echo "tfjs FLAVR: in $((SECONDS - t0)) s"
t0=$SECONDS
TFJS_DELTA_TEST_BACKENDS=cpu,cuda timeout 420 node node_modules/mocha/bin/mocha.js > "$out/npm_test_gpu.log" 2>&1
echo "mocha: exit $? in $((SECONDS - t0)) s"
grep -E "passed, .* failed|passing|failing|pending" "$out/npm_test_gpu.log"
grep -E "^  [0-9]+\) " -A4 "$out/npm_test_gpu.log" | cut -c1-240 | head -60
