"""Standalone networks: an architecture of a layered space as a plain ``nn.Sequential``."""
from __future__ import annotations

from typing import Sequence

from torch import nn

from .layout import LayeredSpace


class SubNetwork(nn.Sequential):
    """A plain sequential network; ``arch`` and ``space_name`` record where it came from."""

    def __init__(self, modules: list[nn.Module], arch: tuple[int, ...], space_name: str):
        super().__init__(*modules)
        self.arch = tuple(arch)
        self.space_name = space_name


def build_network(space: LayeredSpace, arch: Sequence[int]) -> SubNetwork:
    """Fresh (randomly initialised) standalone network for ``arch``."""
    ops = space.active_ops(arch)
    model = SubNetwork([space.module_for(slot, op) for slot, op in ops], tuple(space.validate(arch)), space.name)
    init_weights(model)
    return model


def init_weights(model: nn.Module) -> None:
    """He init for convs, zero bias, unit BN, small normal classifier (torchvision's MobileNet)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
