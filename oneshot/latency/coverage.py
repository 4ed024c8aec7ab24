"""Which registered space a table fits: matched operator signatures per space (for ``lut check``).

A published table keyed by operator shape covers the space it was measured for; checked against
another space it reads as "71 signatures missing". Scoring every registered space by how many of
its distinct operators the table prices names the right one. Candidates are each space at its
default options, at the options the table was imported for, and at every input size the table's
stems state (``conv-in{R}x{R}x3``), so an OFA table at 160 px points at ``resolution=160``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from oneshot.spaces.layout import LayeredSpace

from .pricing import slot_labels
from .table import LatencyTable

_STEM = re.compile(r"^conv-in(\d+)x\1x3-")


@dataclass(frozen=True)
class Fit:
    """How much of one space (at given options) a table prices."""

    space: str
    options: dict[str, Any]
    matched: int
    total: int

    @property
    def fraction(self) -> float:
        return self.matched / self.total if self.total else 0.0

    def cli_options(self) -> str:
        return "".join(f" -o {k}={v}" for k, v in self.options.items())


def space_fit(space: LayeredSpace, table: LatencyTable, options: dict[str, Any] | None = None) -> Fit:
    """Distinct non-identity operators of ``space`` that ``table`` prices (positional entries count)."""
    priced: dict[str, bool] = {}
    for slot in space.slots:
        for label, op in zip(slot_labels(space, slot), slot.ops):
            if op.is_identity:
                continue
            sig = op.signature()
            priced[sig] = priced.get(sig, False) or table.lookup(sig, slot.name, label) is not None
    opts = dict(space.options) if options is None else options
    return Fit(space.name, opts, sum(priced.values()), len(priced))


def _candidates(table: LatencyTable) -> list[tuple[str, dict[str, Any]]]:
    from oneshot.spaces import list_spaces, space_options

    sizes = sorted({int(m.group(1)) for sig in table.entries if (m := _STEM.match(sig))})
    imported = table.provenance.get("space") or {}
    out: list[tuple[str, dict[str, Any]]] = []
    for name in list_spaces():
        valid = space_options(name)
        out.append((name, {}))
        if imported.get("name") == name:
            out.append((name, {k: v for k, v in (imported.get("options") or {}).items() if k in valid}))
        if "resolution" in valid:
            out += [(name, {"resolution": r}) for r in sizes if r != valid["resolution"]]
    # options equal to the defaults are left out, so one space at one size is scored once
    trimmed = [(n, {k: v for k, v in o.items() if space_options(n).get(k) != v}) for n, o in out]
    return list({(n, tuple(sorted(o.items()))): (n, o) for n, o in trimmed}.values())


def best_fits(table: LatencyTable, top: int = 3) -> list[Fit]:
    """Registered spaces (and options) ranked by matched operators, most first; spaces that fail to
    build at a candidate size are skipped."""
    from oneshot.spaces import create_space

    fits = []
    for name, options in _candidates(table):
        try:
            space = create_space(name, **options)
        except Exception:  # noqa: BLE001 - a size a space refuses is simply not a candidate
            continue
        if isinstance(space, LayeredSpace):
            fits.append(space_fit(space, table, options))
    fits.sort(key=lambda f: (-f.matched, -f.fraction, f.space))
    return [f for f in fits if f.matched][:top]
