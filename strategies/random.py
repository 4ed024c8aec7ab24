"""``random``: i.i.d. uniform sampling with rejection to the cost budgets (TuNAS-style random search).

Draws are capped (``max_attempts`` per batch); when no draw meets the budgets the error names the
budget that rejected most draws and the best value the space can achieve.
"""
from __future__ import annotations

from typing import Any, Sequence

from oneshot.spaces.core import Architecture

from . import STRATEGIES
from .base import Problem, Strategy, Trial


@STRATEGIES.decorator("random", "uniform random sampling (baseline)")
class RandomSearch(Strategy):
    """Uniform random architectures, feasible by cost and never proposed twice (by canonical key)."""

    name = "random"

    def __init__(self, problem: Problem, seed: int = 0, batch_size: int = 20, max_attempts: int = 100_000):
        super().__init__(problem, seed)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.max_attempts = int(max_attempts)

    def params(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "max_attempts": self.max_attempts}

    def ask(self) -> list[Architecture]:
        # an empty batch (every feasible network already proposed) ends the search
        return self._sample_fresh(self.batch_size, self.max_attempts)

    def tell(self, trials: Sequence[Trial]) -> None:
        pass  # random search does not learn
