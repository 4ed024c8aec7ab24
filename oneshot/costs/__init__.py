"""Cost models: exact FLOPs (MACs) / params per operator, cost budgets, and the combined cost model
(MACs, params and lookup-table latency priced in one vectorised gather)."""
from oneshot.spaces.cost_table import CostTable

from .budgets import Constraint, check_budgets, normalise_constraints, parse_constraint
from .pricing import check_budget, cost_model

__all__ = ["CostTable", "Constraint", "check_budget", "check_budgets", "cost_model", "normalise_constraints",
           "parse_constraint"]
