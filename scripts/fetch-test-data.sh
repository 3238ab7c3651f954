#!/usr/bin/env bash
# Obtains the real video the delta-model tests run on: vtest.avi from Debian's
# opencv-doc (768x576, 10 fps, 795 frames, static camera) and ffmpeg to decode it.
# Idempotent: when both are present it does nothing. Without root or apt it says what is missing
# and exits 0, so the tests that need the video skip with that reason instead of failing CI.
#
# Usage: scripts/fetch-test-data.sh
set -euo pipefail

VIDEO=${TFJS_DELTA_VTEST:-/usr/share/doc/opencv-doc/examples/data/vtest.avi}
t_start=$SECONDS
have() { command -v ffmpeg >/dev/null 2>&1 && [[ -f $VIDEO ]]; }

if have; then
  echo "fetch-test-data: ffmpeg and $VIDEO present; nothing to do ($((SECONDS - t_start)) s)"
  exit 0
fi

packages=()
command -v ffmpeg >/dev/null 2>&1 || packages+=(ffmpeg)
[[ -f $VIDEO ]] || packages+=(opencv-doc)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "fetch-test-data: no apt-get; install ${packages[*]} yourself (video tests will skip)"
  exit 0
fi
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "fetch-test-data: not root and no passwordless sudo; install ${packages[*]} yourself (video tests will skip)"
    exit 0
  fi
fi

echo "fetch-test-data: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# opencv-doc's examples carry vtest.avi; its recommends (a large docs tree) are not needed.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if have; then
  echo "fetch-test-data: ready: $(ffmpeg -version | head -1 | cut -d' ' -f1-3), $VIDEO ($((SECONDS - t_start)) s)"
else
  echo "fetch-test-data: still missing ffmpeg or $VIDEO after apt-get (video tests will skip) ($((SECONDS - t_start)) s)"
fi
