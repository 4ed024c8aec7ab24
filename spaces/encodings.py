"""Architecture encodings used outside this project, read and written exactly.

- Integer vectors: one choice index per dimension (OSNASLib ``.npy``, HW-NAS-Bench lists, SPOS
  tuples). ``save_npy`` / ``load_npy`` / ``to_list`` / ``from_list``.
- TuNAS ``indices``: colon-separated integers, one per choice in post-order (73 for
  ``proxylessnas_search``). ``tunas_encode`` / ``tunas_decode`` (space ``tunas-proxylessnas``).
- MnasNet / S3NAS / EfficientNet block strings
  ``r{repeat}_k{k}_s{sy}{sx}_e{e}_i{Cin}_o{Cout}[_se{ratio}][_noskip]``: ``encode_blocks`` /
  ``decode_blocks`` for every space whose searchable operators are MBConvs (and true identities).

Framework-free (numpy only); every decoder validates and names the offending position.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from oneshot.atomic import atomic_open

from .core import Architecture, InvalidArchitectureError, SearchSpace
from .layout import LayeredSpace, OpSpec


class EncodingError(InvalidArchitectureError):
    """A foreign encoding cannot be read into (or written from) a space; the message says where."""


# ------------------------------------------------------------------------------ integer vectors
def to_list(arch: Sequence[int]) -> list[int]:
    """An architecture as a plain list of ints (JSON, HW-NAS-Bench style)."""
    return [int(i) for i in arch]


def from_list(space: SearchSpace, values: Iterable[int]) -> Architecture:
    """A list of choice indices, validated against ``space``."""
    return space.validate(list(values))


def save_npy(path: str | os.PathLike, archs: np.ndarray | Sequence[Sequence[int]]) -> Path:
    """Write an (n, dims) int64 matrix (or one architecture) to ``.npy`` atomically, no pickle."""
    matrix = np.asarray(archs, dtype=np.int64)
    if matrix.ndim not in (1, 2):
        raise ValueError(f"expected one architecture or an (n, dims) matrix, got shape {matrix.shape}")
    path = Path(path)
    with atomic_open(path, binary=True) as fh:
        np.save(fh, matrix, allow_pickle=False)
    return path


def load_npy(path: str | os.PathLike, space: SearchSpace) -> np.ndarray:
    """Read integer vectors from ``.npy`` (pickles refused) as a validated (n, dims) int64 matrix."""
    data = np.load(path, allow_pickle=False)
    if not np.issubdtype(data.dtype, np.integer):
        if np.issubdtype(data.dtype, np.floating) and np.all(np.mod(data, 1) == 0):
            data = data.astype(np.int64)
        else:
            raise EncodingError(f"{path}: expected integer choice indices, got dtype {data.dtype}")
    if data.ndim == 1:
        data = data[None, :]
    return space.validate_matrix(data.astype(np.int64))


# --------------------------------------------------------------------------------- TuNAS indices
TUNAS_SPACE = "tunas-proxylessnas"
#: bottleneck layers per block 2..7 of proxylessnas_search
_TUNAS_BLOCK_LAYERS = (4, 4, 4, 4, 4, 1)
TUNAS_LENGTH = 73
_TUNAS_SKIP = 6  # the skip choice of a skippable layer in the tunas-proxylessnas space
_TUNAS_KERNELS, _TUNAS_EXPANDS = 3, 2


def _check_tunas_space(space: SearchSpace) -> None:
    if space.name != TUNAS_SPACE:
        raise EncodingError(f"TuNAS index strings describe the {TUNAS_SPACE!r} space, not {space.name!r}; "
                            f"create it with create_space({TUNAS_SPACE!r})")


def tunas_encode(space: SearchSpace, arch: Sequence[int]) -> str:
    """The TuNAS ``indices`` string (73 integers, post-order) of an architecture.

    Layout: ``F0 | S F1 | (k e 0)(k e o)(k e o)(k e o) F2 | ... | (k e 0) F7 | F8`` with F* the
    (fixed, always 0) filter choices, S the sepconv kernel index, k/e the kernel/expansion index
    and o = 1 for a skipped layer (whose k and e are written as 0).
    """
    _check_tunas_space(space)
    arch = space.validate(arch)
    out = [0, arch[0], 0]
    dim = 1
    for block, layers in enumerate(_TUNAS_BLOCK_LAYERS, start=2):
        for _ in range(layers):
            choice = arch[dim]
            out += [0, 0, 1] if choice == _TUNAS_SKIP else [choice % _TUNAS_KERNELS, choice // _TUNAS_KERNELS, 0]
            dim += 1
        out.append(0)
    out.append(0)
    assert len(out) == TUNAS_LENGTH
    return ":".join(map(str, out))


def tunas_decode(space: SearchSpace, text: str) -> Architecture:
    """Read a TuNAS ``indices`` string (the inverse of ``tunas_encode``; k and e of skips ignored)."""
    _check_tunas_space(space)
    try:
        values = [int(t) for t in text.strip().split(":")]
    except ValueError:
        raise EncodingError(f"TuNAS indices must be colon-separated integers, got {text[:40]!r}...") from None
    if len(values) != TUNAS_LENGTH:
        raise EncodingError(f"TuNAS indices for {TUNAS_SPACE} have {TUNAS_LENGTH} integers, got {len(values)}")

    def take(pos: int, limit: int, what: str) -> int:
        v = values[pos]
        if not 0 <= v < limit:
            raise EncodingError(f"TuNAS index {pos} ({what}) is {v}; valid: 0..{limit - 1}")
        return v

    pos = 0
    take(pos, 1, "stem filters")
    arch = [take(1, _TUNAS_KERNELS, "sepconv kernel")]
    take(2, 1, "block 1 filters")
    pos = 3
    for block, layers in enumerate(_TUNAS_BLOCK_LAYERS, start=2):
        for layer in range(1, layers + 1):
            k = take(pos, _TUNAS_KERNELS, f"block {block} layer {layer} kernel")
            e = take(pos + 1, _TUNAS_EXPANDS, f"block {block} layer {layer} expansion")
            o = take(pos + 2, 2 if layer > 1 else 1, f"block {block} layer {layer} skip (the first layer "
                                                     "of a block is not skippable)")
            arch.append(_TUNAS_SKIP if o else e * _TUNAS_KERNELS + k)
            pos += 3
        take(pos, 1, f"block {block} filters")
        pos += 1
    take(pos, 1, "head filters")
    return space.validate(arch)


# ------------------------------------------------------------------------------ block strings
_BLOCK_RE = re.compile(r"r(\d+)_k(\d+)_s(\d)(\d)_e(\d+(?:\.\d+)?)_i(\d+)_o(\d+)(?:_se(\d*\.?\d+))?(_noskip)?")


@dataclass(frozen=True)
class BlockString:
    """One MnasNet-style block: ``repeat`` MBConvs, the first with ``stride`` and ``cin``."""

    repeat: int
    kernel: int
    stride: int
    expand: float
    cin: int
    cout: int
    se_ratio: float = 0.0   # SE hidden / Cin (MnasNet's convention); 0 = no SE
    noskip: bool = False

    @classmethod
    def parse(cls, text: str) -> "BlockString":
        m = _BLOCK_RE.fullmatch(text.strip())
        if not m:
            raise EncodingError(f"{text!r} is not a block string r{{repeat}}_k{{k}}_s{{sy}}{{sx}}_e{{e}}_"
                                "i{Cin}_o{Cout}[_se{ratio}][_noskip]")
        r, k, sy, sx, e, i, o, se, noskip = m.groups()
        if sy != sx:
            raise EncodingError(f"{text!r}: only square strides are supported (s{sy}{sx})")
        if int(r) < 1:
            raise EncodingError(f"{text!r}: repeat must be >= 1")
        return cls(int(r), int(k), int(sy), float(e), int(i), int(o), float(se or 0), bool(noskip))

    def format(self) -> str:
        e = f"{self.expand:g}"
        s = f"r{self.repeat}_k{self.kernel}_s{self.stride}{self.stride}_e{e}_i{self.cin}_o{self.cout}"
        if self.se_ratio:
            s += f"_se{self.se_ratio:g}"
        if self.noskip:
            s += "_noskip"
        return s

    def layers(self) -> list["BlockString"]:
        """The block expanded to single layers (MnasNet: later repeats have stride 1, Cin = Cout)."""
        first = BlockString(1, self.kernel, self.stride, self.expand, self.cin, self.cout, self.se_ratio, self.noskip)
        rest = BlockString(1, self.kernel, 1, self.expand, self.cout, self.cout, self.se_ratio, self.noskip)
        return [first] + [rest] * (self.repeat - 1)


def _layer_of(op: OpSpec, where: str) -> BlockString:
    if op.kind != "mbconv" or op.groups != 1 or op.expand_conv != (op.mid != op.cin) or op.kernels:
        raise EncodingError(f"{where}: operator {op.signature()} has no block-string form (only plain "
                            "MBConvs and identities do)")
    expand = op.mid / op.cin
    return BlockString(1, op.kernel, op.stride, expand, op.cin, op.cout,
                       op.se / op.cin if op.se else 0.0, False)


def _matches(op: OpSpec, layer: BlockString) -> bool:
    if op.kind != "mbconv" or op.groups != 1 or op.expand_conv != (op.mid != op.cin) or op.kernels:
        return False
    if (op.kernel, op.stride, op.cin, op.cout) != (layer.kernel, layer.stride, layer.cin, layer.cout):
        return False
    if op.mid != int(round(layer.cin * layer.expand)):
        return False
    if bool(op.se) != bool(layer.se_ratio):
        return False
    if op.se and abs(layer.se_ratio * layer.cin - op.se) >= 0.5:
        return False
    return not (layer.noskip and op.residual)


_PASSIVE_KINDS = ("conv", "pool", "linear", "maxpool")  # stem and head: not part of block strings


def encode_blocks(space: LayeredSpace, arch: Sequence[int]) -> list[str]:
    """Block strings of ``arch``'s MBConvs (fixed ones included), identities left out, equal
    consecutive layers merged into repeats. Raises EncodingError for operators with no string form."""
    layers: list[BlockString] = []
    for slot, op in space.active_ops(arch):
        if op.is_identity or (slot.dim is None and op.kind in _PASSIVE_KINDS):
            continue
        layers.append(_layer_of(op, f"slot {slot.name}"))
    blocks: list[BlockString] = []
    for layer in layers:
        last = blocks[-1] if blocks else None
        # MnasNet semantics: the repeats of a block have stride 1 and Cin = Cout, same k/e/SE ratio
        if (last is not None and layer.stride == 1 and layer.cin == layer.cout == last.cout
                and (layer.kernel, layer.expand, layer.se_ratio, layer.noskip)
                == (last.kernel, last.expand, last.se_ratio, last.noskip)):
            blocks[-1] = BlockString(last.repeat + 1, last.kernel, last.stride, last.expand, last.cin, last.cout,
                                     last.se_ratio, last.noskip)
        else:
            blocks.append(layer)
    return [b.format() for b in blocks]


def decode_blocks(space: LayeredSpace, blocks: Sequence[str] | str) -> Architecture:
    """The architecture of ``space`` whose MBConvs are exactly ``blocks`` (strings, or one string
    separated by whitespace/commas). Slots without a matching layer take their identity choice, or
    become inactive when gated by an elastic depth; anything else is an error naming the slot."""
    if isinstance(blocks, str):
        blocks = [b for b in re.split(r"[\s,;]+", blocks) if b]
    layers = [layer for b in blocks for layer in BlockString.parse(b).layers()]
    arch = [0] * len(space.dimensions)
    active: dict[int, bool] = {}
    pos = 0
    for slot in space.slots:
        layer = layers[pos] if pos < len(layers) else None
        if slot.dim is None:
            op = slot.ops[0]
            if op.kind in _PASSIVE_KINDS or op.is_identity:
                continue
            if layer is None or not _matches(op, layer):
                raise EncodingError(f"fixed slot {slot.name} ({op.signature()}) does not match "
                                    f"{layer.format() if layer else 'the end of the block list'}")
            pos += 1
            continue
        hit = next((i for i, op in enumerate(slot.ops) if layer is not None and _matches(op, layer)), None)
        if hit is not None:
            arch[slot.dim] = hit
            pos += 1
            if slot.gate is not None:
                active[id(slot)] = True
            continue
        if slot.gate is not None:
            active[id(slot)] = False
            continue
        ident = next((i for i, op in enumerate(slot.ops) if op.is_identity), None)
        if ident is None:
            raise EncodingError(f"slot {slot.name} of {space.name!r} has no choice matching "
                                f"{layer.format() if layer else 'the end of the block list'} and cannot be skipped; "
                                f"choices: {', '.join(space.dimensions[slot.dim].choices)}")
        arch[slot.dim] = ident
    if pos != len(layers):
        raise EncodingError(f"{len(layers) - pos} layer(s) left over after the last slot of {space.name!r}, "
                            f"first: {layers[pos].format()}")
    _set_depths(space, arch, active)
    return space.validate(arch)


def _set_depths(space: LayeredSpace, arch: list[int], active: dict[int, bool]) -> None:
    """Choose every elastic-depth dimension so exactly the matched gated slots are active."""
    by_depth: dict[int, list[tuple[int, bool, str]]] = {}
    for slot in space.slots:
        if slot.gate is not None and id(slot) in active:
            by_depth.setdefault(slot.gate[0], []).append((slot.gate[1], active[id(slot)], slot.name))
    for depth_dim, members in by_depth.items():
        ok = [d for d in range(space.dimensions[depth_dim].size)
              if all((d >= need) == on for need, on, _ in members)]
        if not ok:
            names = ", ".join(f"{n}={'on' if on else 'off'}" for _, on, n in members)
            raise EncodingError(f"no value of {space.dimensions[depth_dim].name} gives active blocks {names}")
        arch[depth_dim] = ok[0]
