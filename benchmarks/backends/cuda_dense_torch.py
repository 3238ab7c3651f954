"""PyTorch eager reference for benchmarks/backends/cuda_dense.ts, run on the GPU machine in the same session.

Same cases as the tfjs benchmark, NCHW (PyTorch's default), cuDNN benchmark mode, TF32 allowed (the default
for cuDNN convolutions) unless --fp32. Median of N runs after warm-up, each timed as wall clock around the
call plus torch.cuda.synchronize() (the tfjs side is timed the same way). Writes JSON to argv[1].
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

WARMUP, RUNS = 10, 30


def median_ms(fn, runs=RUNS, warmup=WARMUP):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def resnet50_trunk():
    import torchvision
    m = torchvision.models.resnet50()
    return torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)


def main():
    out = sys.argv[1]
    strict = '--fp32' in sys.argv
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = not strict
    torch.backends.cuda.matmul.allow_tf32 = not strict
    dev = 'cuda'
    res = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version(),
           'tf32': not strict}
    with torch.inference_mode():
        x = torch.randn(1, 64, 128, 128, device=dev)
        w = torch.randn(64, 64, 3, 3, device=dev)
        b = torch.randn(64, device=dev)
        res['conv2d 3x3 64->64 1x128x128 bias relu'] = median_ms(lambda: F.relu(F.conv2d(x, w, b, padding=1)))
        x3 = torch.randn(1, 64, 4, 128, 128, device=dev)
        w3 = torch.randn(64, 64, 3, 3, 3, device=dev)
        b3 = torch.randn(64, device=dev)
        res['conv3d 3x3x3 64->64 1x4x128x128 bias'] = median_ms(lambda: F.conv3d(x3, w3, b3, padding=1))
        xt = torch.randn(1, 64, 4, 64, 64, device=dev)
        wt = torch.randn(64, 32, 3, 4, 4, device=dev)
        res['conv3dTranspose k(3,4,4) s(1,2,2) 64->32 1x4x64x64'] = median_ms(
            lambda: F.conv_transpose3d(xt, wt, None, stride=(1, 2, 2), padding=(1, 1, 1)))
        a = torch.randn(256, 2048, device=dev)
        wm = torch.randn(2048, 1000, device=dev)
        res['matMul 256x2048x1000 bias relu'] = median_ms(lambda: F.relu(a @ wm + b.new_ones(1000)))
        model = resnet50_trunk().to(dev).eval()
        for batch in (1, 32):
            xi = torch.randn(batch, 3, 256, 256, device=dev)
            res[f'resnet50 trunk 256x256 b{batch}'] = median_ms(lambda: model(xi))
    with open(out, 'w') as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == '__main__':
    main()
