"""Architectures stratified over a cost (MACs by default): a ranking test must span the cost range.

Uniform sampling concentrates on mid-sized networks, where accuracies are close and rank
correlations look worse (or better) than they are for a search that moves across the whole range.
"""
from __future__ import annotations

import numpy as np

from oneshot.spaces.core import Architecture


def stratified_by_cost(space, n: int, rng: np.random.Generator, *, metric: str = "macs", table=None,
                       pool_factor: int = 50, max_cost: float | None = None) -> list[Architecture]:
    """``n`` distinct (canonical) architectures whose costs are spread evenly over the reachable range.

    A pool of ``pool_factor * n`` random architectures is priced in one vectorised call and
    deduplicated by canonical key; for ``n`` target costs evenly spaced between the pool's cheapest
    and dearest member, the not-yet-picked pool member nearest to each target is taken (equal-width,
    not equal-count, strata: the tails of the cost range are represented). ``max_cost`` keeps only
    pool members that cost at most that much (the range a budgeted search will choose from).
    Deterministic for a given ``rng`` state.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2 to rank anything, got {n}")
    if table is None:
        from oneshot.costs.counting import flops_params_table

        table = flops_params_table(space)
    matrix = space.canonicalize_matrix(space.sample_matrix(rng, max(pool_factor * n, 4 * n)))
    matrix = np.unique(matrix, axis=0)
    if len(matrix) < n:
        raise ValueError(f"space {space.name!r} gave only {len(matrix)} distinct architectures in the pool; "
                         f"ask for fewer than n={n}")
    matrix = matrix[rng.permutation(len(matrix))]  # random tie-breaking among equal costs
    cost = np.asarray(table.price(matrix)[metric], dtype=float)
    if max_cost is not None:
        keep = cost <= max_cost
        if keep.sum() < n:
            raise ValueError(f"only {int(keep.sum())} distinct architectures of the pool cost at most "
                             f"{max_cost:g} {metric}; raise max_cost or ask for fewer than n={n}")
        matrix, cost = matrix[keep], cost[keep]
    free = np.ones(len(matrix), dtype=bool)
    picks = []
    for target in np.linspace(cost.min(), cost.max(), n):
        distance = np.where(free, np.abs(cost - target), np.inf)
        i = int(np.argmin(distance))
        free[i] = False
        picks.append(i)
    return [Architecture(matrix[i]) for i in sorted(picks, key=lambda i: cost[i])]
