#!/usr/bin/env bash
# Repacks .device/node_modules.tar.xz (from ../shared/tools/device-pack.sh) without what the GPU-machine scripts never
# load: the dev tools (TypeScript, ESLint, Prettier, clang-format, dependency-cruiser), the WebGL backend, the tfjs
# packages' browser (UMD) bundles, the ffmpeg installer (the machine gets a static ffmpeg separately when needed) and
# nsfwjs's browser build and other models (its MobileNetV2 travels in .scratch/media), and every DejaVu face but the
# bold one the overlay captions use. With this checkout's node_modules the pack goes from ~61 to ~34 MB, which leaves
# room under the 64 MiB carry for dist, build/Release, the media and PoseNet's weights (.cache/human-models, 5 MB).
# Run from the project's root after device-pack.sh.
set -euo pipefail
[ -d .device ] || { echo "run ../shared/tools/device-pack.sh first" >&2; exit 1; }
tf=node_modules/@tensorflow
tar -C . --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.md' --exclude='*.min.js' \
  --exclude='*.es2017.js' --exclude='*.esm.js' --exclude='*.fesm.js' --exclude='node_modules/.cache' \
  --exclude='node_modules/typescript' --exclude='node_modules/typescript-eslint' \
  --exclude='node_modules/@typescript-eslint' --exclude='node_modules/eslint' --exclude='node_modules/prettier' \
  --exclude='node_modules/clang-format' --exclude='node_modules/dependency-cruiser' --exclude='node_modules/core-js' \
  --exclude='node_modules/@ffmpeg-installer' --exclude="$tf/tfjs-node*/deps" --exclude="$tf/tfjs-backend-webgl" \
  --exclude="$tf/tfjs/dist/tf.js" --exclude="$tf/tfjs/dist/miniprogram" --exclude="$tf/tfjs-core/dist/tf-core.js" \
  --exclude="$tf/tfjs-layers/dist/tf-layers.js" --exclude="$tf/tfjs-converter/dist/tf-converter.js" \
  --exclude="$tf/tfjs-backend-cpu/dist/tf-backend-cpu.js" --exclude="$tf/tfjs-data/dist/tf-data.js" \
  --exclude='node_modules/vega/build-es5' --exclude='node_modules/vega-lite/build/vega-lite-schema.json' \
  --exclude='node_modules/dejavu-fonts-ttf/status.txt' --exclude='node_modules/nsfwjs/dist/browser' \
  --exclude='DejaVuMath*' --exclude='DejaVuSerif*' --exclude='DejaVuSansMono*' --exclude='DejaVuSansCondensed*' \
  --exclude='DejaVuSans-*Oblique.ttf' --exclude='DejaVuSans-ExtraLight.ttf' --exclude='DejaVuSans.ttf' \
  --exclude='node_modules/nsfwjs/dist/models/inception_v3' --exclude='node_modules/nsfwjs/dist/models/mobilenet_v2_mid' \
  -cf - node_modules | xz -T0 -3 > .device/node_modules.tar.xz
du -sh .device
