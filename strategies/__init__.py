"""Search strategies behind one ask/tell interface, and their registry ``STRATEGIES``.

``create_strategy(name, problem_or_space, **params)`` builds one; ``list_strategies()`` names them.
Framework-free at import (pymoo is imported only when an ``nsga2`` strategy is built).
"""
from __future__ import annotations

import inspect
from typing import Any

from oneshot.registry import Registry
from oneshot.spaces.core import SearchSpace

from .base import WORST, Problem, Strategy, Trial

#: name -> ``Strategy`` subclass. Every module of this package registers its strategy with
#: ``@STRATEGIES.decorator``; they are imported on the first lookup (pymoo only when an nsga2 is built)
STRATEGIES: Registry[type[Strategy]] = Registry("strategies", "strategy", builtins=__name__)


def list_strategies() -> list[str]:
    """Names of all registered strategies, sorted."""
    return sorted(STRATEGIES.names())


def create_strategy(name: str, problem: Problem | SearchSpace, seed: int = 0, **params: Any) -> Strategy:
    """Build strategy ``name`` for ``problem`` (a bare space means one objective, no budgets)."""
    if isinstance(problem, SearchSpace):
        problem = Problem(problem)
    cls = STRATEGIES.get(name)
    try:
        return cls(problem, seed=seed, **params)
    except TypeError as exc:
        valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "problem", "seed")]
        raise ValueError(f"bad parameters {sorted(params)} for strategy {name!r} ({exc}); "
                         f"valid: {', '.join(valid)}") from None


__all__ = ["STRATEGIES", "WORST", "Problem", "Strategy", "Trial", "create_strategy", "list_strategies"]
