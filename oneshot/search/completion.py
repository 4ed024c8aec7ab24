"""Front completion: networks the fitted model puts on the front that the search never evaluated.

A supernet search ranks its front by a model fitted to the evaluated networks' scores (the additive
fit, corrected by landmarks when given). That model prices *every* network of the space, but the
front can only hold networks the strategy happened to evaluate: under a tight budget the best
network by the model may never have been scored. Completion proposes the networks the model places
on the front that are not in the history (every network of a small space, else a seeded pool),
the search evaluates up to ``n`` of them with its own evaluator, and the final front is refitted
with their real scores. The proposals depend only on the strategy's rows (``generation >= 0``), so
an interrupted completion resumes with the same list and never evaluates a network twice.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from oneshot.spaces.core import Architecture, SearchSpace

from .front import front_and_hv
from .history import Row
from .objectives import Objective
from .outputs import sorted_front

#: ``Row.generation`` of an evaluation proposed by completion (history.csv, pareto.csv)
COMPLETION_GENERATION = -1
#: evaluations completion adds when ``--landmarks`` is given and ``--complete`` is not
DEFAULT_COMPLETION = 32
#: spaces up to this many encodings are enumerated; larger ones use a seeded pool of POOL_SIZE
ENUMERATE_LIMIT = 200_000
POOL_SIZE = 20_000


def candidate_matrix(space: SearchSpace, seed: int = 0) -> np.ndarray:
    """Distinct canonical networks to price: the whole space when it is small, else a seeded pool."""
    if space.size <= ENUMERATE_LIMIT:
        matrix = np.asarray(list(space.enumerate()), dtype=np.int64).reshape(-1, len(space))
    else:
        matrix = space.sample_matrix(np.random.default_rng(seed), POOL_SIZE)
    return np.unique(space.canonicalize_matrix(matrix), axis=0)


def propose_completion(space: SearchSpace, rows: Sequence[Row], candidates: np.ndarray,
                       priced: Callable[[np.ndarray], tuple[dict[str, np.ndarray], np.ndarray]],
                       view: Callable[[list[Row]], tuple[list[Row], list[Objective], list]],
                       n: int) -> list[Architecture]:
    """Up to ``n`` unevaluated networks on the front of the fitted model, spread along it.

    ``candidates`` are canonical encodings (``candidate_matrix``); ``priced(matrix)`` gives their cost
    metrics and a feasibility mask (budgets); ``view(rows)`` the rows with their fitted objectives and
    those objectives and ranges (the search's ``smoothed_view``); rows without a score are predicted,
    not fitted. Nothing is proposed when there is no fit (too few scores) to place a candidate, and
    candidates with a cost the search cannot price (a benchmark file that does not list them) are
    left out."""
    if n <= 0:
        return []
    known = {r.key for r in rows}
    keys = [space.key(a) for a in candidates]
    fresh = np.asarray([i for i, k in enumerate(keys) if k not in known], dtype=np.int64)
    if not len(fresh):
        return []
    costs, feasible = priced(candidates[fresh])
    finite = np.all([np.isfinite(v) for v in costs.values()], axis=0) if costs else np.ones(len(fresh), bool)
    pseudo = [Row(-1, keys[i], Architecture(candidates[i]), COMPLETION_GENERATION,
                  {m: float(v[j]) for m, v in costs.items()}, feasible=bool(feasible[j]))
              for j, i in enumerate(fresh) if finite[j]]
    if not pseudo:
        return []
    fitted_rows, fitted_objectives, ranges = view([*rows, *pseudo])
    predicted = fitted_rows[len(rows):]
    if not all(np.isfinite(r.metrics.get(o.metric, np.nan)) for r in predicted for o in fitted_objectives):
        return []  # no fit (the smoother fell back to raw scores): nothing can be placed
    front, _ = front_and_hv(fitted_rows, fitted_objectives, ranges)
    new = [r for r in front if r.eval_index < 0]
    if not new:
        return []
    new = sorted_front(new, fitted_objectives)
    picks = np.unique(np.round(np.linspace(0, len(new) - 1, min(n, len(new)))).astype(int))
    return [new[i].arch for i in picks]
