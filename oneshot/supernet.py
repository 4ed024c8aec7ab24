"""``Supernet``: every candidate operator of every slot, one forward along a chosen path.

Weight sharing is structural: slot ``i`` holds one module per choice and a path picks one of them,
so a path's forward is exactly the standalone network's forward with those modules (no masks, no
extra work), and ``extract`` copies those modules out into a plain ``nn.Sequential``.
"""
from __future__ import annotations

import copy
from typing import Iterator, Sequence

import torch
from torch import nn

from oneshot.spaces.layout import LayeredSpace
from oneshot.spaces.network import SubNetwork, init_weights


class Supernet(nn.Module):
    """All candidate ops of ``space``; ``forward(x, arch)`` runs only the ops on ``arch``'s path."""

    def __init__(self, space: LayeredSpace):
        super().__init__()
        self.space = space
        self.slots = nn.ModuleList(nn.ModuleList(space.module_for(slot, op) for op in slot.ops)
                                   for slot in space.slots)
        init_weights(self)
        self._active: tuple[int, ...] | None = None

    def set_active(self, arch: Sequence[int]) -> None:
        """Path used when ``forward`` is called without ``arch`` (tracing tools, BN calibration)."""
        self._active = tuple(self.space.validate(arch))

    def path_modules(self, arch: Sequence[int]) -> Iterator[nn.Module]:
        """The modules on ``arch``'s path, in network order (inactive gated slots left out)."""
        for slot, candidates in zip(self.space.slots, self.slots):
            if slot.gate is not None and arch[slot.gate[0]] < slot.gate[1]:
                continue
            yield candidates[0 if slot.dim is None else arch[slot.dim]]

    def forward(self, x: torch.Tensor, arch: Sequence[int] | None = None) -> torch.Tensor:
        if arch is None:
            if self._active is None:
                raise ValueError("Supernet.forward needs an architecture: pass arch= or call set_active(arch)")
            arch = self._active
        for module in self.path_modules(arch):
            x = module(x)
        return x

    def path_parameters(self, arch: Sequence[int]) -> Iterator[nn.Parameter]:
        for module in self.path_modules(arch):
            yield from module.parameters()

    def extract(self, arch: Sequence[int]) -> SubNetwork:
        """A standalone network for ``arch`` carrying copies of the inherited weights and BN stats."""
        arch = self.space.validate(arch)
        modules = [copy.deepcopy(m) for m in self.path_modules(arch)]
        net = SubNetwork(modules, tuple(arch), self.space.name)
        net.train(self.training)
        return net
