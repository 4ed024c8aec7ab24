"""``evolution``: the SPOS evolutionary search (Guo et al. 2020) with its published defaults.

Population 50; each round keeps the top 10 of everything scored so far, breeds 25 mutants (each gene
resampled with p = 0.1) and 25 uniform crossovers of random top-10 parents, refills with random
architectures to 50; 20 rounds. Candidates that break a cost budget or were already proposed
(canonical key) are rejected while generating, so nothing is evaluated twice and nothing over budget
is evaluated at all. With several objectives the "top k" is taken by non-dominated rank, then
crowding distance (NSGA-II's order), which reduces to plain sorting for one objective.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from oneshot.pareto import crowding_distance, non_dominated_sort
from oneshot.spaces.core import Architecture

from . import STRATEGIES
from .base import Problem, Strategy, Trial


@STRATEGIES.decorator("evolution", "SPOS evolution: top-k parents, crossover + mutation, budgets rejected "
                                   "before evaluation")
class Evolution(Strategy):
    """SPOS evolution: ask returns one round (a population), tell scores it."""

    name = "evolution"

    def __init__(self, problem: Problem, seed: int = 0, population: int = 50, top_k: int = 10,
                 mutations: int = 25, mutation_prob: float = 0.1, crossovers: int = 25, rounds: int = 20,
                 max_attempts: int = 10_000):
        super().__init__(problem, seed)
        if not 0 < top_k <= population:
            raise ValueError(f"top_k must be in 1..population ({population}), got {top_k}")
        if mutations + crossovers > population:
            raise ValueError(f"mutations + crossovers ({mutations + crossovers}) exceed population {population}")
        if not 0.0 < mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in (0, 1], got {mutation_prob}")
        self.population, self.top_k = int(population), int(top_k)
        self.mutations, self.mutation_prob = int(mutations), float(mutation_prob)
        self.crossovers, self.rounds = int(crossovers), int(rounds)
        self.max_attempts = int(max_attempts)
        self.round = 0
        self.scored: list[tuple[list[int], list[float], bool]] = []   # (arch, objectives, feasible)
        self.parents: list[list[int]] = []

    def params(self) -> dict[str, Any]:
        return {"population": self.population, "top_k": self.top_k, "mutations": self.mutations,
                "mutation_prob": self.mutation_prob, "crossovers": self.crossovers, "rounds": self.rounds,
                "max_attempts": self.max_attempts}

    # ----------------------------------------------------------------- ask
    def ask(self) -> list[Architecture]:
        if self.round >= self.rounds:
            return []
        batch: list[Architecture] = []
        if self.parents:
            batch += self._breed(self.mutations, self._mutant)
            batch += self._breed(self.crossovers, self._child)
        batch += self._sample_fresh(self.population - len(batch), self.max_attempts, strict=not self.parents)
        self.round += 1
        return batch

    def _mutant(self) -> np.ndarray:
        parent = self.parents[int(self.rng.integers(len(self.parents)))]
        return np.asarray(self.space.mutate(parent, self.rng, self.mutation_prob))

    def _child(self) -> np.ndarray:
        a = self.parents[int(self.rng.integers(len(self.parents)))]
        b = self.parents[int(self.rng.integers(len(self.parents)))]
        return np.asarray(self.space.crossover(a, b, self.rng))

    def _breed(self, n: int, make) -> list[Architecture]:
        out: list[Architecture] = []
        attempts = 0
        # SPOS gives up after a bounded number of tries (10 x n); rejected children cost nothing
        while len(out) < n and attempts < max(10 * n, 1):
            attempts += 1
            out += self._fresh_feasible(make()[None, :], 1)
        return out

    # ---------------------------------------------------------------- tell
    def tell(self, trials: Sequence[Trial]) -> None:
        for t in trials:
            self.scored.append(([int(i) for i in t.arch], [float(v) for v in t.objectives], t.feasible))
        self.parents = self._select_top()

    def _select_top(self) -> list[list[int]]:
        feasible = [s for s in self.scored if s[2]]
        if not feasible:
            return []
        F = np.asarray([s[1] for s in feasible], dtype=np.float64)
        chosen: list[int] = []
        for front in non_dominated_sort(F):
            if len(chosen) + len(front) <= self.top_k:
                chosen += [int(i) for i in front]
                continue
            crowd = crowding_distance(F[front])
            order = np.argsort(-crowd, kind="stable")
            chosen += [int(front[i]) for i in order[: self.top_k - len(chosen)]]
            break
        return [feasible[i][0] for i in chosen]

    # --------------------------------------------------------------- state
    def _extra_state(self) -> dict[str, Any]:
        return {"round": self.round, "scored": self.scored, "parents": self.parents}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.round = int(state["round"])
        self.scored = [(list(a), list(f), bool(ok)) for a, f, ok in state["scored"]]
        self.parents = [list(p) for p in state["parents"]]
