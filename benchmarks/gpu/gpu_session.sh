#!/usr/bin/env bash
# One GPU-machine call for a session's final check: the whole mocha suite with the 'cuda' backend (the parity
# suites compare it with 'cpu' inside each test; tfjs-node's libtensorflow does not travel, and the machine has no
# ffmpeg, so the video suites skip saying so) with vtest.avi frames for the stream and sequence tests, then the
# compiled-stream benchmark against PyTorch in the same run. Build and pack here first:
#   TFJS_DELTA_CUDA_ARCHS=90 node scripts/build-native.js --strict && npx tsc -p . && bash ../shared/tools/device-pack.sh
#   mkdir -p .scratch/media && cp /usr/share/doc/opencv-doc/examples/data/vtest.avi .scratch/media/ &&
#   cp -r node_modules/nsfwjs/dist/models/mobilenet_v2 .scratch/media/nsfwjs_mobilenet_v2
# then run with carry [".device", "dist", "build/Release", ".cache/human-models", ".scratch/media"]:
#   source .device/unpack.sh && bash benchmarks/gpu/gpu_session.sh [backends (default cuda)] [--no-bench]
set -uo pipefail
backends=${1:-cuda}
out=${OUT:-benchmarks/results}
mkdir -p "$out" /tmp/frames
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
# device-pack.sh drops *.min.js from node_modules, which is how nsfwjs ships its MobileNetV2: carried beside vtest.avi
[[ -d .scratch/media/nsfwjs_mobilenet_v2 ]] && cp .scratch/media/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
t0=$SECONDS
python3 benchmarks/models/delta_vtest_torch.py frames .scratch/media/vtest.avi /tmp/frames 400 96x128,256x256,576x768 || exit 1
export TFJS_DELTA_VTEST_FRAMES=/tmp/frames
echo "frames: $((SECONDS - t0)) s"
t0=$SECONDS
TFJS_DELTA_TEST_BACKENDS=$backends timeout 480 node node_modules/mocha/bin/mocha.js > "$out/npm_test_gpu.log" 2>&1
echo "mocha ($backends): exit $? in $((SECONDS - t0)) s"
grep -E "passed, .* failed|passing|failing|pending" "$out/npm_test_gpu.log"
grep -E "max rel error" "$out/npm_test_gpu.log" | head -4
grep -E "^  [0-9]+\) " -A6 "$out/npm_test_gpu.log" | cut -c1-240 | head -60
[[ " $* " == *" --no-bench "* ]] && exit 0
t0=$SECONDS
python3 benchmarks/stream/stream_torch.py "$out/stream_torch.json" > "$out/stream_torch.log" 2>&1
echo "torch: exit $? in $((SECONDS - t0)) s"
t0=$SECONDS
node dist/benchmarks/stream/stream_cuda.js "$out/stream_torch.json" "$out" > "$out/stream_cuda.log" 2>&1
echo "tfjs: exit $? in $((SECONDS - t0)) s"
grep -E "^\||error vs|t=0" "$out/stream_cuda.log" | cut -c1-260 | tail -32
