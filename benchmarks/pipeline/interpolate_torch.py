"""PyTorch reference for benchmarks/pipeline/interpolate_cuda.ts, same GPU, same device run: FLAVR 2x (the reference
module of scripts/make_torch_fixtures.py, random weights) in half precision at each clip's size,
  - alone: median ms per window (eager, cudnn.benchmark, after warm-up, call + synchronize);
  - as a whole job the way a PyTorch script runs it: OpenCV decodes, frames go to the GPU, FLAVR, the middle frame
    comes back as bytes, OpenCV encodes (mp4v), one window after another; input frames per second.
  python3 benchmarks/pipeline/interpolate_torch.py <out.json> <clip.mp4>...
"""
import json
import os
import sys
import time

import cv2
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'benchmarks', 'backends'))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
from cuda_dense_torch import median_ms  # noqa: E402  (same timing as the other benchmarks)
from make_torch_fixtures import UNet_3D_3D  # noqa: E402


def padded(x):
    """x [1, 3, H, W] padded (reflect) to multiples of 8, as FLAVR's encoder needs and as the tfjs model does."""
    h, w = x.shape[-2:]
    return torch.nn.functional.pad(x, (0, -w % 8, 0, -h % 8), mode='reflect') if h % 8 or w % 8 else x


def to_gpu(frame_bgr):
    rgb = torch.from_numpy(frame_bgr[:, :, ::-1].copy()).cuda(non_blocking=True)
    return padded(rgb.permute(2, 0, 1).unsqueeze(0).half() / 255)


def whole_job(model, clip, out):
    cap = cv2.VideoCapture(clip)
    fps = cap.get(cv2.CAP_PROP_FPS)
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*'mp4v'), fps * 2, (w, h))
    frames, raw = [], []
    t0 = time.perf_counter()
    n = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        n += 1
        raw.append(f)
        frames.append(to_gpu(f))
        if len(frames) < 4:
            continue
        middle = model(frames[-4:])
        if isinstance(middle, (list, tuple)):
            middle = middle[0]
        byte = (middle[0, :, :h, :w].float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()[:, :, ::-1]
        writer.write(raw[-3])
        writer.write(byte)
        frames.pop(0)
        raw.pop(0)
    writer.release()
    seconds = time.perf_counter() - t0
    os.remove(out)
    return n / seconds


def main():
    out = sys.argv[1]
    torch.backends.cudnn.benchmark = True
    res = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version()}
    model = UNet_3D_3D(1).cuda().eval().half()
    with torch.inference_mode():
        for clip in sys.argv[2:]:
            cap = cv2.VideoCapture(clip)
            w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            cap.release()
            xs = [padded(torch.rand(1, 3, h, w, device='cuda').half()) for _ in range(4)]
            key = f'{w}x{h} fp16'
            res[f'model {key}'] = median_ms(lambda: model(xs), 20, 5)
            res[f'pipeline {key}'] = whole_job(model, clip, f'/tmp/torch_{w}x{h}.mp4')
            print(key, res[f'model {key}'], 'ms per window;', res[f'pipeline {key}'], 'input frames/s', flush=True)
    with open(out, 'w') as f:
        json.dump(res, f, indent=1)


if __name__ == '__main__':
    main()
