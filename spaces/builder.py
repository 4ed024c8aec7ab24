"""A small helper that lays out a network slot by slot, tracking width and spatial size.

Built-in spaces describe themselves with it in a few lines each; it also applies the resolution
policy (stem stride, which stride-2 slots become stride 1 at CIFAR resolution).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from .core import Dimension
from .layout import LayeredSpace, OpSpec, ResolutionPolicy, Slot


def cifar_or_imagenet_policy(resolution: int, first_downsample: str, note: str = "") -> ResolutionPolicy:
    """The policy every ImageNet-defined space uses: at 224-like sizes keep the strides; at CIFAR
    sizes (<= 64 px) use stem stride 1 and make ``first_downsample`` stride 1 (32 px -> 4x4 map)."""
    if resolution <= 64:
        return ResolutionPolicy(resolution, 1, (first_downsample,),
                                note or f"CIFAR form: stem stride 1, {first_downsample} stride 1")
    return ResolutionPolicy(resolution, 2, (), note or "ImageNet form: all published strides")


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor`` without going more than 10 % down (MobileNet)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class LayoutBuilder:
    """Accumulates slots and dimensions; ``cin`` and ``in_hw`` of each op are filled in for you."""

    def __init__(self, policy: ResolutionPolicy):
        self.policy = policy
        self.channels = 3
        self.hw = policy.resolution
        self.slots: list[Slot] = []
        self.dimensions: list[Dimension] = []

    def _stride(self, name: str, stride: int) -> int:
        return 1 if name in self.policy.unstrided else stride

    def _op(self, name: str, spec: dict[str, Any]) -> OpSpec:
        spec = dict(spec)
        if "stride" in spec:
            spec["stride"] = self._stride(name, spec["stride"])
        return OpSpec(cin=self.channels, in_hw=self.hw, **spec)

    def _advance(self, op: OpSpec) -> None:
        self.channels, self.hw = op.cout, op.out_hw

    def fixed(self, name: str, stage: str = "", **spec: Any) -> OpSpec:
        """Append a fixed operator."""
        op = self._op(name, spec)
        self.slots.append(Slot(name, (op,), None, None, stage))
        self._advance(op)
        return op

    def stem(self, cout: int, act: str, name: str = "stem") -> OpSpec:
        """3x3 stem conv with the policy's stem stride."""
        op = OpSpec("conv", self.channels, cout, self.hw, self.policy.stem_stride, 3, act=act)
        self.slots.append(Slot(name, (op,), None, None, "stem"))
        self._advance(op)
        return op

    def choice(self, name: str, choices: Sequence[tuple[str, dict[str, Any]]], stage: str = "",
               gate: tuple[int, int] | None = None) -> int:
        """Append a searchable slot with one op per (label, spec); returns the dimension index."""
        ops = tuple(self._op(name, spec) for _, spec in choices)
        dim = len(self.dimensions)
        self.dimensions.append(Dimension(name, tuple(label for label, _ in choices)))
        self.slots.append(Slot(name, ops, dim, gate, stage))
        self._advance(ops[0])
        return dim

    def mb_stages(self, stages: Sequence[tuple[int, int, int]], choices: Sequence[tuple[str, float, int]],
                  act: str, *, skip_after_first: bool = False, start: int = 1, prefix: str = "s",
                  stage_prefix: str = "stage", **mb_options: Any) -> None:
        """Searchable MBConv stages, the MobileNetV2 pattern: ``stages`` holds (width, layers, first
        stride), ``choices`` (label, expand, kernel); every layer picks one MBConv (``mb_options`` go
        to ``mb``), plus an identity ``skip`` at every non-first layer of a stage when
        ``skip_after_first`` (the first changes width or stride). Layers are named
        ``{prefix}{stage}.l{layer}`` in stage ``{stage_prefix}{stage}``, stages counted from ``start``."""
        for s, (width, layers, first_stride) in enumerate(stages, start=start):
            for i in range(1, layers + 1):
                stride = first_stride if i == 1 else 1
                cin = self.channels
                ops = [(label, mb(width, e, k, stride, act, cin, **mb_options)) for label, e, k in choices]
                if skip_after_first and i > 1:
                    ops.append(("skip", skip(width)))
                self.choice(f"{prefix}{s}.l{i}", ops, stage=f"{stage_prefix}{s}")

    def dimension(self, name: str, labels: Sequence[str]) -> int:
        """A dimension that no slot reads directly (e.g. elastic depth, used by gates)."""
        self.dimensions.append(Dimension(name, tuple(labels)))
        return len(self.dimensions) - 1

    def head(self, widths: Sequence[int], act: str, num_classes: int, pool_after: int = 1,
             bn_after_pool: bool = True) -> None:
        """1x1 convs (``pool_after`` of them before the global pool, the rest after) and a linear."""
        for i, width in enumerate(widths):
            if i == pool_after:
                self.fixed("pool", "head", kind="pool", cout=self.channels)
            after_pool = i >= pool_after
            self.fixed(f"head{i}", "head", kind="conv", cout=width, kernel=1, act=act,
                       bn=not after_pool or bn_after_pool, bias=after_pool and not bn_after_pool)
        if pool_after >= len(widths):
            self.fixed("pool", "head", kind="pool", cout=self.channels)
        self.fixed("classifier", "head", kind="linear", cout=num_classes, bias=True)

    def space(self, cls: type[LayeredSpace], options: dict[str, Any], description: str = "") -> LayeredSpace:
        return cls(self.dimensions, self.slots, self.policy, options, description)


def mb(cout: int, expand: float, kernel: int, stride: int, act: str, cin: int, se: int = 0,
       groups: int = 1, always_expand: bool = False) -> dict[str, Any]:
    """Spec of an MBConv(expand, kernel) from ``cin`` (the 1x1 expansion is omitted at e = 1)."""
    mid = int(round(cin * expand))
    return dict(kind="mbconv", cout=cout, stride=stride, kernel=kernel, mid=mid,
                expand_conv=always_expand or expand != 1, se=se, act=act, groups=groups)


def skip(cout: int, stride: int = 1) -> dict[str, Any]:
    """Spec of a skip (identity when the shape is kept, else a 1x1 conv + BN)."""
    return dict(kind="skip", cout=cout, stride=stride)


__all__ = ["LayoutBuilder", "mb", "skip", "make_divisible", "cifar_or_imagenet_policy", "replace"]
