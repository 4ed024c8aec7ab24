"""The combined cost model of a space: exact ``macs`` and ``params`` and, given a latency table,
``latency_ms``, in one ``CostTable``: a batch of architectures is priced in one vectorised gather and
``bounds()`` gives each metric's exact extremes. ``check_budget`` turns those extremes into an early,
explicit error for budgets nothing can meet.
"""
from __future__ import annotations

from typing import Any

from oneshot.latency.pricing import LATENCY, LutLike, as_table, latency_convention, latency_values
from oneshot.spaces.cost_table import CostTable
from oneshot.spaces.layout import LayeredSpace

from .budgets import check_budgets, normalise_constraints
from .counting import CONVENTION, op_cost


def cost_model(space: LayeredSpace, lut: LutLike = None, apply_correction: bool = False) -> CostTable:
    """The combined cost table of ``space``: ``macs``, ``params`` and, given a table, ``latency_ms``.

    One gather prices all metrics of a batch (``table.price(matrix)``); ``table.bounds()`` gives the
    exact minimum and maximum of each over the whole space. ``lut`` is a ``LatencyTable`` or a path.
    """
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
    convention = dict(CONVENTION, **{LATENCY: latency_convention(table, apply_correction)})
    cost = CostTable(space, costs, ("macs", "params", LATENCY), convention, slot_costs=slot_costs)
    cost.fixed[cost.metrics.index(LATENCY)] += constant
    return cost


def check_budget(table: CostTable, constraints: Any) -> dict[str, tuple[float, float]]:
    """Raise ``BudgetError`` when no architecture of the space can meet a constraint.

    Uses the exact extremes of ``table.bounds()``; the message gives the best achievable value.
    Returns the bounds so callers can report them.
    """
    bounds = table.bounds()
    check_budgets(normalise_constraints(constraints), bounds, getattr(table.space, "name", "the space"))
    return bounds
