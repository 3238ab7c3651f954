#!/usr/bin/env bash
# One command on the GPU machine for compiled streaming plans: the compileStream tests, then the
# stream benchmark against PyTorch (eager and CUDA graph) in the same run. Build and pack here first:
#   TFJS_DELTA_CUDA_ARCHS=90 node scripts/build-native.js --strict && npx tsc -p . && bash ../shared/tools/device-pack.sh
#   mkdir -p .scratch/media && cp /usr/share/doc/opencv-doc/examples/data/vtest.avi .scratch/media/ &&
#   cp -r node_modules/nsfwjs/dist/models/mobilenet_v2 .scratch/media/nsfwjs_mobilenet_v2
# then on the device (carry [".device", "dist", "build/Release", ".scratch/media"]):
#   source .device/unpack.sh && bash benchmarks/gpu/stream_device_run.sh [tests|bench|all] [--quick]
set -uo pipefail
# device-pack.sh drops *.min.js from node_modules, which is how nsfwjs ships its MobileNetV2: carried beside vtest.avi
[[ -d .scratch/media/nsfwjs_mobilenet_v2 ]] && cp .scratch/media/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
what=${1:-all}
quick=${2:-}
out=${OUT:-benchmarks/results}
mkdir -p "$out" /tmp/frames
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
t0=$SECONDS
python3 benchmarks/models/delta_vtest_torch.py frames .scratch/media/vtest.avi /tmp/frames 400 96x128,256x256,576x768 || exit 1
echo "frames: $((SECONDS - t0)) s"
export TFJS_DELTA_VTEST_FRAMES=/tmp/frames
if [[ $what == all || $what == tests ]]; then
  t0=$SECONDS
  TFJS_DELTA_TEST_BACKENDS=cuda TFJS_DELTA_STRICT_KERNELS=1 node node_modules/mocha/bin/mocha.js --no-config --require dist/test/support/setup.js \
    --timeout 600000 dist/test/stream/compile_stream.test.js dist/test/backends/cuda/delta.test.js dist/test/delta/video_sequence.test.js \
    dist/test/ops/delta_companions.test.js dist/test/delta/layers.test.js \
    > "$out/stream_tests.log" 2>&1
  echo "tests: exit $? in $((SECONDS - t0)) s"
  grep -E "passing|failing|pending|max rel|[0-9]+\) " "$out/stream_tests.log" | head -40
  grep -E "^  [0-9]+\) " -A8 "$out/stream_tests.log" | cut -c1-300 | head -60
fi
if [[ $what == all || $what == bench ]]; then
  t0=$SECONDS
  python3 benchmarks/stream/stream_torch.py "$out/stream_torch.json" $quick > "$out/stream_torch.log" 2>&1
  echo "torch: exit $? in $((SECONDS - t0)) s"
  tail -3 "$out/stream_torch.log"
  t0=$SECONDS
  node dist/benchmarks/stream/stream_cuda.js "$out/stream_torch.json" "$out" $quick > "$out/stream_cuda.log" 2>&1
  echo "tfjs: exit $? in $((SECONDS - t0)) s"
  cat "$out/stream_cuda.log" | cut -c1-400 | tail -40
fi
if [[ $what == all || $what == profile ]]; then  # where the compiled plans' GPU time goes (eager, per kernel)
  for m in "pose 576 768" "trunk 256 256" "flavr 512 512"; do
    set -- $m
    node dist/benchmarks/models/model_profile.js $1 $2 $3 > "$out/profile_$1_$3x$2.txt" 2>&1
    echo "profile $m: exit $?"; grep -E "wall median|^\|" "$out/profile_$1_$3x$2.txt" | head -9
  done
fi
