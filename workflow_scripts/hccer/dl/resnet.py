"""ResNet-10/18/34/50 trunks in plain torch, with torchvision's layer names and shapes.

Names match `torchvision.models.resnet18/34/50` (conv1, bn1, layer1..4, downsample.0/1), so a
user's local torchvision/ImageNet `state_dict` loads with `load_pretrained`. `width` scales
every stage (64 = the published networks); smaller widths exist for fast tests only.
`resnet10` is the two-stage network of seed-002 §5: ResNet-18 cut after layer2 (stem, 2 x 2
BasicBlocks of 64 and 128 channels: 1 + 8 convolutions, + the head's FC = 10 layers), not
MONAI's four-stage resnet10.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from torch import nn

from hccer.errors import ConfigError

log = logging.getLogger(__name__)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        # stride on the 3x3 convolution, as torchvision (ResNet v1.5)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


# block type and blocks per stage; stage i (from 1) has width * 2**(i-1) planes
SPECS = {"resnet10": (BasicBlock, (2, 2)), "resnet18": (BasicBlock, (2, 2, 2, 2)),
         "resnet34": (BasicBlock, (3, 4, 6, 3)), "resnet50": (Bottleneck, (3, 4, 6, 3))}


class ResNetTrunk(nn.Module):
    """conv1 .. the last stage of a ResNet; `forward` returns the last feature map,
    (B, C, H/32, W/32) for four stages, (B, C, H/8, W/8) for the two of resnet10."""

    def __init__(self, arch: str = "resnet18", width: int = 64, in_channels: int = 3):
        super().__init__()
        if arch not in SPECS:
            raise ConfigError(f"backbone must be one of {sorted(SPECS)}, not {arch!r}")
        block, layers = SPECS[arch]
        self.arch, self.width = arch, width
        self.inplanes = width
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.stages = []
        for i, n_blocks in enumerate(layers):
            name = f"layer{i + 1}"
            setattr(self, name, self._make_layer(block, width * 2 ** i, n_blocks, 1 if i == 0
                                                 else 2))
            self.stages.append(name)
        self.out_channels = width * 2 ** (len(layers) - 1) * block.expansion
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.stages:
            x = getattr(self, name)(x)
        return x


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_pretrained(trunk: ResNetTrunk, path: str | Path) -> str:
    """Load a local torchvision-style ResNet state_dict (classifier `fc.*` ignored) into
    `trunk`; returns the file's SHA-256 so the job can record which weights it used."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pretrained weights file not found: {path} (weights are never "
                          "downloaded; put a torchvision ResNet state_dict there)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}
    own = trunk.state_dict()
    wrong = [k for k, v in state.items() if k in own and tuple(own[k].shape) != tuple(v.shape)]
    missing = sorted(set(own) - set(state))
    if wrong or missing:
        raise ConfigError(f"{path} does not fit a {trunk.arch} trunk of width {trunk.width}: "
                          f"shape mismatch {wrong[:3]}, missing {missing[:3]}")
    trunk.load_state_dict({k: v for k, v in state.items() if k in own})
    digest = sha256(path)
    log.info("loaded pretrained %s weights from %s (sha256 %s)", trunk.arch, path, digest)
    return digest
