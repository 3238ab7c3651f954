"""PyTorch eager reference for benchmarks/models/flavr_cuda.ts: FLAVR 2x (the reference module of
scripts/make_torch_fixtures.py, full width, random weights) at 256x256 and 512x512, batch 1, on the
GPU, TF32 (PyTorch's cuDNN default) and strict fp32. Median of 30 after 10 warm-ups, wall clock
around the call plus torch.cuda.synchronize(), as the tfjs side. Writes JSON to argv[1]."""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'benchmarks', 'backends'))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
from cuda_dense_torch import median_ms  # noqa: E402  (same timing as the dense benchmark)
from make_torch_fixtures import UNet_3D_3D  # noqa: E402


def main():
    res = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version()}
    torch.backends.cudnn.benchmark = True
    model = UNet_3D_3D(1).cuda().eval()
    with torch.inference_mode():
        for tf32 in (True, False):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            for size in (256, 512):
                frames = [torch.rand(1, 3, size, size, device='cuda') for _ in range(4)]
                res[f'flavr2x {size} {"tf32" if tf32 else "fp32"}'] = median_ms(lambda: model(frames))
    with open(sys.argv[1], 'w') as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == '__main__':
    main()
