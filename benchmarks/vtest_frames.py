#!/usr/bin/env python3
"""Decodes vtest.avi into raw uint8 RGB frames (frames x height x width x 3) plus a JSON sidecar, for the GPU
machine, which has OpenCV but no ffmpeg. Usage: vtest_frames.py <vtest.avi> <out.u8> [frames] [width height]"""
import json
import sys

import cv2

src, dst = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 30
size = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else None
cap = cv2.VideoCapture(src)
if not cap.isOpened():
    sys.exit(f"vtest_frames.py: cannot open {src}")
count, h, w = 0, 0, 0
with open(dst, "wb") as out:
    while count < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        if size is not None:
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        out.write(rgb.tobytes())
        count += 1
if count == 0:
    sys.exit(f"vtest_frames.py: no frames decoded from {src}")
with open(dst + ".json", "w") as meta:
    json.dump({"frames": count, "height": h, "width": w, "source": src}, meta)
print(f"vtest_frames.py: {count} frames of {w}x{h} -> {dst}")
