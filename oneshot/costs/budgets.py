"""Cost budgets (``flops<=300M``, ``params<=4M``, ``latency_ms<=15``): one grammar for every command.

Budgets apply to cost metrics only (``macs``/``flops``, ``params``, ``latency_ms``): they are priced
before anything is evaluated, so an architecture over budget never costs an evaluation. A budget
becomes ``G`` values (feasible iff ``<= 0``, scaled by the bound so budgets on different units are
comparable); ``check_budgets`` refuses one that no architecture of the space can meet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from oneshot.errors import BudgetError, ConfigError

#: what users may write -> the metric name in cost tables and history.csv
METRIC_ALIASES = {"flops": "macs", "mac": "macs", "macs": "macs", "params": "params", "latency": "latency_ms",
                  "latency_ms": "latency_ms", "lat": "latency_ms", "acc": "accuracy", "top1": "accuracy",
                  "accuracy": "accuracy"}
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
_UNITS_ALLOWED = {"macs": "KMG", "params": "KM", "latency_ms": ""}


def canonical_metric(name: str) -> str:
    return METRIC_ALIASES.get(name.strip().lower(), name.strip())


@dataclass(frozen=True)
class Constraint:
    """A budget ``metric <= value`` (or ``>=``) on a cost metric."""

    metric: str
    op: str  # "<=" | ">="
    value: float
    text: str = ""

    def violation(self, values: np.ndarray) -> np.ndarray:
        """G values (``<= 0`` feasible), relative to the bound."""
        scale = abs(self.value) if self.value else 1.0
        v = np.asarray(values, dtype=np.float64)
        return (v - self.value) / scale if self.op == "<=" else (self.value - v) / scale

    def ok(self, value: float) -> bool:
        return value <= self.value if self.op == "<=" else value >= self.value

    def __str__(self) -> str:
        return self.text or f"{self.metric}{self.op}{self.value:g}"


_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_]+)\s*(<=|>=|<|>|=<|=>|==|=)\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)"
                            r"\s*([A-Za-z]*)\s*$")


def parse_constraint(text: str) -> Constraint:
    """``'flops<=300M'``, ``'params<=4M'``, ``'latency_ms<=15'`` -> Constraint (units K, M, G)."""
    m = _CONSTRAINT_RE.match(text)
    if not m:
        raise ConfigError(f"cannot read constraint {text!r}; write METRIC<=VALUE with an optional unit, "
                          "e.g. 'flops<=300M', 'params<=4M', 'latency_ms<=15'")
    name, op, number, unit = m.groups()
    metric = canonical_metric(name)
    if metric not in _UNITS_ALLOWED:
        raise ConfigError(f"constraint {text!r}: budgets apply to cost metrics priced before evaluation: "
                          f"flops (= macs), params, latency_ms; got {name!r}")
    u = unit.lower()
    if metric == "latency_ms" and u in ("ms",):
        u = ""
    if u not in _UNITS or (u and u.upper() not in _UNITS_ALLOWED[metric]):
        allowed = ", ".join(_UNITS_ALLOWED[metric]) or "none (milliseconds)"
        raise ConfigError(f"constraint {text!r}: unknown unit {unit!r} for {metric}; units allowed: {allowed}")
    if op in ("==", "=", "<", ">"):
        raise ConfigError(f"constraint {text!r}: use <= or >= (budgets are inclusive), e.g. '{name}<={number}{unit}'")
    op = {"=<": "<=", "=>": ">="}.get(op, op)
    return Constraint(metric, op, float(number) * _UNITS[u], text.strip())


def check_budgets(constraints: Sequence[Constraint], bounds: Mapping[str, tuple[float, float]],
                  space_name: str) -> None:
    """Raise BudgetError for a budget no architecture can meet, naming the best achievable value.

    Used when no latency-table helper is available; ``bounds`` are a cost table's exact extremes.
    """
    for c in constraints:
        if c.metric not in bounds:
            hint = " (pass --lut FILE to price latency)" if c.metric == "latency_ms" else ""
            raise ConfigError(f"budget {c}: metric {c.metric!r} is not priced{hint}; priced: {', '.join(bounds)}")
        lo, hi = bounds[c.metric]
        if c.op == "<=" and lo > c.value:
            raise BudgetError(f"budget {c} is impossible in space {space_name!r}: the smallest achievable "
                              f"{c.metric} is {lo:.6g}; raise the budget to at least {lo:.6g}")
        if c.op == ">=" and hi < c.value:
            raise BudgetError(f"budget {c} is impossible in space {space_name!r}: the largest achievable "
                              f"{c.metric} is {hi:.6g}; lower the bound to at most {hi:.6g}")


def best_achievable(constraints: Sequence[Constraint], bounds: Mapping[str, tuple[float, float]]) -> dict[str, str]:
    """For each budget, the exact best value the space can reach (for error messages)."""
    out = {}
    for c in constraints:
        lo, hi = bounds[c.metric]
        out[str(c)] = f"{c.metric} {'min' if c.op == '<=' else 'max'} = {(lo if c.op == '<=' else hi):.6g}"
    return out


def normalise_constraints(constraints: Any) -> list[Constraint]:
    """Accept ``{metric: upper bound}``, ``[(metric, op, value)]``, ``['metric<=value']`` or Constraints."""
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
