"""Pricing glue: a latency table becomes a ``CostTable`` for a space, next to exact MACs/params.

``cost_model(space, lut)`` is the one combined table a search prices with: metrics ``macs``,
``params`` and (when a table is given) ``latency_ms``, all summed over the same per-slot gather, so
a batch of architectures is priced in one vectorised pass and ``bounds()`` gives the exact extremes.
``check_budget`` turns those extremes into an early, explicit error for budgets nothing can meet.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

import numpy as np

from oneshot.costs.table import CostTable
from oneshot.errors import ConfigError, LUTError
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
                     {LATENCY: _latency_convention(table, apply_correction)},
                     slot_costs={s: [{LATENCY: v} for v in vals] for s, vals in per_slot.items()})
    cost.fixed[0] += constant
    return cost


def cost_model(space: LayeredSpace, lut: LutLike = None, apply_correction: bool = False) -> CostTable:
    """The combined cost table of ``space``: ``macs``, ``params`` and, given a table, ``latency_ms``.

    One gather prices all metrics of a batch (``table.price(matrix)``); ``table.bounds()`` gives the
    exact minimum and maximum of each over the whole space. ``lut`` is a ``LatencyTable`` or a path.
    """
    from oneshot.costs.counting import CONVENTION, op_cost  # torch: imported only when needed

    table = as_table(lut)
    flops = {op: op_cost(op) for op in space.distinct_ops()}
    if table is None:
        return CostTable(space, flops, ("macs", "params"), CONVENTION)
    op_ms, per_slot, constant = latency_values(space, table, apply_correction)
    costs = {op: {**flops[op], LATENCY: op_ms[op]} for op in flops}
    slot_costs = {}
    for slot in space.slots:
        if slot.name in per_slot:
            slot_costs[slot.name] = [{**flops[op], LATENCY: ms} for op, ms in zip(slot.ops, per_slot[slot.name])]
    convention = dict(CONVENTION, **{LATENCY: _latency_convention(table, apply_correction)})
    cost = CostTable(space, costs, ("macs", "params", LATENCY), convention, slot_costs=slot_costs)
    cost.fixed[cost.metrics.index(LATENCY)] += constant
    return cost


def _latency_convention(table: LatencyTable, corrected: bool) -> str:
    prov = table.provenance
    what = ", ".join(f"{k} {prov[k]}" for k in ("device", "threads", "batch", "resolution", "bn") if k in prov)
    text = f"sum of per-operator latencies (ms) from a lookup table ({what or 'no provenance'})"
    if corrected and table.correction:
        text += f"; corrected: x{table.correction.get('scale', 1.0):.4g} + {table.correction.get('offset_ms', 0.0):.4g} ms"
    return text


# ---------------------------------------------------------------------------------------- budgets

# Budget parsing and the impossible-budget check live in oneshot.search.objectives (one grammar for
# every command); these are the table-level entry points. Imported lazily: oneshot.search imports us.


def parse_constraint(text: str) -> Any:
    """``'latency_ms<=15'``, ``'flops<=300M'``, ``'params<=5M'`` -> ``Constraint`` (see search.objectives)."""
    from oneshot.search.objectives import parse_constraint as parse

    return parse(text)


def normalise_constraints(constraints: Any) -> list[Any]:
    """Accept ``{metric: upper bound}``, ``[(metric, op, value)]``, ``['metric<=value']`` or Constraints."""
    from oneshot.search.objectives import Constraint, canonical_metric

    if constraints is None:
        return []
    if isinstance(constraints, Mapping):
        return [Constraint(canonical_metric(str(k)), "<=", float(v)) for k, v in constraints.items()]
    if isinstance(constraints, str):
        return [parse_constraint(constraints)]
    out = []
    for c in constraints:
        if isinstance(c, Constraint):
            out.append(c)
        elif isinstance(c, str):
            out.append(parse_constraint(c))
        elif isinstance(c, Sequence) and len(c) == 3 and str(c[1]) in ("<=", ">="):
            out.append(Constraint(canonical_metric(str(c[0])), str(c[1]), float(c[2])))
        else:
            raise ConfigError(f"cannot read constraint {c!r}; give (metric, '<=' or '>=', value) or 'metric<=value'")
    return out


def check_budget(table: CostTable, constraints: Any) -> dict[str, tuple[float, float]]:
    """Raise ``BudgetError`` when no architecture of the space can meet a constraint.

    Uses the exact extremes of ``table.bounds()``; the message gives the best achievable value.
    Returns the bounds so callers can report them.
    """
    from oneshot.search.objectives import check_budgets

    bounds = table.bounds()
    check_budgets(normalise_constraints(constraints), bounds, getattr(table.space, "name", "the space"))
    return bounds


__all__ = ["cost_model", "latency_table", "check_budget", "missing_entries", "missing_signatures",
           "parse_constraint", "normalise_constraints", "Missing", "LATENCY", "slot_labels"]
