"""Shared pieces of the importers: the result type and matching foreign keys to our operators."""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from oneshot.errors import LUTError
from oneshot.spaces.layout import LayeredSpace, OpSpec

from ..table import Entry, LatencyTable


@dataclass
class Imported:
    """An imported table plus what the import had to say about it."""

    table: LatencyTable
    notes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # source keys no operator of the space uses


@dataclass(frozen=True)
class Shape:
    """The fields a foreign key states about an operator; ``None`` means 'not stated, any value'."""

    kind: str
    cin: int
    cout: int
    in_hw: int
    stride: int | None = None
    kernel: int | None = None
    mid: int | None = None
    se: bool | None = None
    act: str | None = None
    residual: bool | None = None

    def matches(self, op: OpSpec) -> bool:
        if op.kind != self.kind:
            return False
        if (op.cin, op.cout, op.in_hw) != (self.cin, self.cout, self.in_hw):
            return False
        for name in ("stride", "kernel", "mid", "act"):
            want = getattr(self, name)
            if want is not None and getattr(op, name) != want:
                return False
        if self.se is not None and bool(op.se) != self.se:
            return False
        return self.residual is None or op.residual == self.residual


def need_space(space: Any, fmt: str) -> LayeredSpace:
    if space is None:
        raise LUTError(f"importing a {fmt} table needs the space it describes (--space NAME [-o KEY=VALUE]): "
                       "its keys are mapped to that space's operator signatures")
    return space


def match_shapes(space: LayeredSpace, shapes: dict[str, Shape], entries: dict[str, Entry]) -> Imported:
    """Map foreign keys to the space's operators. Ambiguous matches are errors; unused keys are reported."""
    table = LatencyTable()
    used: set[str] = set()
    for op in space.distinct_ops():
        if op.is_identity:
            continue
        hits = [k for k, shape in shapes.items() if shape.matches(op)]
        if len(hits) > 1:
            hits.sort()
            raise LUTError(f"operator {op.signature()} matches {len(hits)} keys of the table ({hits[0]}, "
                           f"{hits[1]}, ...): the table does not describe this space unambiguously")
        if hits:
            table.entries[op.signature()] = entries[hits[0]]
            used.add(hits[0])
    return Imported(table, unmatched=sorted(set(shapes) - used))


def source_provenance(path: str | os.PathLike, fmt: str, **extra: Any) -> dict[str, Any]:
    """Provenance of an imported table: the source file, its hash, the format, when imported."""
    p = Path(path)
    digest = hashlib.sha256()
    for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
        if f.is_file():
            digest.update(f.read_bytes())
    return {"source": f"imported {fmt} table {p.name}", "format": fmt, "source_sha256": digest.hexdigest(),
            "imported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **extra}


def space_positions(space: LayeredSpace) -> Iterable[Any]:
    """Searchable slots in dimension order (what position-keyed tables index)."""
    return sorted((s for s in space.slots if s.dim is not None), key=lambda s: s.dim)


def fixed_zero(space: LayeredSpace, table: LatencyTable, note: str) -> None:
    """Fixed slots cost 0 in position-keyed models: their time is inside the model's constant."""
    for slot in space.slots:
        if slot.dim is None:
            table.positional[slot.name] = {"fixed": Entry(0.0)}
    table.provenance.setdefault("fixed_parts", note)


def read_text(path: str | os.PathLike, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise LUTError(f"{what} {str(p)!r} does not exist")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LUTError(f"{what} {str(p)!r} is not a text file ({exc.reason} at byte {exc.start}); "
                       f"check the file and --format") from None
