#!/usr/bin/env bash
# Obtains the real video the delta-model tests run on: vtest.avi from Debian's
# opencv-doc (768x576, 10 fps, 795 frames, static camera), cockatoo.mp4 from Debian's python3-imageio
# (1280x720, 20 fps, 280 frames, a moving camera; only the clip is taken out of the package, into
# .cache/test-data/) and ffmpeg to decode them.
# Idempotent: when all are present it does nothing. Without root or apt it says what is missing
# and exits 0, so the tests that need a video skip with that reason instead of failing CI.
#
# Usage: scripts/fetch-test-data.sh
set -euo pipefail

VIDEO=${TFJS_DELTA_VTEST:-/usr/share/doc/opencv-doc/examples/data/vtest.avi}
COCKATOO=${TFJS_DELTA_COCKATOO:-$(cd "$(dirname "$0")/.." && pwd)/.cache/test-data/cockatoo.mp4}
t_start=$SECONDS
have() { command -v ffmpeg >/dev/null 2>&1 && [[ -f $VIDEO ]]; }

# The moving-camera clip: python3-imageio's .deb downloaded (not installed) and the one file taken out of it.
fetch_cockatoo() {
  [[ -f $COCKATOO ]] && return 0
  command -v apt-get >/dev/null 2>&1 || { echo "fetch-test-data: no apt-get; cockatoo.mp4 tests will skip"; return 0; }
  local tmp
  tmp=$(mktemp -d)
  if (cd "$tmp" && { apt-get download -qq python3-imageio >/dev/null 2>&1 ||
    { "${SUDO[@]}" apt-get update -qq && apt-get download -qq python3-imageio >/dev/null; }; }); then
    mkdir -p "$(dirname "$COCKATOO")"
    if dpkg-deb --fsys-tarfile "$tmp"/python3-imageio_*.deb |
      tar -xO ./usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4 > "$COCKATOO.part"; then
      mv "$COCKATOO.part" "$COCKATOO"
    fi
    rm -f "$COCKATOO.part"
  fi
  rm -rf "$tmp"
  [[ -f $COCKATOO ]] && echo "fetch-test-data: $COCKATOO ready" ||
    echo "fetch-test-data: could not get cockatoo.mp4 from python3-imageio (its tests will skip)"
}

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); fi

if have; then
  fetch_cockatoo
  echo "fetch-test-data: ffmpeg and $VIDEO present ($((SECONDS - t_start)) s)"
  exit 0
fi

packages=()
command -v ffmpeg >/dev/null 2>&1 || packages+=(ffmpeg)
[[ -f $VIDEO ]] || packages+=(opencv-doc)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "fetch-test-data: no apt-get; install ${packages[*]} yourself (video tests will skip)"
  exit 0
fi
if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
  echo "fetch-test-data: not root and no passwordless sudo; install ${packages[*]} yourself (video tests will skip)"
  fetch_cockatoo
  exit 0
fi

echo "fetch-test-data: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# opencv-doc's examples carry vtest.avi; its recommends (a large docs tree) are not needed.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

fetch_cockatoo
if have; then
  echo "fetch-test-data: ready: $(ffmpeg -version | head -1 | cut -d' ' -f1-3), $VIDEO ($((SECONDS - t_start)) s)"
else
  echo "fetch-test-data: still missing ffmpeg or $VIDEO after apt-get (video tests will skip) ($((SECONDS - t_start)) s)"
fi
