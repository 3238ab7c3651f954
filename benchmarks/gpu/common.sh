# Sourced by the GPU-machine scripts of this folder: $out (results; $OUT, else benchmarks/results), $gpu and $tag (the
# GPU's name, and the same as a file-name part), `step NAME LIMIT COMMAND...` (COMMAND's output into $out/NAME.log,
# its exit status and time printed), `hold_gpu_to 40` (a background process takes all but 40 GB of the GPU's
# memory, so that an allocation past that fails; `release_gpu` ends it), `want PART` (whether PART is among the
# script's $parts, set before sourcing: " part part "), `mocha` (the test runner's command line, as an array),
# `vtest_frames VIDEO SIZES` (400 frames of VIDEO at SIZES, e.g. 289x385,577x769, decoded by OpenCV into /tmp/frames
# and exported as TFJS_DELTA_VTEST_FRAMES) and `posenet_vtest NAME LIMIT SIZE BATCH FRAMES [ARGS...]` (PoseNet dense vs delta on vtest frames, compiled, run's
# thresholds and dense tail, stream b 37 frames after stream b-1: a step, then its summary lines).
out=${OUT:-benchmarks/results}
mkdir -p "$out"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
tag=$(echo "$gpu" | sed 's/[^A-Za-z0-9]\+/_/g; s/_$//')
echo "GPU: $gpu"
want() { [[ "${parts:-}" == *" $1 "* ]]; }
mocha=(node node_modules/mocha/bin/mocha.js --no-config --require dist/test/support/setup.js
  --reporter dist/test/support/reporter.js --timeout 600000)
step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout -k 10 "$limit" "$@" > "$out/$name.log" 2>&1
  echo "== $name: exit $? in $((SECONDS - t0)) s"
}
vtest_frames() {
  python3 benchmarks/models/delta_vtest_torch.py frames "$1" /tmp/frames 400 "$2" || return 1
  export TFJS_DELTA_VTEST_FRAMES=/tmp/frames
}
posenet_vtest() {
  local name=$1 limit=$2 size=$3 batch=$4 frames=$5
  shift 5
  step "$name" "$limit" node dist/benchmarks/models/delta_vtest.js run --backend cuda --models posenet --sizes "$size" \
    --batch "$batch" --offset 37 --frames "$frames" --warmup 8 --stats-frames 5 --compiled --thresholds posenet=0.05 \
    --inputs 0.1x7 --dense-above 0.5 --out "$out/$name.json" "$@"
  grep -E "^posenet|delta t=" "$out/$name.log" | cut -c1-330
}
hold_gpu_to() {
  python3 - "$1" <<'PY' &
import sys, time, torch
free, total = torch.cuda.mem_get_info()
ballast = free - int(sys.argv[1]) * 10**9
x = torch.empty(ballast, dtype=torch.uint8, device='cuda')
print(f"ballast: {ballast / 2**30:.1f} GiB taken, {torch.cuda.mem_get_info()[0] / 10**9:.1f} GB left", flush=True)
time.sleep(400)
PY
  ballast_pid=$!
  sleep 15
}
release_gpu() { kill "$ballast_pid" 2>/dev/null; }
