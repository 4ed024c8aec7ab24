"""Macro structure of layer-wise spaces: operator descriptions (``OpSpec``) placed in ``Slot``s.

A network is a sequence of slots. A fixed slot always holds one operator; a searchable slot holds
one candidate operator per choice of its dimension; a gated slot (elastic depth) is active only when
a depth dimension is large enough. Everything that needs the network's structure (the builder, the
supernet, FLOPs/params tables, latency tables, canonical keys) reads this one description, so the
structure is written down exactly once per space. Framework-free: no torch here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .core import Architecture, Dimension, SearchSpace

ACTIVATIONS = ("relu", "relu6", "hswish", "swish", "none")

#: operator kinds understood by ``spaces.blocks.make_op``
OP_KINDS = (
    "conv",          # kxk conv (+BN) (+act)
    "mbconv",        # inverted residual: [1x1 expand] -> dw kxk (or MixConv) -> [SE] -> 1x1 project
    "skip",          # identity when shape is kept, else 1x1 conv + BN (stated per space)
    "shuffle",       # ShuffleNetV2 unit with a kxk depthwise conv
    "shuffle_xception",  # SPOS Xception-like unit: three (dw3x3 + 1x1) in the main branch
    "maxpool",       # 3x3 stride-2 max pool (SPOS ImageNet stem)
    "pool",          # global average pool + flatten
    "linear",        # classifier
    "zero",          # NAS-Bench-201 "none": the zero tensor of the input's shape (no parameters)
    "avgpool",       # 3x3 average pool, stride 1, padding 1, padding not counted (NAS-Bench-201)
    "relu_conv",     # ReLU -> kxk conv -> BN (NAS-Bench-201 / DARTS operator order)
    "resblock",      # NAS-Bench-201 residual reduction: two ReLU-conv-BN + (avg-pool 2, 1x1 conv) shortcut
    "bn",            # BN (+act) alone (NAS-Bench-201's last BN-ReLU before the pool)
)


def mix_split(channels: int, groups: int) -> list[int]:
    """MixConv's channel groups (MixNet): equal parts, the remainder to the first group."""
    split = [channels // groups] * groups
    split[0] += channels - sum(split)
    return split


def conv_out(hw: int, stride: int) -> int:
    """Spatial size after a 'same'-padded conv with this stride: ``(hw - 1) // stride + 1``."""
    return (hw - 1) // stride + 1


@dataclass(frozen=True)
class OpSpec:
    """One operator with everything that determines its cost (its latency-table signature)."""

    kind: str
    cin: int
    cout: int
    in_hw: int = 1
    stride: int = 1
    kernel: int = 1
    mid: int = 0            # hidden channels (mbconv, shuffle); 0 where meaningless
    expand_conv: bool = True  # mbconv: whether the 1x1 expansion conv exists
    se: int = 0             # squeeze-excite hidden channels; 0 = no SE
    act: str = "relu"
    groups: int = 1         # groups of the 1x1 convs (FBNet's group-2 variants)
    bn: bool = True
    bias: bool = False
    #: mbconv: MixConv kernels of the depthwise conv (MixNet; ``kernel`` is their largest); () = one kernel
    kernels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise ValueError(f"unknown operator kind {self.kind!r}; valid: {', '.join(OP_KINDS)}")
        if self.act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.act!r}; valid: {', '.join(ACTIVATIONS)}")
        if self.kernels:
            object.__setattr__(self, "kernels", tuple(int(k) for k in self.kernels))
            self._check_mixconv()

    def _check_mixconv(self) -> None:
        ks = self.kernels
        if self.kind != "mbconv":
            raise ValueError(f"MixConv kernels {list(ks)} belong to an mbconv, not a {self.kind}")
        if len(ks) < 2 or any(k < 1 or k % 2 == 0 for k in ks):
            raise ValueError(f"MixConv kernels {list(ks)}: give two or more odd kernel sizes")
        if self.kernel != max(ks):
            raise ValueError(f"MixConv kernels {list(ks)}: kernel must be their largest, {max(ks)}, not {self.kernel}")
        if self.mid < len(ks):
            raise ValueError(f"MixConv kernels {list(ks)} need at least {len(ks)} hidden channels, not {self.mid}")

    @property
    def out_hw(self) -> int:
        if self.kind in ("pool", "linear"):
            return 1
        return conv_out(self.in_hw, self.stride)

    @property
    def is_identity(self) -> bool:
        """True for a skip that is a real identity (no parameters, no compute)."""
        return self.kind == "skip" and self.cin == self.cout and self.stride == 1

    @property
    def residual(self) -> bool:
        return self.kind == "mbconv" and self.stride == 1 and self.cin == self.cout

    def signature(self) -> str:
        """Stable string naming everything that determines cost; equal signatures cost the same."""
        parts = [self.kind, f"in{self.in_hw}x{self.in_hw}x{self.cin}", f"out{self.cout}", f"s{self.stride}",
                 f"k{self.kernel}"]
        if self.kernels:
            parts.append("mix" + "_".join(map(str, self.kernels)))
        if self.mid:
            parts.append(f"mid{self.mid}")
        if self.kind == "mbconv" and not self.expand_conv:
            parts.append("noexp")
        if self.se:
            parts.append(f"se{self.se}")
        parts.append(self.act)
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        if not self.bn:
            parts.append("nobn")
        if self.bias:
            parts.append("bias")
        return "-".join(parts)

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.kernels:
            out["kernels"] = list(self.kernels)
        else:
            del out["kernels"]  # unchanged form for single-kernel operators
        return out


@dataclass(frozen=True)
class Slot:
    """A position in the network.

    ``dim`` is None for a fixed slot (``ops`` has one entry) or the index of the dimension choosing
    among ``ops``. ``gate = (depth_dim, min_index)`` makes the slot active only when
    ``arch[depth_dim] >= min_index`` (elastic depth); an inactive slot is skipped entirely.
    """

    name: str
    ops: tuple[OpSpec, ...]
    dim: int | None = None
    gate: tuple[int, int] | None = None
    stage: str = ""

    def op_for(self, arch: Sequence[int]) -> OpSpec | None:
        if self.gate is not None and arch[self.gate[0]] < self.gate[1]:
            return None
        return self.ops[0 if self.dim is None else arch[self.dim]]


@dataclass(frozen=True)
class ResolutionPolicy:
    """How a space's ImageNet definition is adapted to an input size (recorded with every artifact)."""

    resolution: int
    stem_stride: int
    #: names of slots whose stride-2 is replaced by stride 1 at this resolution
    unstrided: tuple[str, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"resolution": self.resolution, "stem_stride": self.stem_stride,
                "unstrided": list(self.unstrided), "note": self.note}


class LayeredSpace(SearchSpace):
    """A search space whose network is a sequence of slots (every built-in space is one)."""

    def __init__(self, dimensions: Sequence[Dimension], slots: Sequence[Slot],
                 policy: ResolutionPolicy, options: dict[str, Any] | None = None,
                 description: str = ""):
        super().__init__(dimensions, options)
        self.slots: tuple[Slot, ...] = tuple(slots)
        self.policy = policy
        self.description = description
        self._check_slots()
        self._identity_runs = self._find_identity_runs()

    @property
    def resolution(self) -> int:
        return self.policy.resolution

    @property
    def num_classes(self) -> int:
        last = self.slots[-1].ops[0]
        return last.cout

    def _check_slots(self) -> None:
        for slot in self.slots:
            if slot.dim is None:
                if len(slot.ops) != 1:
                    raise ValueError(f"fixed slot {slot.name} must have exactly one op")
            elif len(slot.ops) != self.dimensions[slot.dim].size:
                raise ValueError(f"slot {slot.name}: {len(slot.ops)} ops for a dimension of "
                                 f"{self.dimensions[slot.dim].size} choices")
            shapes = {(op.cin, op.in_hw) for op in slot.ops}
            outs = {(op.cout, op.out_hw) for op in slot.ops}
            if len(shapes) != 1 or len(outs) != 1:
                raise ValueError(f"slot {slot.name}: candidate ops disagree on input/output shape")

    # Consecutive searchable slots with identical candidate lists containing a true identity are
    # interchangeable positions: moving identities to the end of such a run keeps the network.
    def _find_identity_runs(self) -> list[tuple[list[int], int]]:
        runs: list[tuple[list[int], int]] = []
        current: list[int] = []
        current_ops: tuple[OpSpec, ...] | None = None
        for slot in self.slots:
            ident = [i for i, op in enumerate(slot.ops) if op.is_identity]
            usable = slot.dim is not None and slot.gate is None and len(ident) == 1
            if usable and slot.ops == current_ops:
                current.append(slot.dim)
            else:
                if current_ops is not None and len(current) > 1:
                    runs.append((current, [i for i, op in enumerate(current_ops) if op.is_identity][0]))
                current, current_ops = ([slot.dim], slot.ops) if usable else ([], None)
        if current_ops is not None and len(current) > 1:
            runs.append((current, [i for i, op in enumerate(current_ops) if op.is_identity][0]))
        return runs

    def _gated(self) -> list[tuple[int, int, int]]:
        """(dim, depth_dim, min_index) for every gated searchable slot."""
        return [(s.dim, s.gate[0], s.gate[1]) for s in self.slots if s.gate is not None and s.dim is not None]

    def canonicalize_matrix(self, matrix: np.ndarray) -> np.ndarray:
        m = np.array(matrix, dtype=np.int64, copy=True)
        if m.ndim == 1:
            m = m[None, :]
        for cols, ident in self._identity_runs:
            block = m[:, cols]
            order = np.argsort(block == ident, axis=1, kind="stable")
            m[:, cols] = np.take_along_axis(block, order, axis=1)
        for dim, depth_dim, min_index in self._gated():
            m[m[:, depth_dim] < min_index, dim] = 0  # inactive blocks do not change the network
        return m

    def canonicalize(self, arch: Sequence[int]) -> Architecture:
        return Architecture(self.canonicalize_matrix(np.asarray(arch, dtype=np.int64)[None, :])[0])

    def active_ops(self, arch: Sequence[int]) -> list[tuple[Slot, OpSpec]]:
        """The operators of ``arch`` in network order (inactive slots left out)."""
        arch = self.validate(arch)
        out = []
        for slot in self.slots:
            op = slot.op_for(arch)
            if op is not None:
                out.append((slot, op))
        return out

    #: whether the prefix-sharing scoring engine can score this space (a chain whose slots pass
    #: tensors); a cell space whose slots pass cell states sets False and is scored plainly
    prefix_engine: bool = True

    def module_for(self, slot: Slot, op: OpSpec) -> Any:
        """The ``nn.Module`` placed in ``slot`` for ``op`` (imports torch); cell spaces wrap it."""
        from .blocks import make_op

        return make_op(op)

    def build(self, arch: Sequence[int]) -> Any:
        """The standalone ``torch.nn.Module`` for ``arch`` (imports torch)."""
        from .network import build_network

        return build_network(self, arch)

    def distinct_ops(self) -> list[OpSpec]:
        """Every distinct operator that any architecture can use (for cost tables), in order."""
        seen: dict[OpSpec, None] = {}
        for slot in self.slots:
            for op in slot.ops:
                seen.setdefault(op, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["policy"] = self.policy.to_json()
        return data

