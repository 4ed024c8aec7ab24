"""The pymoo operators of the ``nsga2`` strategy, as named classes over explicit inputs (choice counts,
same-list gene partners, and the strategy's public proposal functions), each with a public method
that tests call directly. Imports pymoo: the ``nsga2`` module imports this one only when it builds
its algorithm."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.sampling import Sampling

Key = Callable[[np.ndarray], str]


class CategoricalMutation(Mutation):
    """Resample each gene with probability ``gene_prob`` (default 1 / genes) to a different choice;
    ``at_least_one``: a child whose genes all stayed gets one random gene moved, so it never repeats
    its parent."""

    def __init__(self, counts: np.ndarray, gene_prob: float | None = None, at_least_one: bool = False):
        super().__init__()  # (pymoo's own ``prob`` is the share of children mutated at all: 1)
        self.counts, self.gene_prob, self.at_least_one = np.asarray(counts), gene_prob, at_least_one

    def mutate(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        X = np.asarray(X).round().astype(np.int64)
        counts = self.counts
        p = self.gene_prob if self.gene_prob is not None else 1.0 / X.shape[1]
        flip = rng.random(X.shape) < p
        if self.at_least_one:
            none = ~flip.any(axis=1)
            cols = np.floor(rng.random(len(X)) * X.shape[1]).astype(np.int64)
            flip[np.flatnonzero(none), cols[none]] = True
        shift = 1 + np.floor(rng.random(X.shape) * (counts[None, :] - 1)).astype(np.int64)
        shift = np.where(counts[None, :] > 1, shift, 0)
        return np.where(flip, (X + shift) % counts[None, :], X)

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        return self.mutate(X, random_state)


class NeighbourMutation(Mutation):
    """Change exactly one random gene to a different choice (a step to an encoding neighbour) or,
    with probability ``swap_prob``, swap the values of two genes with the same choice list
    (``partners[i]``: the genes sharing gene ``i``'s list)."""

    def __init__(self, counts: np.ndarray, partners: Sequence[np.ndarray], swap_prob: float):
        super().__init__()
        self.counts, self.partners, self.swap_prob = np.asarray(counts), partners, swap_prob

    def mutate(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        X = np.asarray(X).round().astype(np.int64).copy()
        n, d = X.shape
        cols = np.floor(rng.random(n) * d).astype(np.int64)
        c = self.counts[cols]
        shift = 1 + np.floor(rng.random(n) * np.maximum(c - 1, 1)).astype(np.int64)
        swap = rng.random(n) < self.swap_prob
        other = rng.random(n)
        rows = np.arange(n)
        for r in np.flatnonzero(swap):
            cand = self.partners[cols[r]]
            cand = cand[X[r, cand] != X[r, cols[r]]] if len(cand) else cand
            if len(cand):
                j = cand[int(other[r] * len(cand))]
                X[r, cols[r]], X[r, j] = X[r, j], X[r, cols[r]]
                swap[r] = True
            else:
                swap[r] = False
        step = ~swap & (c > 1)
        X[rows[step], cols[step]] = (X[rows[step], cols[step]] + shift[step]) % c[step]
        return X

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        return self.mutate(X, random_state)


class UnexploredMutation(Mutation):
    """Move each child to a *new* network near it: ``step(x, rng, taken)`` returns a never-proposed,
    within-budget network near ``x`` (None when there is none), not in ``taken``, the keys already
    given to earlier children of this batch.

    Late in a search most one-gene neighbours of the front are known; a blind move then makes a
    duplicate and pymoo re-mates until it gives up and random immigrants fill the generation.
    Stepping to the nearest unexplored network keeps every evaluation next to its parent instead.
    """

    def __init__(self, step: Callable[[np.ndarray, np.random.Generator, set[str]], np.ndarray | None], key: Key):
        super().__init__()
        self.step, self.key = step, key

    def mutate(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        X = np.asarray(X).round().astype(np.int64).copy()
        taken: set[str] = set()
        for r in range(len(X)):
            moved = self.step(X[r], rng, taken)
            if moved is not None:
                X[r] = moved
                taken.add(self.key(X[r]))
        return X

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        return self.mutate(X, random_state)


class FreshSampling(Sampling):
    """Initial population from ``sample(n) -> (n, genes)`` (uniform, feasible by cost, distinct networks)."""

    def __init__(self, sample: Callable[[int], np.ndarray]):
        super().__init__()
        self.sample = sample

    def _do(self, problem, n_samples, random_state=None, **kwargs):
        return self.sample(n_samples)


class CanonicalDuplicates(DuplicateElimination):
    """Duplicates by canonical ``key`` (within the batch, against ``other``, and against every key of
    ``seen()``, the architectures proposed before); rows ``feasible`` rejects count as duplicates too."""

    def __init__(self, key: Key, feasible: Callable[[np.ndarray], np.ndarray], seen: Callable[[], set[str]]):
        super().__init__()
        self.key, self.feasible, self.seen = key, feasible, seen

    def duplicates(self, X: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of the rows of ``X`` that are duplicates."""
        X = np.asarray(X).round().astype(np.int64)
        keys = [self.key(x) for x in X]
        out = np.zeros(len(X), dtype=bool)
        if other is None:
            bad = ~self.feasible(X)
            taken = set(self.seen())
            for i, k in enumerate(keys):
                if bad[i] or k in taken:
                    out[i] = True
                taken.add(k)
        else:
            other_keys = {self.key(x) for x in np.asarray(other).round().astype(np.int64)}
            out[:] = [k in other_keys for k in keys]
        return out

    def _do(self, pop, other, is_duplicate):
        is_duplicate |= self.duplicates(pop.get("X"), None if other is None else other.get("X"))
        return is_duplicate


def stable_rank_and_crowding():
    """pymoo's rank-and-crowding survival, with ties in the crowding distance broken by the seeded
    permutation alone.

    pymoo orders the last front with numpy's default argsort, an unstable sort whose SIMD kernels
    (AVX2, AVX-512) leave ties (every boundary point has an infinite distance) in different orders,
    so a seeded search took a different path on another CPU. A stable sort of the same permuted
    values keeps pymoo's random tie-breaking and makes it the same everywhere."""
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

    class StableRankAndCrowding(RankAndCrowding):
        def _do(self, problem, pop, *args, random_state=None, n_survive=None, **kwargs):
            F = pop.get("F").astype(float, copy=False)
            survivors: list[int] = []
            for rank, front in enumerate(self.nds.do(F, n_stop_if_ranked=n_survive)):
                n_remove = max(len(survivors) + len(front) - n_survive, 0)
                crowding = self.crowding_func.do(F[front, :], n_remove=n_remove)
                keep = np.arange(len(front))
                if n_remove:
                    perm = random_state.permutation(len(front))
                    keep = perm[np.argsort(-crowding[perm], kind="stable")][:-n_remove]
                for j, i in enumerate(front):
                    pop[i].set("rank", rank)
                    pop[i].set("crowding", crowding[j])
                survivors.extend(front[keep])
            return pop[survivors]

    return StableRankAndCrowding()


def build_algorithm(strategy):
    """pymoo's NSGA-II over ``strategy``'s problem with the operators its parameters name, set up
    and seeded (``strategy``: an ``oneshot.strategies.nsga2.NSGA2``)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.core.termination import NoTermination
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.crossover.ux import UX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair

    counts = strategy.space.choice_counts
    problem = PymooProblem(n_var=len(strategy.space), n_obj=strategy.problem.n_objectives,
                           n_ieq_constr=strategy.problem.n_constraints + 1,
                           xl=np.zeros(len(strategy.space)), xu=(counts - 1).astype(float), vtype=int)
    if strategy.crossover == "sbx":
        crossover = SBX(prob=strategy.crossover_prob, eta=15, vtype=float, repair=RoundingRepair())
    else:
        crossover = UX(prob=strategy.crossover_prob)
    mutation = {
        "pm": lambda: PM(eta=20, vtype=float, repair=RoundingRepair()),
        "neighbour": lambda: NeighbourMutation(counts, strategy.partners, strategy.swap_prob),
        "unexplored": lambda: UnexploredMutation(strategy.unexplored_step, strategy.key),
    }.get(strategy.mutation, lambda: CategoricalMutation(counts, strategy.mutation_prob,
                                                         at_least_one=strategy.mutation == "categorical1"))()
    extra = {}
    if strategy.selection == "random":
        from pymoo.operators.selection.rnd import RandomSelection

        extra["selection"] = RandomSelection()
    duplicates = CanonicalDuplicates(strategy.key, strategy.problem.feasible, lambda: strategy.seen)
    algorithm = PymooNSGA2(pop_size=strategy.pop_size, n_offsprings=strategy.offspring,
                           sampling=FreshSampling(strategy.initial_population), crossover=crossover,
                           mutation=mutation, eliminate_duplicates=duplicates,
                           survival=stable_rank_and_crowding(), **extra)
    algorithm.setup(problem, termination=NoTermination(), seed=strategy.seed)
    return algorithm
