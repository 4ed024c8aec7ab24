"""The search loop (``SearchRun``), its objectives, history and exports. Budgets (``parse_constraint``)
are the cost models' grammar, re-exported here for the search API."""
from oneshot.costs.budgets import Constraint, parse_constraint

from .objectives import Objective, parse_objective
from .run import SearchConfig, SearchRun

__all__ = ["Constraint", "Objective", "SearchConfig", "SearchRun", "parse_constraint", "parse_objective"]
