#!/usr/bin/env bash
# Queue throughput on one GPU machine: a Redis server on loopback, then 1 worker and N workers (one process each,
# on the GPUs in $GPUS through TFJS_DELTA_CUDA_DEVICE: "0 0" puts two on one GPU, "0 1" one on each of two), each
# timed on one chunked interpolation job and on $STREAMS cameras at once; prints the figures as JSON, N workers
# against 1 worker of the same run, and writes $OUT/queue_workers_<GPU name>.json.
#
# The GPU machine has neither Node.js nor Redis: carry [".device", "dist", "build/Release", ".ffmpeg", ".redis"]
# with .redis/redis-server (Debian's binary, e.g. from `apt-get download redis-server redis-tools` unpacked here;
# or set REDIS_SERVER) and begin with `source .device/unpack.sh &&`. Dry run without a GPU: BACKEND=cpu SIZE=64x48.
#
# Environment: REDIS_SERVER (.redis/redis-server), GPUS ("0 0"), STREAMS (8), STREAM_FRAMES (120), CHUNK (32 pairs),
# SIZE of the clips (1280x720), FRAMES of the interpolation clip (180), BACKEND (cuda), FLAVR (weights; default a
# full-size FLAVR 2x with random weights; a dry run takes test/fixtures/torch/flavr2x.pth).
set -uo pipefail
out=${OUT:-benchmarks/results}
redis_server=${REDIS_SERVER:-.redis/redis-server}
gpus=(${GPUS:-0 0})
streams=${STREAMS:-8}
stream_frames=${STREAM_FRAMES:-120}
chunk=${CHUNK:-32}
size=${SIZE:-1280x720}
frames=${FRAMES:-180}
backend=${BACKEND:-cuda}
work=$(mktemp -d /tmp/queue-bench.XXXXXX)
mkdir -p "$out"
[[ -x $redis_server ]] || { echo "REDIS_SERVER='$redis_server' is not an executable redis-server" >&2; exit 1; }
if [[ -f .ffmpeg/ffmpeg.xz ]] && ! command -v ffmpeg >/dev/null; then
  mkdir -p "$work/bin" && xz -dc .ffmpeg/ffmpeg.xz > "$work/bin/ffmpeg" && chmod +x "$work/bin/ffmpeg"
  export PATH=$work/bin:$PATH
fi
gpu_name=cpu
if [[ $backend == cuda ]]; then
  gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '_')
  nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
fi
cli() { node dist/src/cli/main.js "$@"; }

port=6399
"$redis_server" --port $port --bind 127.0.0.1 --dir "$work" --save '' --appendonly no --daemonize no > "$work/redis.log" 2>&1 &
redis_pid=$!
url=redis://127.0.0.1:$port
pids=()
cleanup() {
  stop_workers
  kill "$redis_pid" 2>/dev/null
  wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ffmpeg -hide_banner -loglevel error -y -stream_loop -1 -i assets/pedestrians.mp4 -frames:v "$frames" \
  -vf "scale=${size/x/:}:flags=bicubic" -c:v libx264 -crf 18 -preset fast -pix_fmt yuv420p "$work/clip.mp4" || exit 1
ffmpeg -hide_banner -loglevel error -y -i "$work/clip.mp4" -frames:v "$stream_frames" -c copy "$work/camera.mp4" || exit 1
# FLAVR and a classifier with random weights: the speed does not depend on them.
node -e "
const tf = require('@tensorflow/tfjs-core'); require('@tensorflow/tfjs-backend-cpu'); const tfl = require('@tensorflow/tfjs-layers');
const d = require('./dist/src/index.js');
(async () => {
  await tf.setBackend('cpu');
  if (!process.env.FLAVR) await d.models.flavr({factor: 2}).save(d.nodeFileSystem('$work/flavr2x'));
  const m = tfl.sequential({layers: [
    tfl.layers.conv2d({inputShape: [null, null, 3], filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'}),
    tfl.layers.conv2d({filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'}),
    tfl.layers.globalAveragePooling2d({}), tfl.layers.dense({units: 10, activation: 'softmax'})]});
  await m.save(d.nodeFileSystem('$work/classifier'));
})().catch((e) => { console.error(e); process.exit(1); });" || exit 1

flavr=${FLAVR:-$work/flavr2x}

start_workers() { # GPU indices
  local i=0
  for g in "$@"; do
    i=$((i + 1))
    if [[ $backend == cuda ]]; then
      TFJS_DELTA_CUDA_DEVICE=$g node dist/src/cli/main.js --backend cuda worker --redis $url --name "gpu$g-$i" --streams "$streams" > "$work/worker$i.log" 2>&1 &
    else
      node dist/src/cli/main.js --backend cpu worker --redis $url --name "cpu-$i" --streams "$streams" > "$work/worker$i.log" 2>&1 &
    fi
    pids+=($!)
  done
  for ((k = 1; k <= $#; k++)); do
    for t in $(seq 600); do grep -q "ready on" "$work/worker$k.log" && break; sleep 0.2; done
    grep -q "ready on" "$work/worker$k.log" || { cat "$work/worker$k.log" >&2; exit 1; }
    head -1 "$work/worker$k.log"
  done
}
stop_workers() {
  # By pid: `wait` without one would wait for the Redis server too.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
}
now() { date +%s.%N; }

measure() { # label, GPU indices...
  local label=$1
  shift
  start_workers "$@"
  # Warm-up: FLAVR loaded (and compiled) on every worker by a short job.
  cli submit interpolate "$work/camera.mp4" -o "$work/warm.mp4" --weights "$flavr" --chunk 8 --wait --redis $url > /dev/null || exit 1
  local t0 t1 s0 s1
  t0=$(now)
  cli submit interpolate "$work/clip.mp4" -o "$work/out_$label.mp4" --weights "$flavr" --chunk "$chunk" --wait --redis $url | tail -1
  t1=$(now)
  s0=$(now)
  local subs=()
  for c in $(seq "$streams"); do
    cli submit stream "$work/camera.mp4" --camera "$label-$c" --model "$work/classifier/model.json" --threshold 0.02 --wait --redis $url > /dev/null &
    subs+=($!)
  done
  wait "${subs[@]}"
  s1=$(now)
  stop_workers
  python3 - "$label" "$#" "$t0" "$t1" "$s0" "$s1" <<PY
import json, sys
label, workers, t0, t1, s0, s1 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(json.dumps({"label": label, "workers": workers, "interpolation": {"inputFrames": $frames, "seconds": round(t1 - t0, 2),
  "inputFramesPerSecond": round($frames / (t1 - t0), 2)}, "streams": {"cameras": $streams, "framesEach": $stream_frames,
  "seconds": round(s1 - s0, 2), "framesPerSecond": round($streams * $stream_frames / (s1 - s0), 2)}}), file=open("$work/$label.json", "w"))
PY
}

measure one "${gpus[0]}"
measure many "${gpus[@]}"
python3 - <<PY
import json
one, many = (json.load(open(f"$work/{k}.json")) for k in ("one", "many"))
result = {"gpu": "$gpu_name", "size": "$size", "gpus": "${gpus[*]}", "chunkPairs": $chunk, "one": one, "many": many,
  "ratio": {"interpolation": round(many["interpolation"]["inputFramesPerSecond"] / one["interpolation"]["inputFramesPerSecond"], 2),
            "streams": round(many["streams"]["framesPerSecond"] / one["streams"]["framesPerSecond"], 2)}}
print(json.dumps(result, indent=1))
json.dump(result, open("$out/queue_workers_$gpu_name.json", "w"), indent=1)
PY
