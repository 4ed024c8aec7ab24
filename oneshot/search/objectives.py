"""Objectives of a search (``accuracy:max``, ``latency_ms:min``), parsed.

Objectives are turned into a minimisation matrix (maximised metrics negated). Budgets on costs
(``flops<=300M``) are the cost models' grammar: ``oneshot.costs.budgets``.
"""
from __future__ import annotations

from dataclasses import dataclass

from oneshot.costs.budgets import canonical_metric
from oneshot.errors import ConfigError


@dataclass(frozen=True)
class Objective:
    """One metric to minimise or maximise."""

    metric: str
    direction: str  # "min" | "max"

    @property
    def sign(self) -> float:
        return -1.0 if self.direction == "max" else 1.0

    def __str__(self) -> str:
        return f"{self.metric}:{self.direction}"


def parse_objective(text: str) -> Objective:
    """``'accuracy:max'``, ``'latency_ms:min'``, ``'flops:min'`` (flops means MACs)."""
    parts = text.strip().split(":")
    if len(parts) != 2 or parts[1].strip().lower() not in ("min", "max") or not parts[0].strip():
        raise ConfigError(f"cannot read objective {text!r}; write METRIC:max or METRIC:min, e.g. "
                          "'accuracy:max', 'latency_ms:min', 'flops:min'")
    return Objective(canonical_metric(parts[0]), parts[1].strip().lower())
