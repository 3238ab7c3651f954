#!/usr/bin/env bash
# Installs CPU PyTorch (from the configured pip index, into .cache/torch-py, not the system) and writes
# the full-size PyTorch references of the converter parity suite (FLAVR 2x/8x, ResNet-50 with and
# without the pose head, ~1.2 GB) into .cache/torch-full, where test/models_full_width.test.ts finds
# them. Idempotent; prints what each step costs. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.cache/torch-py
OUT=.cache/torch-full
t0=$SECONDS
if [[ -f $OUT/flavr2x.pth && -f $OUT/.complete ]]; then
  echo "make-torch-references: $OUT present; nothing to do"
  exit 0
fi
if ! PYTHONPATH=$PY python3 -c 'import torch' 2>/dev/null; then
  python3 -m pip install -q --retries 0 --target "$PY" 'torch==2.13.0+cpu' numpy
  echo "make-torch-references: pip install torch==2.13.0+cpu took $((SECONDS - t0)) s"
fi
t1=$SECONDS
mkdir -p "$OUT"
PYTHONPATH=$PY python3 scripts/make_torch_fixtures.py --full "$OUT"
touch "$OUT/.complete"
echo "make-torch-references: full-size references in $OUT took $((SECONDS - t1)) s"
