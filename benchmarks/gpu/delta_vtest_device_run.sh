#!/usr/bin/env bash
# One GPU-machine call for the end-to-end delta benchmark: decode vtest.avi (OpenCV; the machine has no ffmpeg), the
# threshold-0 sequence test on 'cuda', the seeded ResNet-50 pose weights exported for PyTorch, PyTorch eager, then
# benchmarks/delta_vtest.js (dense / delta / PyTorch ratios in the same run). Build and pack here first:
#   TFJS_DELTA_CUDA_ARCHS=90 node scripts/build-native.js --strict && npx tsc -p . && bash ../shared/tools/device-pack.sh
# then on the device, from a directory holding dist/, build/Release/, benchmarks/ and vtest.avi (carry it):
#   source .device/unpack.sh && bash benchmarks/gpu/delta_vtest_device_run.sh [vtest.avi] [frames] [run args...]
# Results go to $OUT (default benchmarks/results); render the table and plots afterwards (no GPU needed):
#   node dist/benchmarks/models/delta_vtest.js report <out>/delta_vtest_<gpu>.json benchmarks/results/cuda_delta_<gpu>.json
set -uo pipefail
video=${1:-vtest.avi}
frames=${2:-120}
shift 2 2>/dev/null || shift $#
out=${OUT:-benchmarks/results}
work=${TMPDIR:-/tmp}/delta_vtest
mkdir -p "$out" "$work"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
tag=$(echo "$gpu" | sed 's/[^A-Za-z0-9]\+/_/g; s/_$//')
echo "GPU: $gpu"
t0=$SECONDS
python3 benchmarks/models/delta_vtest_torch.py frames "$video" "$work/frames" 400 256x256,576x768,96x128 || exit 1
echo "frames: $((SECONDS - t0)) s"
export TFJS_DELTA_VTEST_FRAMES=$work/frames
t0=$SECONDS
TFJS_DELTA_TEST_BACKENDS=cuda TFJS_DELTA_STRICT_KERNELS=1 node node_modules/mocha/bin/mocha.js --no-config --require dist/test/support/setup.js \
  --timeout 600000 dist/test/delta/video_sequence.test.js > "$out/delta_vtest_tests_$tag.log" 2>&1
echo "sequence test: exit $? in $((SECONDS - t0)) s"
grep -E "passing|failing|pending|max rel|Error|skipped" "$out/delta_vtest_tests_$tag.log" | cut -c1-300 | head -20
t0=$SECONDS
node dist/benchmarks/models/delta_vtest.js export-weights "$work/weights" 2>&1 | grep -E "wrote|export|Error" || exit 1
echo "export: $((SECONDS - t0)) s"
t0=$SECONDS
python3 benchmarks/models/delta_vtest_torch.py time "$work/frames" "$work/weights" "$out/delta_vtest_torch_$tag.json" "$work/torch_out" \
  --frames "$frames" --warmup 10 2>&1 | tail -8
echo "torch: $((SECONDS - t0)) s"
t0=$SECONDS
node dist/benchmarks/models/delta_vtest.js run --backend cuda --frames "$frames" --warmup 10 --weights "$work/weights" \
  --torch "$out/delta_vtest_torch_$tag.json" --torch-outputs "$work/torch_out" --out "$out/delta_vtest_$tag.json" "$@" \
  > "$out/delta_vtest_$tag.log" 2>&1
echo "bench: exit $? in $((SECONDS - t0)) s"
grep -vE "^\s*$|^I0|absl|====|Hi, looks|tfjs-node" "$out/delta_vtest_$tag.log" | cut -c1-400 | head -60
