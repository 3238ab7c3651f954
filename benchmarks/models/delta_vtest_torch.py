"""vtest.avi frames and the PyTorch eager reference for benchmarks/models/delta_vtest.ts (GPU machine, same run).

  python3 benchmarks/models/delta_vtest_torch.py frames <vtest.avi> <dir> <count> <HxW>[,<HxW>...]
      decodes the first <count> frames with OpenCV, area-scales them, writes <dir>/vtest_<H>x<W>.rgb (uint8 RGB,
      frame after frame): what TFJS_DELTA_VTEST_FRAMES=<dir> gives the node side.
  python3 benchmarks/models/delta_vtest_torch.py time <frames dir> <weights dir> <out.json> <outputs dir> [--frames N]
      [--warmup W] [--sizes HxW,...] [--fp32]
      ResNet-50 + SimpleBaseline pose head with the weights delta_vtest.js export-weights wrote (the tfjs model's,
      so both sides run the same network), and torchvision's MobileNetV2 with nsfwjs's head (1280-256-128-5,
      random weights: timing only, NCHW); eager, cuDNN benchmark mode, TF32 allowed (PyTorch's cuDNN default)
      unless --fp32. Frames are float32 CUDA tensors before timing (as on the tfjs side); each timed frame is
      wall clock from the call to the output copied to the host. Also writes each model's output on the first
      timed frame (NHWC float32) to <outputs dir>/<model>_<H>x<W>.f32 for the tfjs side to compare.
"""
import json
import os
import statistics
import sys
import time

import numpy as np


def parse_sizes(text):
    return [tuple(int(v) for v in s.split('x')) for s in text.split(',')]


def frames_command(video, out_dir, count, sizes):
    import cv2
    os.makedirs(out_dir, exist_ok=True)
    cap = cv2.VideoCapture(video)
    files = {s: open(os.path.join(out_dir, f'vtest_{s[0]}x{s[1]}.rgb'), 'wb') for s in sizes}
    n = 0
    while n < count:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        for (h, w), f in files.items():
            frame = rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            f.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        n += 1
    for f in files.values():
        f.close()
    print(f'frames: {n} of {video} at {", ".join(f"{h}x{w}" for h, w in sizes)} -> {out_dir}')
    if n < count:
        sys.exit(f'only {n} frames decoded, {count} wanted')


def resnet50_pose(weights_dir):
    import torch
    import torchvision
    m = torchvision.models.resnet50()
    layers = [m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4]

    class Pose(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for name, mod in zip(['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4'], layers):
                setattr(self, name, mod)
            deconv = []
            cin = 2048
            for _ in range(3):
                deconv += [torch.nn.ConvTranspose2d(cin, 256, 4, 2, 1, bias=False), torch.nn.BatchNorm2d(256),
                           torch.nn.ReLU(inplace=True)]
                cin = 256
            self.deconv_layers = torch.nn.Sequential(*deconv)
            self.final_layer = torch.nn.Conv2d(256, 17, 1)

        def forward(self, x):
            for name in ['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4', 'deconv_layers',
                         'final_layer']:
                x = getattr(self, name)(x)
            return x

    model = Pose()
    meta = json.load(open(os.path.join(weights_dir, 'resnet50_pose.json')))
    blob = np.fromfile(os.path.join(weights_dir, 'resnet50_pose.bin'), dtype=np.float32)
    state = {}
    for e in meta['entries']:
        size = int(np.prod(e['shape']))
        start = e['offset'] // 4
        state[e['name']] = torch.from_numpy(blob[start:start + size].reshape(e['shape']).copy())
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        sys.exit(f'resnet50_pose weights: missing {missing[:10]}, unexpected {unexpected[:10]}')
    # tfjs's BatchNormalization epsilon in models/resnet.ts is PyTorch's 1e-5: nothing to change.
    return model


def mobilenet_v2():
    import torch
    import torchvision
    m = torchvision.models.mobilenet_v2()
    m.classifier = torch.nn.Sequential(torch.nn.Linear(1280, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                       torch.nn.ReLU(), torch.nn.Linear(128, 5), torch.nn.Softmax(dim=1))
    return m


def time_command(frames_dir, weights_dir, out, outputs_dir, frames, warmup, sizes, strict):
    import torch
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = not strict
    torch.backends.cuda.matmul.allow_tf32 = not strict
    dev = 'cuda'
    os.makedirs(outputs_dir, exist_ok=True)
    res = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version(),
           'tf32': not strict, 'frames': frames, 'warmup': warmup, 'layout': 'NCHW eager', 'cases': {}}
    models = {'resnet50_pose': lambda: resnet50_pose(weights_dir), 'mobilenet_v2': mobilenet_v2}
    with torch.inference_mode():
        for name, build in models.items():
            model = build().to(dev).eval()
            for h, w in sizes:
                count = warmup + frames
                raw = np.fromfile(os.path.join(frames_dir, f'vtest_{h}x{w}.rgb'), dtype=np.uint8,
                                  count=count * h * w * 3).reshape(count, h, w, 3)
                xs = [torch.from_numpy(f).to(dev).permute(2, 0, 1).unsqueeze(0).float().div(255).contiguous() for f in raw]
                torch.cuda.synchronize()
                times = []
                for i, x in enumerate(xs):
                    t0 = time.perf_counter()
                    y = model(x).cpu()
                    ms = (time.perf_counter() - t0) * 1e3
                    if i >= warmup:
                        times.append(ms)
                    if i == warmup:
                        nhwc = y.permute(0, 2, 3, 1) if y.dim() == 4 else y
                        nhwc.contiguous().numpy().astype(np.float32).tofile(
                            os.path.join(outputs_dir, f'{name}_{h}x{w}.f32'))
                mean = sum(times) / len(times)
                res['cases'][f'{name} {h}x{w}'] = {'medianMs': statistics.median(times), 'meanMs': mean,
                                                   'fps': 1000 / mean, 'tf32': not strict}
                print(f'torch {name} {h}x{w}: {statistics.median(times):.2f} ms median, {1000 / mean:.1f} fps')
                del xs
            del model
            torch.cuda.empty_cache()
    with open(out, 'w') as f:
        json.dump(res, f, indent=1)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == 'frames':
        frames_command(rest[0], rest[1], int(rest[2]), parse_sizes(rest[3]))
    elif cmd == 'time':
        opts = {'--frames': '120', '--warmup': '10', '--sizes': '256x256,576x768'}
        pos = []
        i = 0
        strict = False
        while i < len(rest):
            if rest[i] == '--fp32':
                strict = True
            elif rest[i] in opts:
                opts[rest[i]] = rest[i + 1]
                i += 1
            else:
                pos.append(rest[i])
            i += 1
        time_command(pos[0], pos[1], pos[2], pos[3], int(opts['--frames']), int(opts['--warmup']),
                     parse_sizes(opts['--sizes']), strict)
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
