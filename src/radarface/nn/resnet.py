"""ResNet with bottleneck blocks, module names and shapes identical to torchvision's resnet50."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from radarface.nn.config import RESNET50_BLOCKS


def stage_widths(width: float) -> tuple[int, list[int]]:
    """Stem channels and the four stages' bottleneck widths for a width multiplier."""
    return max(1, round(64 * width)), [max(1, round(64 * width * 2**i)) for i in range(4)]


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3x3 conv): (B,inplanes,H,W) -> (B,4p,H/s,W/s)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )
            if stride != 1 or inplanes != out
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual bottleneck."""
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + identity)


def make_stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """`blocks` bottlenecks, the first one changing channels to 4*planes and applying `stride`."""
    layers = [Bottleneck(inplanes, planes, stride)]
    layers += [Bottleneck(planes * Bottleneck.expansion, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """torchvision's initialisation: Kaiming-normal (fan_out) convs, unit-gain batch norms."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet(nn.Module):
    """Bottleneck ResNet (B,C,H,W) -> (B,num_outputs); the defaults give torchvision's resnet50."""

    def __init__(
        self,
        in_channels: int = 3,
        num_outputs: int = 1000,
        width: float = 1.0,
        blocks: Sequence[int] = RESNET50_BLOCKS,
    ) -> None:
        super().__init__()
        stem, planes = stage_widths(width)
        self.conv1 = nn.Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = stem
        for i, (p, n) in enumerate(zip(planes, blocks, strict=True)):
            self.add_module(f"layer{i + 1}", make_stage(inplanes, p, n, 1 if i == 0 else 2))
            inplanes = p * Bottleneck.expansion
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_outputs)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,C,H,W) -> (B,num_outputs)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
