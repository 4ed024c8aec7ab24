"""Per-architecture costs from a lookup (a benchmark file's FLOPs/params/latency columns) on top of
a space's ``CostTable``: the same ``price`` / ``bounds`` / ``metrics`` interface, so a search prices,
bounds and rejects candidates by them before evaluating anything. An architecture the lookup does
not list costs ``inf`` (over every ``<=`` budget: it could not be evaluated anyway)."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np


class LookupCosts:
    """``base`` (a CostTable) with the metrics of ``values`` ``{metric: {key: value}}`` replaced or added."""

    def __init__(self, base: Any, values: Mapping[str, Mapping[str, float]], source: str):
        self.base = base
        self.space = base.space
        self.values = {m: dict(v) for m, v in values.items()}
        self.metrics = tuple(dict.fromkeys(tuple(base.metrics) + tuple(self.values)))
        self.convention = dict(getattr(base, "convention", {}))
        for m in self.values:
            self.convention[m] = f"looked up per architecture in {source}"

    def price(self, matrix: np.ndarray, validate: bool = True) -> dict[str, np.ndarray]:
        m = np.asarray(matrix)
        if m.ndim == 1:
            m = m[None, :]
        out = self.base.price(m, validate=validate)
        keys = [self.space.key(row) for row in m]
        for metric, table in self.values.items():
            out[metric] = np.asarray([table.get(k, np.inf) for k in keys], dtype=np.float64)
        return {k: out[k] for k in self.metrics}

    def price_one(self, arch) -> dict[str, float]:
        return {k: float(v[0]) for k, v in self.price(np.asarray(arch)[None, :]).items()}

    def bounds(self) -> dict[str, tuple[float, float]]:
        """The space's exact bounds, with looked-up metrics bounded by the listed architectures."""
        out = dict(self.base.bounds())
        for metric, table in self.values.items():
            vals = list(table.values())
            out[metric] = (float(min(vals)), float(max(vals)))
        return {k: out[k] for k in self.metrics}
