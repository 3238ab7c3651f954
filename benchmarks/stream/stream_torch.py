"""PyTorch reference for benchmarks/stream/stream_cuda.ts, same GPU, same device run: eager and CUDA-graph
replay (torch.cuda.CUDAGraph), batch 1, channels_last, cuDNN benchmark mode, random weights. Cases: ResNet-50
trunk at 256x256 and 768x576 (TF32, fp32 and fp16), ResNet-50 + SimpleBaseline pose head at the same sizes (TF32),
FLAVR 2x at 512x512 and 1280x720 (TF32 and fp16: the model and its inputs in half, as model.half()). Median of N calls after warm-up, each timed as wall clock around the
call plus torch.cuda.synchronize() (as the tfjs side). Writes JSON to argv[1]; --quick: fewer runs, small FLAVR.
"""
import copy
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'benchmarks', 'backends'))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
from cuda_dense_torch import median_ms  # noqa: E402  (same timing as the other benchmarks)
from make_torch_fixtures import UNet_3D_3D  # noqa: E402

QUICK = '--quick' in sys.argv


def graphed(model, example):
    """A CUDA-graph replay of model(example): returns a callable that replays it."""
    static = [t.clone() for t in example] if isinstance(example, list) else example.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            model(static)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        model(static)
    return g.replay


def resnet50(pose):
    import torchvision
    m = torchvision.models.resnet50()
    layers = [m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4]
    if pose:  # SimpleBaseline: 3 x (ConvTranspose2d k4 s2 p1, BN, ReLU), 1x1 conv to 17 heatmaps
        c = 2048
        for _ in range(3):
            layers += [torch.nn.ConvTranspose2d(c, 256, 4, 2, 1, bias=False), torch.nn.BatchNorm2d(256), torch.nn.ReLU()]
            c = 256
        layers.append(torch.nn.Conv2d(256, 17, 1))
    return torch.nn.Sequential(*layers)


def both(res, key, model, x, runs, warmup):
    res[f'{key} eager'] = median_ms(lambda: model(x), runs, warmup)
    replay = graphed(model, x)
    res[f'{key} cudagraph'] = median_ms(replay, runs, warmup)


def main():
    out = sys.argv[1]
    torch.backends.cudnn.benchmark = True
    res = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version()}
    runs, warmup = (5, 3) if QUICK else (50, 10)
    with torch.inference_mode():
        for pose in (False, True):
            model = resnet50(pose).cuda().eval().to(memory_format=torch.channels_last)
            for h, w in ((256, 256), (576, 768)):
                x = torch.rand(1, 3, h, w, device='cuda').to(memory_format=torch.channels_last)
                for tf32 in ((True,) if pose else (True, False)):
                    torch.backends.cudnn.allow_tf32 = tf32
                    torch.backends.cuda.matmul.allow_tf32 = tf32
                    name = f'resnet50{" pose" if pose else ""} {w}x{h} b1 {"tf32" if tf32 else "fp32"}'
                    both(res, name, model, x, runs, warmup)
                    print(name, res[f'{name} eager'], res[f'{name} cudagraph'], flush=True)
                if not pose:
                    torch.backends.cudnn.allow_tf32 = True
                    name = f'resnet50 {w}x{h} b1 fp16'
                    both(res, name, copy.deepcopy(model).half(), x.half(), runs, warmup)
                    print(name, res[f'{name} eager'], res[f'{name} cudagraph'], flush=True)
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cuda.matmul.allow_tf32 = True
        model = UNet_3D_3D(1).cuda().eval()
        half = copy.deepcopy(model).half()
        for h, w in ((256, 256),) if QUICK else ((512, 512), (720, 1280)):
            frames = [torch.rand(1, 3, h, w, device='cuda') for _ in range(4)]
            for prec, m, xs in (('tf32', model, frames), ('fp16', half, [f.half() for f in frames])):
                name = f'flavr2x {w}x{h} {prec}'
                both(res, name, m, xs, 3 if QUICK else 20, 2 if QUICK else 5)
                print(name, res[f'{name} eager'], res[f'{name} cudagraph'], flush=True)
    with open(out, 'w') as f:
        json.dump(res, f, indent=1)


if __name__ == '__main__':
    main()
