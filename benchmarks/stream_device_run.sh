#!/usr/bin/env bash
# One command on the GPU machine for compiled streaming plans (issue 9): the compileStream tests, then the
# stream benchmark against PyTorch (eager and CUDA graph) in the same run. Build and pack here first:
#   TFJS_DELTA_CUDA_ARCHS=90 node scripts/build-native.js --strict && npx tsc -p . && bash ../shared/tools/device-pack.sh
#   mkdir -p .scratch/media && cp /usr/share/doc/opencv-doc/examples/data/vtest.avi .scratch/media/
# then on the device (carry [".device", "dist", "build/Release", ".scratch/media"]):
#   source .device/unpack.sh && bash benchmarks/stream_device_run.sh [tests|bench|all] [--quick]
set -uo pipefail
what=${1:-all}
quick=${2:-}
out=${OUT:-benchmarks/results}
mkdir -p "$out" /tmp/frames
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
t0=$SECONDS
avi=.scratch/media/vtest.avi
python3 benchmarks/vtest_frames.py "$avi" /tmp/frames/vtest_128x96.u8 200 128 96 &&
  python3 benchmarks/vtest_frames.py "$avi" /tmp/frames/vtest_256x256.u8 200 256 256 &&
  python3 benchmarks/vtest_frames.py "$avi" /tmp/frames/vtest_768x576.u8 200
echo "frames: $((SECONDS - t0)) s"
export TFJS_DELTA_VTEST_FRAMES=/tmp/frames/vtest_128x96.u8
export TFJS_DELTA_VTEST_FRAMES_256x256=/tmp/frames/vtest_256x256.u8
export TFJS_DELTA_VTEST_FRAMES_768x576=/tmp/frames/vtest_768x576.u8
if [[ $what == all || $what == tests ]]; then
  t0=$SECONDS
  node node_modules/mocha/bin/mocha.js --no-config --require dist/test/support/setup.js --timeout 600000 \
    dist/test/cuda_stream.test.js > "$out/stream_tests.log" 2>&1
  echo "tests: exit $? in $((SECONDS - t0)) s"
  grep -E "passing|failing|pending|✔|[0-9]+\) " "$out/stream_tests.log" | head -40
  grep -E "^  [0-9]+\) " -A8 "$out/stream_tests.log" | cut -c1-300 | head -60
fi
if [[ $what == all || $what == bench ]]; then
  t0=$SECONDS
  python3 benchmarks/stream_torch.py "$out/stream_torch.json" $quick > "$out/stream_torch.log" 2>&1
  echo "torch: exit $? in $((SECONDS - t0)) s"
  tail -3 "$out/stream_torch.log"
  t0=$SECONDS
  node dist/benchmarks/stream_cuda.js "$out/stream_torch.json" "$out" $quick > "$out/stream_cuda.log" 2>&1
  echo "tfjs: exit $? in $((SECONDS - t0)) s"
  cat "$out/stream_cuda.log" | cut -c1-400 | tail -40
fi
if [[ $what == all || $what == profile ]]; then  # where the compiled plans' GPU time goes (eager, per kernel)
  for m in "pose 576 768" "trunk 256 256" "flavr 512 512"; do
    set -- $m
    node dist/benchmarks/model_profile.js $1 $2 $3 > "$out/profile_$1_$3x$2.txt" 2>&1
    echo "profile $m: exit $?"; grep -E "wall median|^\|" "$out/profile_$1_$3x$2.txt" | head -9
  done
fi
