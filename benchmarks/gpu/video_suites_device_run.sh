#!/usr/bin/env bash
# The suites that need real video (test/delta, test/models, test/stream and the overlay test), all but their 'cpu'
# and 'tensorflow' cases (the 'cpu' reference cases of the 200-frame sequences take minutes each; CI runs those): vtest.avi frames
# decoded by OpenCV into /tmp/frames (TFJS_DELTA_VTEST_FRAMES), cockatoo.mp4 copied into .cache/test-data when
# carried (the tests that decode a video file themselves skip without an ffmpeg: TFJS_DELTA_FFMPEG). Carry .device,
# dist, build/Release, .cache/human-models and .scratch/media (vtest.avi, nsfwjs's MobileNetV2, optionally
# cockatoo.mp4); begin with `source .device/unpack.sh &&`. Results go to $OUT (default benchmarks/results):
# video_suites_cuda_<gpu>.log.
set -uo pipefail
parts=" "
source "$(dirname "$0")/common.sh"
media=${MEDIA:-.scratch/media}
[[ -d $media/nsfwjs_mobilenet_v2 ]] && cp "$media"/nsfwjs_mobilenet_v2/* node_modules/nsfwjs/dist/models/mobilenet_v2/
[[ -f $media/cockatoo.mp4 ]] && mkdir -p .cache/test-data && cp "$media/cockatoo.mp4" .cache/test-data/
t0=$SECONDS
vtest_frames "$media/vtest.avi" 96x128,256x256,576x768,577x769 || exit 1
export TFJS_DELTA_VTEST=$(cd "$media" && pwd)/vtest.avi
echo "frames: $((SECONDS - t0)) s"
TFJS_DELTA_TEST_BACKENDS=cuda step "video_suites_cuda_$tag" 300 "${mocha[@]}" --invert --grep '\[(cpu|tensorflow)\]' \
  dist/test/delta/*.test.js dist/test/models/*.test.js dist/test/stream/*.test.js dist/test/pipeline/overlay.test.js
grep -E "passed, .* failed" "$out/video_suites_cuda_$tag.log"
grep -E "max rel error" "$out/video_suites_cuda_$tag.log" | head -12
grep -E "^  [0-9]+\) " -A8 "$out/video_suites_cuda_$tag.log" | cut -c1-240 | head -60
