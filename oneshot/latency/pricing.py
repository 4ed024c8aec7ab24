"""A latency table applied to a space: coverage (what is missing), per-slot values, and the
``latency_ms`` ``CostTable`` of the space. The combined cost model (MACs, params and latency in one
table) is ``oneshot.costs.pricing.cost_model``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from oneshot.errors import LUTError
from oneshot.spaces.cost_table import CostTable
from oneshot.spaces.layout import LayeredSpace, OpSpec, Slot

from .table import Entry, LatencyTable, load_table

LATENCY = "latency_ms"

LutLike = Union[LatencyTable, str, os.PathLike, None]


@dataclass(frozen=True)
class Missing:
    """One (slot, choice) whose operator the table does not time."""

    slot: str
    label: str
    signature: str

    def __str__(self) -> str:
        return f"{self.slot}[{self.label}] {self.signature}"


def slot_labels(space: LayeredSpace, slot: Slot) -> tuple[str, ...]:
    """Choice labels of a slot (``('fixed',)`` for a fixed slot), as positional tables name them."""
    return space.dimensions[slot.dim].choices if slot.dim is not None else ("fixed",)


def as_table(lut: LutLike) -> LatencyTable | None:
    if lut is None or isinstance(lut, LatencyTable):
        return lut
    return load_table(lut)


def missing_entries(space: LayeredSpace, lut: LatencyTable) -> list[Missing]:
    """Every (slot, choice) of ``space`` the table cannot price, in network order."""
    out = []
    for slot in space.slots:
        for label, op in zip(slot_labels(space, slot), slot.ops):
            if op.is_identity and lut.lookup(op.signature(), slot.name, label) is None:
                continue  # a true identity costs nothing; tables need not list it
            if lut.lookup(op.signature(), slot.name, label) is None:
                out.append(Missing(slot.name, label, op.signature()))
    return out


def missing_signatures(missing: Sequence[Missing]) -> list[str]:
    """Distinct missing operator signatures, first-seen order (what a profile would have to time)."""
    return list(dict.fromkeys(m.signature for m in missing))


def _coverage_error(space: LayeredSpace, lut: LatencyTable, missing: Sequence[Missing]) -> LUTError:
    sigs = missing_signatures(missing)
    shown = "; ".join(sigs[:5]) + (f"; ... ({len(sigs) - 5} more)" if len(sigs) > 5 else "")
    source = lut.provenance.get("source") or lut.provenance.get("device") or "the latency table"
    return LUTError(f"{source} lacks {len(sigs)} operator signature(s) used by space {space.name!r} "
                    f"({len(missing)} slot choices): {shown}. List them all with `oneshot lut check --space "
                    f"{space.name} --lut FILE`; time them on this device with `oneshot lut profile --space "
                    f"{space.name} --out FILE` (it resumes and adds only what is missing)")


def latency_values(space: LayeredSpace, lut: LatencyTable, apply_correction: bool = False
                   ) -> tuple[dict[OpSpec, float], dict[str, list[float]], float]:
    """Latency of every operator, positional overrides per slot, and the constant part (ms).

    Raises ``LUTError`` naming the missing signatures when the table does not cover the space.
    ``apply_correction`` applies the table's fitted per-device ``scale`` and ``offset_ms``.
    """
    missing = missing_entries(space, lut)
    if missing:
        raise _coverage_error(space, lut, missing)
    scale, offset = 1.0, 0.0
    if apply_correction:
        if not lut.correction:
            raise LUTError("the latency table has no fitted correction; run `oneshot lut validate --space S "
                           "--lut FILE` first, or price without --apply-correction")
        scale = float(lut.correction.get("scale", 1.0))
        offset = float(lut.correction.get("offset_ms", 0.0))
    per_op: dict[OpSpec, list[float]] = {}
    per_slot: dict[str, list[float]] = {}
    for slot in space.slots:
        labels = slot_labels(space, slot)
        vals = []
        for label, op in zip(labels, slot.ops):
            entry = lut.lookup(op.signature(), slot.name, label) or Entry(0.0)  # uncovered => identity
            vals.append(entry.ms * scale)
            per_op.setdefault(op, []).append(entry.ms * scale)
        if slot.name in lut.positional:
            per_slot[slot.name] = vals
    # an operator's own value: its signature entry, else (position-only tables) its mean over slots,
    # used only for per-layer display; the gather uses the exact per-slot values above
    op_ms = {}
    for op, seen in per_op.items():
        entry = lut.entries.get(op.signature())
        op_ms[op] = entry.ms * scale if entry is not None else float(np.mean(seen))
    # the network overhead measured when this space was profiled (containers, identities, dispatch)
    overhead = float((lut.profiled_space(space.fingerprint()) or {}).get("overhead_ms", 0.0))
    return op_ms, per_slot, (lut.constant_ms + overhead) * scale + offset


def latency_table(space: LayeredSpace, lut: LutLike, apply_correction: bool = False) -> CostTable:
    """A ``CostTable`` with the single metric ``latency_ms`` for ``space`` from a latency table."""
    table = as_table(lut)
    op_ms, per_slot, constant = latency_values(space, table, apply_correction)
    cost = CostTable(space, {op: {LATENCY: v} for op, v in op_ms.items()}, (LATENCY,),
                     {LATENCY: latency_convention(table, apply_correction)},
                     slot_costs={s: [{LATENCY: v} for v in vals] for s, vals in per_slot.items()})
    cost.fixed[0] += constant
    return cost


def latency_convention(table: LatencyTable, corrected: bool) -> str:
    prov = table.provenance
    what = ", ".join(f"{k} {prov[k]}" for k in ("device", "threads", "batch", "resolution", "bn") if k in prov)
    text = f"sum of per-operator latencies (ms) from a lookup table ({what or 'no provenance'})"
    if corrected and table.correction:
        text += f"; corrected: x{table.correction.get('scale', 1.0):.4g} + {table.correction.get('offset_ms', 0.0):.4g} ms"
    return text


__all__ = ["latency_table", "latency_values", "latency_convention", "missing_entries", "missing_signatures",
           "Missing", "LATENCY", "slot_labels", "as_table"]
