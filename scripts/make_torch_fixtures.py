#!/usr/bin/env python3
"""Writes the PyTorch fixtures of the checkpoint-reader and model-parity tests into test/fixtures/torch/.

Needs CPU PyTorch (`python3 -m pip install torch==2.13.0+cpu`) and, for the safetensors format
fixture, the `safetensors` package (skipped with a message without it). The tests themselves only read
the committed files: CI needs neither Python nor torch.

    python3 scripts/make_torch_fixtures.py              # the small committed fixtures
    python3 scripts/make_torch_fixtures.py --full DIR   # full-width FLAVR 2x/8x + ResNet-50 into DIR (not
                                                        # committed; TFJS_DELTA_TORCH_FULL=DIR npm test uses them)

The reference modules are written here from the architecture descriptions with the exact module
names of the originals: FLAVR's UNet_3D_3D (github.com/tarun005/FLAVR, model/FLAVR_arch.py and
model/resnet_3D.py) and torchvision's ResNet, plus SimpleBaseline's pose head (deconv_layers,
final_layer). Widths are parameters so the committed fixtures stay small; the names and layouts are
the full models' (checked against the official FLAVR key list at full width below).
"""
import argparse
import collections
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, 'test', 'fixtures', 'torch')


# ----------------------------------------------------------------------------------------------
# FLAVR (UNet_3D_3D with unet_18/unet_34, concat joins, transposed up-sampling, no batch norm)
# ----------------------------------------------------------------------------------------------

class SEGating(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.attn_layer = nn.Sequential(nn.Conv3d(c, c, kernel_size=1, stride=1, bias=True), nn.Sigmoid())

    def forward(self, x):
        return x * self.attn_layer(self.pool(x))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, downsample, bias):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv3d(inplanes, planes, 3, stride, 1, bias=bias), nn.Identity(), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv3d(planes, planes, 3, 1, 1, bias=bias), nn.Identity())
        self.fg = SEGating(planes)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.fg(self.conv2(self.conv1(x)))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class Encoder(nn.Module):
    def __init__(self, widths, blocks, bias):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, widths[0], (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=bias), nn.Identity(), nn.ReLU())
        self.inplanes = widths[0]
        strides = [1, 2, 2, 1]
        for i in range(4):
            setattr(self, 'layer%d' % (i + 1), self._make_layer(widths[i], blocks[i], strides[i], bias))

    def _make_layer(self, planes, blocks, stride, bias):
        s = (1, stride, stride)
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv3d(self.inplanes, planes, 1, s, bias=False), nn.Identity())
        layers = [BasicBlock(self.inplanes, planes, s, downsample, bias)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, 1, None, bias) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x0 = self.stem(x)
        x1 = self.layer1(x0)
        x2 = self.layer2(x1)
        x3 = self.layer3(x2)
        x4 = self.layer4(x3)
        return x0, x1, x2, x3, x4


class Conv_3d(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv3d(cin, cout, 3, 1, 1, bias=True), SEGating(cout))

    def forward(self, x):
        return self.conv(x)


class upConv3D(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.upconv = nn.Sequential(nn.ConvTranspose3d(cin, cout, (3, 4, 4), (1, 2, 2), (1, 1, 1)), SEGating(cout))

    def forward(self, x):
        return self.upconv(x)


class Conv_2d(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, stride=1, padding=0, bias=False))

    def forward(self, x):
        return self.conv(x)


class UNet_3D_3D(nn.Module):
    def __init__(self, n_outputs, widths=(64, 128, 256, 512), depth=18, bias=None):
        super().__init__()
        w0, w1, w2, w3 = widths
        bias = n_outputs > 1 if bias is None else bias
        self.lrelu = nn.LeakyReLU(0.2)
        self.encoder = Encoder(widths, [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3], bias)
        self.decoder = nn.Sequential(Conv_3d(w3, w2), upConv3D(w2 * 2, w1), upConv3D(w1 * 2, w0), Conv_3d(w0 * 2, w0),
                                     upConv3D(w0 * 2, w0))
        self.feature_fuse = Conv_2d(w0 * 4, w0)
        self.outconv = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(w0, 3 * n_outputs, kernel_size=7, stride=1, padding=0))

    def forward(self, images):
        images = torch.stack(images, dim=2)
        mean_ = images.mean(2, keepdim=True).mean(3, keepdim=True).mean(4, keepdim=True)
        images = images - mean_
        x0, x1, x2, x3, x4 = self.encoder(images)
        d = torch.cat([self.lrelu(self.decoder[0](x4)), x3], dim=1)
        d = torch.cat([self.lrelu(self.decoder[1](d)), x2], dim=1)
        d = torch.cat([self.lrelu(self.decoder[2](d)), x1], dim=1)
        d = torch.cat([self.lrelu(self.decoder[3](d)), x0], dim=1)
        d = self.lrelu(self.decoder[4](d))
        d = torch.cat(torch.unbind(d, 2), 1)
        out = self.outconv(self.lrelu(self.feature_fuse(d)))
        out = torch.split(out, dim=1, split_size_or_sections=3)
        mean_ = mean_.squeeze(2)
        return [o + mean_ for o in out]


def flavr_any_size(model, frames):
    """Our definition for any H, W: reflect-pad the frames at their end to multiples of 8, run, crop."""
    h, w = frames[0].shape[-2:]
    ph, pw = (-h) % 8, (-w) % 8
    padded = [F.pad(f, (0, pw, 0, ph), mode='reflect') for f in frames]
    return torch.stack([o[..., :h, :w] for o in model(padded)], dim=1)  # [N, n, 3, H, W]


# ----------------------------------------------------------------------------------------------
# torchvision ResNet (v1.5: stride in the 3x3 of the bottleneck) and SimpleBaseline's pose head
# ----------------------------------------------------------------------------------------------

class TvBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, downsample, width=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TvBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


RESNET_LAYERS = {18: (TvBasicBlock, [2, 2, 2, 2]), 34: (TvBasicBlock, [3, 4, 6, 3]), 50: (TvBottleneck, [3, 4, 6, 3])}


class ResNet(nn.Module):
    """torchvision.models.resnet.ResNet's layout; head 'classifier' (avgpool + fc), 'pose' or 'none'."""

    def __init__(self, depth, width=64, head='classifier', num_classes=1000, deconv=256, joints=17):
        super().__init__()
        block, layers = RESNET_LAYERS[depth]
        self.head = head
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, n in enumerate(layers):
            setattr(self, 'layer%d' % (i + 1), self._make_layer(block, width * 2 ** i, n, 1 if i == 0 else 2))
        if head == 'classifier':
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(self.inplanes, num_classes)
        elif head == 'pose':
            layers = []
            for _ in range(3):
                layers += [nn.ConvTranspose2d(self.inplanes, deconv, 4, 2, 1, output_padding=0, bias=False),
                           nn.BatchNorm2d(deconv), nn.ReLU(inplace=True)]
                self.inplanes = deconv
            self.deconv_layers = nn.Sequential(*layers)
            self.final_layer = nn.Conv2d(deconv, joints, 1, 1, 0)

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, 1, None) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.head == 'classifier':
            return self.fc(torch.flatten(self.avgpool(x), 1))
        if self.head == 'pose':
            return self.final_layer(self.deconv_layers(x))
        return x


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def randomize(model, seed):
    """Seeded He-style weights, small biases, non-trivial BN statistics; eval mode."""
    g = torch.Generator().manual_seed(seed)
    randn = lambda *shape: torch.randn(*shape, generator=g)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                fan_in = m.weight[0].numel()
            elif isinstance(m, (nn.ConvTranspose2d, nn.ConvTranspose3d)):
                fan_in = m.weight.shape[0] * m.weight[0, 0].numel() / float(np.prod(m.stride))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * randn(m.weight.shape))
                m.bias.copy_(0.2 * randn(m.bias.shape))
                m.running_mean.copy_(0.2 * randn(m.running_mean.shape))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(7)
                continue
            else:
                continue
            m.weight.copy_(randn(m.weight.shape) * (2.0 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(0.1 * randn(m.bias.shape))
    return model.eval()


def write_safetensors(path, tensors):
    """A minimal safetensors writer (the format is an 8-byte header length, JSON, raw data)."""
    header, blobs, offset = {}, [], 0
    codes = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64', torch.int32: 'I32',
             torch.float64: 'F64', torch.uint8: 'U8', torch.bool: 'BOOL'}
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {'dtype': codes[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def training_checkpoint(model, seed):
    """{'epoch', 'state_dict' with DataParallel's 'module.' prefix, 'optimizer', 'best_psnr', 'lr'} as FLAVR's main.py saves."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    params = list(model.parameters())
    loss = sum((p * p).sum() for p in params) * 0.0  # one zero-gradient step: creates Adam state, leaves weights
    loss.backward()
    opt.step()
    opt.zero_grad()
    sd = collections.OrderedDict(('module.' + k, v) for k, v in model.state_dict().items())
    return {'epoch': 12, 'state_dict': sd, 'optimizer': opt.state_dict(), 'best_psnr': np.float64(33.25), 'lr': 2e-4}


def frames_input(n, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, h, w, generator=g)
    frames = []
    for t in range(4):  # a moving, smooth-ish pattern plus noise
        frames.append((base.roll(t, dims=3) * 0.7 + torch.rand(n, 3, h, w, generator=g) * 0.3).clamp(0, 1))
    return frames


def to_ndhwc(frames):
    return torch.stack(frames, dim=1).permute(0, 1, 3, 4, 2).contiguous()  # [N, 4, H, W, 3]


def check_flavr_names_against_official():
    ref = json.load(open(os.path.join(OUT, 'flavr_state_dict.json')))
    for factor, n in ((2, 1), (4, 3), (8, 7)):
        model = UNet_3D_3D(n)
        got = {'module.' + k: list(v.shape) for k, v in model.state_dict().items()}
        want = ref['flavr_%dx' % factor]
        assert got == want, 'FLAVR %dx names/shapes differ from the official ones: %s' % (
            factor, sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k)))
    print('full-width FLAVR 2x/4x/8x names and shapes match flavr_state_dict.json')


# ----------------------------------------------------------------------------------------------
# fixture sets
# ----------------------------------------------------------------------------------------------

def format_fixtures():
    """Checkpoint formats: the same tensors in every container, plus their values as JSON."""
    g = torch.Generator().manual_seed(1)
    base = torch.randn(3, 4, 5, generator=g)
    tensors = collections.OrderedDict([
        ('conv.weight', torch.randn(4, 3, 2, 2, generator=g)),
        ('conv.bias', torch.randn(4, generator=g)),
        ('transposed', base.permute(2, 0, 1)),           # a non-contiguous view [5, 3, 4]
        ('offset_view', base[1, 1:3, 2:]),               # storage offset and strides [2, 3]
        ('half', torch.randn(6, generator=g).half()),
        ('bf16', torch.randn(2, 3, generator=g).bfloat16()),
        ('double', torch.randn(3, generator=g).double()),
        ('long', torch.tensor([3, -2, 1 << 40])),
        ('int', torch.tensor([[7, -8]], dtype=torch.int32)),
        ('bool', torch.tensor([True, False, True])),
        ('scalar', torch.tensor(2.5)),
        ('empty', torch.zeros(0, 3)),
    ])
    values = {k: {'shape': list(v.shape), 'dtype': str(v.dtype).replace('torch.', ''), 'values': v.double().flatten().tolist()}
              for k, v in tensors.items()}
    json.dump(values, open(os.path.join(OUT, 'tensors.json'), 'w'))
    torch.save(tensors, os.path.join(OUT, 'tensors_zip.pt'))
    torch.save(tensors, os.path.join(OUT, 'tensors_legacy.pt'), _use_new_zipfile_serialization=False)
    torch.save(tensors, os.path.join(OUT, 'tensors_zip_p4.pt'), pickle_protocol=4)  # FRAME, MEMOIZE, STACK_GLOBAL...
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), os.path.join(OUT, 'scripted.pt'))  # not a checkpoint: must be refused
    # A training checkpoint: nested dict, 'module.' prefix, Adam state, numpy scalar, a shared storage.
    params = collections.OrderedDict(('module.' + k, v) for k, v in tensors.items())
    w = torch.nn.Parameter(tensors['conv.weight'].clone())
    opt = torch.optim.Adam([w], lr=1e-3)
    (w * w).sum().backward()
    opt.step()
    torch.save({'epoch': 3, 'state_dict': params, 'optimizer': opt.state_dict(), 'best_psnr': np.float64(31.5),
                'note': 'fixture', 'tags': ('a', 'b'), 'flags': {1, 2}},
               os.path.join(OUT, 'training_zip.pth'))
    torch.save({'model': collections.OrderedDict((k, v) for k, v in tensors.items() if v.dtype == torch.float32),
                'meta': {'version': 2}},
               os.path.join(OUT, 'model_key_legacy.pth'), _use_new_zipfile_serialization=False)
    try:
        import safetensors.torch
        safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, 'tensors.safetensors'))
    except ImportError:
        print('safetensors not installed: writing tensors.safetensors with the built-in writer', file=sys.stderr)
        write_safetensors(os.path.join(OUT, 'tensors.safetensors'), tensors)


def flavr_fixtures(out, widths, size, full=False):
    n_in = 2
    for factor, legacy in ((2, False), (8, True)):
        torch.manual_seed(factor)
        model = randomize(UNet_3D_3D(factor - 1, widths=widths), seed=10 + factor)
        ckpt = training_checkpoint(model, seed=factor)
        name = 'flavr%dx' % factor
        torch.save(ckpt, os.path.join(out, name + ('_legacy.pth' if legacy else '.pth')),
                   _use_new_zipfile_serialization=not legacy)
        io = collections.OrderedDict()
        for i, (h, w) in enumerate(size):
            frames = frames_input(n_in, h, w, seed=100 + i)
            with torch.no_grad():
                y = flavr_any_size(model, frames)  # [N, n, 3, H, W]
            io['input%d' % i] = to_ndhwc(frames)
            io['output%d' % i] = y.permute(0, 1, 3, 4, 2).contiguous()
        write_safetensors(os.path.join(out, name + '_io.safetensors'), io)


def resnet_fixtures(out, width, deconv, full=False):
    specs = [('resnet50', 50, 'classifier', (2, 3, 64, 64)), ('resnet18_pose', 18, 'pose', (1, 3, 64, 48))]
    if full:
        specs = [('resnet50', 50, 'classifier', (1, 3, 224, 224)), ('resnet50_pose', 50, 'pose', (1, 3, 256, 192))]
    for i, (name, depth, head, shape) in enumerate(specs):
        model = randomize(ResNet(depth, width=width, head=head, num_classes=10 if not full else 1000, deconv=deconv),
                          seed=20 + i)
        sd = model.state_dict()
        if name == 'resnet18_pose':
            write_safetensors(os.path.join(out, name + '.safetensors'), sd)
        else:
            torch.save(sd, os.path.join(out, name + '.pth'))
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(30 + i))
        with torch.no_grad():
            y = model(x)
        io = {'input': x.permute(0, 2, 3, 1).contiguous(),
              'output': y.permute(0, 2, 3, 1).contiguous() if y.dim() == 4 else y}
        write_safetensors(os.path.join(out, name + '_io.safetensors'), io)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--full', metavar='DIR', help='write full-width models into DIR instead')
    args = parser.parse_args()
    torch.set_num_threads(1)
    check_flavr_names_against_official()
    if args.full:
        os.makedirs(args.full, exist_ok=True)
        flavr_fixtures(args.full, (64, 128, 256, 512), [(64, 64)], full=True)
        resnet_fixtures(args.full, 64, 256, full=True)
        print('wrote full-width fixtures to', args.full)
        return
    os.makedirs(OUT, exist_ok=True)
    format_fixtures()
    # Tiny widths, distinct per stage so a transposed layout cannot pass by accident.
    flavr_fixtures(OUT, (4, 6, 8, 10), [(16, 24), (13, 21)])
    resnet_fixtures(OUT, 4, 8)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print('wrote %d files, %.0f KB, to %s' % (len(os.listdir(OUT)), total / 1024, OUT))


if __name__ == '__main__':
    main()
