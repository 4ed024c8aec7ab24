"""Building blocks, implemented once: every ``OpSpec`` kind becomes an ``nn.Module`` here.

Conventions follow the reference implementations (torchvision MobileNetV2/MnasNet, OFA, SPOS):
convs without bias when followed by BN, 'same' padding ``k // 2``, residual iff stride 1 and equal
widths, SE = pool -> 1x1 (bias) -> ReLU -> 1x1 (bias) -> hard-sigmoid.
"""
from __future__ import annotations

import torch
from torch import nn

from .layout import OpSpec, mix_split


def make_activation(name: str) -> nn.Module:
    """Activation module by name (``relu``, ``relu6``, ``hswish``, ``swish``, ``none``)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name == "hswish":
        return nn.Hardswish(inplace=True)
    if name == "swish":
        return nn.SiLU(inplace=True)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}")


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int, act: str, groups: int = 1,
                bn: bool = True, bias: bool = False) -> nn.Sequential:
    """Conv (+BN) (+activation) with 'same' padding."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=bias)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    if act != "none":
        layers.append(make_activation(act))
    return nn.Sequential(*layers)


class PooledConv(nn.Sequential):
    """A 1x1 conv (+BN) (+act) placed after the global pool (OFA/MobileNetV3 heads).

    The pool flattens to (N, C); this accepts that and a 4D (N, C, 1, 1) map alike, so costs are
    counted on the 1x1 map and the network keeps passing vectors. Same children as
    ``conv_bn_act``, so parameter names are unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return super().forward(x[:, :, None, None]).flatten(1)
        return super().forward(x)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with a hard-sigmoid gate (MobileNetV3 / OFA)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, 1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.expand = nn.Conv2d(hidden, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


class ChannelShuffle(nn.Module):
    """ShuffleNet channel shuffle: (N, g*c, H, W) -> interleave the ``g`` groups (no parameters)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.reshape(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class MixDepthwise(nn.Module):
    """MixConv (MixNet, Tan & Le 2019): the channels split into groups (``mix_split``), each group
    a depthwise conv of its own kernel, the results concatenated; no bias (a BN follows)."""

    def __init__(self, channels: int, kernels: tuple[int, ...], stride: int):
        super().__init__()
        self.splits = mix_split(channels, len(kernels))
        self.convs = nn.ModuleList(nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False)
                                   for c, k in zip(self.splits, kernels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.splits, 1)
        return torch.cat([conv(part) for conv, part in zip(self.convs, parts)], 1)


def depthwise_bn_act(spec: OpSpec) -> nn.Sequential:
    """The MBConv's depthwise conv (one kernel, or MixConv's kernel list) + BN + activation."""
    if not spec.kernels:
        return conv_bn_act(spec.mid, spec.mid, spec.kernel, spec.stride, spec.act, groups=spec.mid)
    layers: list[nn.Module] = [MixDepthwise(spec.mid, spec.kernels, spec.stride), nn.BatchNorm2d(spec.mid)]
    if spec.act != "none":
        layers.append(make_activation(spec.act))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand + BN + act] -> dw kxk (or MixConv) + BN + act -> [SE] -> 1x1 + BN."""

    def __init__(self, spec: OpSpec):
        super().__init__()
        layers: list[nn.Module] = []
        if spec.expand_conv:
            layers.append(conv_bn_act(spec.cin, spec.mid, 1, 1, spec.act, groups=spec.groups))
            if spec.groups > 1:
                # FBNet's grouped 1x1s: shuffle so the two groups mix before the depthwise conv
                layers.append(ChannelShuffle(spec.groups))
        layers.append(depthwise_bn_act(spec))
        if spec.se:
            layers.append(SqueezeExcite(spec.mid, spec.se))
        layers.append(conv_bn_act(spec.mid, spec.cout, 1, 1, "none", groups=spec.groups))
        self.body = nn.Sequential(*layers)
        self.residual = spec.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


def channel_shuffle_split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SPOS's shuffle: interleave channels into two halves (groups 2) and return both halves."""
    b, c, h, w = x.shape
    x = x.reshape(b * c // 2, 2, h * w).permute(1, 0, 2).reshape(2, b, c // 2, h, w)
    return x[0], x[1]


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit as in SPOS: stride 2 -> both branches see the whole input; stride 1 ->
    channel split, identity half, concat (the shuffle happens at the next unit's input)."""

    def __init__(self, spec: OpSpec):
        super().__init__()
        self.stride = spec.stride
        branch_in = spec.cin if spec.stride == 2 else spec.cin // 2
        branch_out = spec.cout - branch_in
        k, act = spec.kernel, spec.act
        if spec.kind == "shuffle":
            main = [
                conv_bn_act(branch_in, spec.mid, 1, 1, act),
                conv_bn_act(spec.mid, spec.mid, k, spec.stride, "none", groups=spec.mid),
                conv_bn_act(spec.mid, branch_out, 1, 1, act),
            ]
        else:  # Xception-like: three (dw3x3 + BN, 1x1 + BN + act)
            main = [
                conv_bn_act(branch_in, branch_in, 3, spec.stride, "none", groups=branch_in),
                conv_bn_act(branch_in, spec.mid, 1, 1, act),
                conv_bn_act(spec.mid, spec.mid, 3, 1, "none", groups=spec.mid),
                conv_bn_act(spec.mid, spec.mid, 1, 1, act),
                conv_bn_act(spec.mid, spec.mid, 3, 1, "none", groups=spec.mid),
                conv_bn_act(spec.mid, branch_out, 1, 1, act),
            ]
        self.main = nn.Sequential(*main)
        self.proj = None
        if spec.stride == 2:
            self.proj = nn.Sequential(
                conv_bn_act(branch_in, branch_in, k, 2, "none", groups=branch_in),
                conv_bn_act(branch_in, branch_in, 1, 1, act),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            keep, x = channel_shuffle_split(x)
            return torch.cat((keep, self.main(x)), 1)
        return torch.cat((self.proj(x), self.main(x)), 1)


class GlobalPool(nn.Module):
    """Global average pool + flatten."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))


class Zero(nn.Module):
    """NAS-Bench-201's ``none`` edge: zeros of the input's shape (no parameters, no MACs)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def relu_conv_bn(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    """ReLU -> conv (no bias) -> BN. The ReLU is not in place: a cell node feeds several edges."""
    return nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


class ResidualReduction(nn.Module):
    """NAS-Bench-201's reduction block: ``conv_b(conv_a(x)) + shortcut(x)`` with two 3x3
    ReLU-conv-BN (the first of stride 2) and a 2x2 average pool + 1x1 conv shortcut; no final ReLU."""

    def __init__(self, spec: OpSpec):
        super().__init__()
        self.conv_a = relu_conv_bn(spec.cin, spec.cout, 3, spec.stride)
        self.conv_b = relu_conv_bn(spec.cout, spec.cout, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(spec.cin, spec.cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class CellEdge(nn.Module):
    """One edge ``dst <- src`` of a cell whose edges run in the order (1<-0), (2<-0), (2<-1), ...

    The value passed between edges is the tuple of node tensors computed so far: the first edge of
    a cell receives the cell input (node 0) as a tensor, an edge adds ``op(nodes[src])`` into
    ``nodes[dst]`` (starting it when it is new) and the cell's last edge returns the last node as a
    tensor. So a cell is a chain of slots and the supernet, extraction and BN calibration see a
    plain sequence of modules.
    """

    def __init__(self, op: nn.Module, src: int, dst: int, last: bool):
        super().__init__()
        self.op = op
        self.src, self.dst, self.last = src, dst, last

    def forward(self, x):
        nodes = (x,) if isinstance(x, torch.Tensor) else tuple(x)
        out = self.op(nodes[self.src])
        if self.dst < len(nodes):
            nodes = nodes[:self.dst] + (nodes[self.dst] + out,) + nodes[self.dst + 1:]
        else:
            nodes = nodes + (out,)
        return nodes[-1] if self.last else nodes

    def extra_repr(self) -> str:
        return f"{self.dst}<-{self.src}"


def make_op(spec: OpSpec) -> nn.Module:
    """The module for one operator description."""
    if spec.kind == "conv":
        if spec.in_hw == 1 and spec.kernel == 1:
            # after the global pool the input is a flattened vector (see PooledConv)
            return PooledConv(*conv_bn_act(spec.cin, spec.cout, 1, 1, spec.act, spec.groups,
                                           bn=spec.bn, bias=spec.bias))
        return conv_bn_act(spec.cin, spec.cout, spec.kernel, spec.stride, spec.act, spec.groups,
                           bn=spec.bn, bias=spec.bias)
    if spec.kind == "mbconv":
        return MBConv(spec)
    if spec.kind == "skip":
        if spec.is_identity:
            return nn.Identity()
        # a skip that changes shape cannot be an identity: 1x1 conv + BN, counted honestly
        return conv_bn_act(spec.cin, spec.cout, 1, spec.stride, "none")
    if spec.kind in ("shuffle", "shuffle_xception"):
        return ShuffleUnit(spec)
    if spec.kind == "maxpool":
        return nn.MaxPool2d(3, 2, 1)
    if spec.kind == "pool":
        return GlobalPool()
    if spec.kind == "linear":
        return nn.Linear(spec.cin, spec.cout, bias=spec.bias)
    if spec.kind == "zero":
        return Zero()
    if spec.kind == "avgpool":
        return nn.AvgPool2d(3, stride=spec.stride, padding=1, count_include_pad=False)
    if spec.kind == "relu_conv":
        return relu_conv_bn(spec.cin, spec.cout, spec.kernel, spec.stride)
    if spec.kind == "resblock":
        return ResidualReduction(spec)
    if spec.kind == "bn":
        return nn.Sequential(nn.BatchNorm2d(spec.cout), make_activation(spec.act))
    raise ValueError(f"no module for operator kind {spec.kind!r}")
