#!/usr/bin/env bash
# One GPU-machine call for the interpolation job: makes 720p and 1080p clips from the built-in clip (looped to 180
# frames), times PyTorch FLAVR (alone and as a decode-model-encode script), then the whole job as
# `tfjs-delta interpolate` runs it (benchmarks/pipeline/interpolate_cuda.ts), and the command itself once at 1080p.
# Carry [".device", "dist", "build/Release", ".ffmpeg"] (.ffmpeg/ffmpeg.xz: the static ffmpeg of
# @ffmpeg-installer/linux-x64, xz-compressed) and begin with `source .device/unpack.sh &&`.
set -uo pipefail
out=${OUT:-benchmarks/results}
mkdir -p /tmp/interp /tmp/bin
xz -dc .ffmpeg/ffmpeg.xz > /tmp/bin/ffmpeg && chmod +x /tmp/bin/ffmpeg
export PATH=/tmp/bin:$PATH
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for size in 1280x720 1920x1080; do
  ffmpeg -hide_banner -loglevel error -y -stream_loop 2 -i assets/pedestrians.mp4 -vf "scale=${size/x/:}:flags=bicubic" \
    -c:v libx264 -crf 18 -preset fast -pix_fmt yuv420p /tmp/interp/clip_$size.mp4 || exit 1
done
clips="/tmp/interp/clip_1280x720.mp4 /tmp/interp/clip_1920x1080.mp4"
PYTHONUNBUFFERED=1 python3 benchmarks/pipeline/interpolate_torch.py "$out/interpolate_torch.json" $clips 2>&1 | tail -4
node dist/benchmarks/pipeline/interpolate_cuda.js "$out" $clips --torch "$out/interpolate_torch.json" 2>&1 | tail -6
# The command as a user runs it, on FLAVR weights saved by `models.flavr` (random: the speed does not depend on them).
node -e "const d = require('./dist/src/index.js'); d.models.flavr({factor: 2}).save(d.nodeFileSystem('/tmp/flavr2x')).then(() => console.log('saved /tmp/flavr2x'))" || exit 1
/usr/bin/time -f "interpolate 1080p: %e s wall, %M KiB max RSS" node dist/src/cli/main.js interpolate \
  /tmp/interp/clip_1920x1080.mp4 -o /tmp/interp/out_1080.mp4 --weights /tmp/flavr2x 2>&1 | grep -v "interpolating" | tail -5
ffmpeg -hide_banner -i /tmp/interp/out_1080.mp4 -map 0:v -c copy -f null - 2>&1 | grep -E "Video:|frame=" | tail -2
