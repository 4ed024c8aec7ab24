"""``nsga2``: pymoo's NSGA-II driven through ask/tell over integer genes (choice indices).

- Genes are choice indices (``xl = 0``, ``xu = n_choices - 1``); rows are always cast back to ints.
- Objectives are minimised (the search loop negates maximised metrics); any number of them.
- Constraints are ``G <= 0``: the cost budgets plus one column that is positive when an evaluation
  failed, so failed or skipped candidates carry a finite worst objective and a positive violation;
  NaN/inf never reach pymoo.
- Choice genes are categorical (an operator list is not ordered; SBX/PM distances mean little).
  Measured on NAS-Bench-Macro (``benchmarks/search_quality.py``, 10 seeds), the defaults are the
  operators that found the true front fastest: uniform crossover with probability 0.3, 10 offspring
  per generation from a population of 20, an elitist archive (the population grows so survival
  never drops a member of the feasible non-dominated set) and the *unexplored* mutation: each child
  steps to a never-proposed, within-budget network one gene (or one same-list swap) away. With
  probability ``prescreen`` (0.5) that step is the most promising one according to an additive
  surrogate (least squares over one-hot choices, refitted on every evaluation: exact for layer-sum
  costs such as MACs, params and table latency, approximate for accuracy), judged by its additive
  epsilon to the evaluated front; otherwise it is random. The surrogate only orders moves, it never
  replaces an evaluation. The pymoo recipe (``crossover="sbx", mutation="pm", crossover_prob=0.9,
  archive=False``), a blind one-gene step (``mutation="neighbour"``) and per-gene categorical
  resampling (``mutation="categorical"``) stay available for comparison.
- Offspring whose canonical key was already proposed, or that break a cost budget, are treated as
  duplicates, so pymoo re-mates instead of spending an evaluation on them.
- Resume: the state is the seed plus the log of told generations; ``load_state_dict`` replays that log
  through a fresh pymoo instance (pymoo is seeded, so the replay is exact and checked row by row).
  JSON only: nothing is pickled.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from oneshot.pareto import non_dominated_mask
from oneshot.spaces.core import Architecture

from . import STRATEGIES
from .base import WORST, Problem, Strategy, Trial

CROSSOVERS = ("uniform", "sbx")
MUTATIONS = ("unexplored", "neighbour", "categorical", "categorical1", "pm")
SELECTIONS = ("tournament", "random")


@STRATEGIES.decorator("nsga2", "pymoo NSGA-II with integer operators, constrained domination "
                               "(multi-objective)")
class NSGA2(Strategy):
    """Multi-objective NSGA-II (pymoo 0.6) behind ask/tell; ask returns one generation."""

    name = "nsga2"

    def __init__(self, problem: Problem, seed: int = 0, pop_size: int = 20, offspring: int | None = 10,
                 crossover: str = "uniform", mutation: str = "unexplored", crossover_prob: float = 0.3,
                 mutation_prob: float | None = None, swap_prob: float = 0.0, archive: bool = True,
                 selection: str = "tournament", prescreen: float = 0.5, max_attempts: int = 100_000):
        super().__init__(problem, seed)
        if crossover not in CROSSOVERS:
            raise ValueError(f"unknown crossover {crossover!r}; valid: {', '.join(CROSSOVERS)}")
        if mutation not in MUTATIONS:
            raise ValueError(f"unknown mutation {mutation!r}; valid: {', '.join(MUTATIONS)}")
        if pop_size < 2:
            raise ValueError(f"pop_size must be >= 2, got {pop_size}")
        self.pop_size, self.crossover, self.mutation = int(pop_size), crossover, mutation
        self.offspring = int(offspring) if offspring else self.pop_size
        if self.offspring < 1:
            raise ValueError(f"offspring must be >= 1, got {offspring}")
        if not 0.0 <= float(crossover_prob) <= 1.0:
            raise ValueError(f"crossover_prob must be in [0, 1], got {crossover_prob}")
        if mutation_prob is not None and not 0.0 <= float(mutation_prob) <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1] (or None for 1/genes), got {mutation_prob}")
        if int(max_attempts) < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = None if mutation_prob is None else float(mutation_prob)
        self.max_attempts = int(max_attempts)
        self.archive = bool(archive)
        if not 0.0 <= swap_prob <= 1.0:
            raise ValueError(f"swap_prob must be in [0, 1], got {swap_prob}")
        self.swap_prob = float(swap_prob)
        if selection not in SELECTIONS:
            raise ValueError(f"unknown selection {selection!r}; valid: {', '.join(SELECTIONS)}")
        self.selection = selection
        if not 0.0 <= prescreen <= 1.0:
            raise ValueError(f"prescreen must be in [0, 1], got {prescreen}")
        self.prescreen = float(prescreen)
        labels = [dim.choices for dim in self.space.dimensions]
        # dimensions with identical choice lists: swapping their values moves an operator to another
        # position and keeps the multiset of operators (and so roughly the cost)
        self.partners = [np.asarray([j for j in range(len(labels)) if j != i and labels[j] == labels[i]],
                                     dtype=np.int64) for i in range(len(labels))]
        self._algorithm = self._build_algorithm()
        self._pending = None       # the pymoo population returned by the last ask
        self._log: list[dict[str, list]] = []
        self._evaluated: list[tuple[np.ndarray, np.ndarray]] = []  # feasible (x, F) told so far
        self._surrogate = None

    def params(self) -> dict[str, Any]:
        return {"pop_size": self.pop_size, "offspring": self.offspring, "crossover": self.crossover, "mutation": self.mutation,
                "crossover_prob": self.crossover_prob, "mutation_prob": self.mutation_prob,
                "swap_prob": self.swap_prob, "archive": self.archive, "selection": self.selection,
                "prescreen": self.prescreen, "max_attempts": self.max_attempts}

    def ask(self) -> list[Architecture]:
        pop = self._algorithm.ask()
        want = self.offspring if pop is None else self.offspring - len(pop)
        if want > 0 and self._algorithm.is_initialized:
            # mating could not fill the generation with new feasible networks (late in a search,
            # when most neighbours are known): top it up with fresh random ones (immigrants) rather
            # than stop, and undo pymoo's forced termination
            from pymoo.core.population import Population

            self._algorithm.termination.force_termination = False
            fresh = self._sample_fresh(want, self.max_attempts, strict=False)
            for a in fresh:
                self.seen.discard(self.key(a))
            if fresh:
                extra = Population.new("X", np.asarray(fresh, dtype=np.int64))
                pop = extra if pop is None else Population.merge(pop, extra)
        if pop is None or len(pop) == 0:
            return []  # every feasible network has been proposed
        X = np.asarray(pop.get("X")).round().astype(np.int64).reshape(-1, len(self.space))
        pop.set("X", X)
        self._pending = pop
        for x in X:
            self.seen.add(self.key(x))
        return [Architecture(x) for x in X]

    def tell(self, trials: Sequence[Trial]) -> None:
        if self._pending is None:
            raise RuntimeError("tell() without a preceding ask()")
        X = self._pending.get("X")
        by_arch = {tuple(int(v) for v in t.arch): t for t in trials}
        m, c = self.problem.n_objectives, self.problem.n_constraints
        F = np.full((len(X), m), WORST)
        G = np.zeros((len(X), c + 1))
        for i, x in enumerate(X):
            t = by_arch.get(tuple(int(v) for v in x))
            if t is None or t.failed:
                G[i, c] = 1.0  # never scored: worst objectives and a violated "failed" constraint
                if t is not None and c:
                    G[i, :c] = np.asarray(t.violation, dtype=np.float64).reshape(-1)[:c]
                continue
            F[i] = np.asarray(t.objectives, dtype=np.float64).reshape(-1)[:m]
            if c:
                G[i, :c] = np.asarray(t.violation, dtype=np.float64).reshape(-1)[:c]
        # keep NaN/inf out of pymoo whatever the caller sent
        F = np.nan_to_num(F, nan=WORST, posinf=WORST, neginf=-WORST)
        G = np.nan_to_num(G, nan=1.0, posinf=WORST, neginf=-WORST)
        self._tell_arrays(X, F, G)

    def _tell_arrays(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        self._pending.set("F", F, "G", G)
        if self.archive:
            # never let survival truncate the feasible non-dominated set: the population grows to
            # hold the whole front found so far (an elitist archive), so every front member keeps
            # breeding; pop_size is the floor
            pop = self._algorithm.pop
            F_all, G_all = F, G
            if pop is not None and len(pop):
                F_all = np.vstack([pop.get("F"), F])
                G_all = np.vstack([pop.get("G"), G])
            ok = np.all(G_all <= 0, axis=1)
            n_front = int(non_dominated_mask(F_all[ok]).sum()) if ok.any() else 0
            self._algorithm.pop_size = max(self.pop_size, n_front)
        ok = np.all(G <= 0, axis=1)
        self._evaluated += [(np.asarray(x, dtype=np.int64), np.asarray(f, dtype=np.float64)) for x, f in zip(X[ok], F[ok])]
        if self.prescreen > 0 and self.mutation == "unexplored":
            self._fit_surrogate()
        self._algorithm.tell(infills=self._pending)
        self._pending = None
        self._log.append({"X": X.tolist(), "F": F.tolist(), "G": G.tolist()})

    # ------------------------------------------------------------ mutation
    def _build_algorithm(self):
        from ._nsga2_operators import build_algorithm  # pymoo: imported only when an nsga2 is built

        return build_algorithm(self)

    @property
    def mutation_operator(self):
        """The pymoo mutation operator in use (its ``mutate(X, rng)`` is public)."""
        return self._algorithm.mating.mutation

    def initial_population(self, n: int) -> np.ndarray:
        """``n`` uniform, cost-feasible, distinct networks for pymoo's first population (not marked
        as proposed: ``ask`` marks what it hands out)."""
        archs = self._sample_fresh(n, self.max_attempts, strict=True)
        self.seen.difference_update(self.key(a) for a in archs)
        return np.asarray(archs, dtype=np.int64).reshape(-1, len(self.space))

    def unexplored_step(self, x: np.ndarray, rng: np.random.Generator, taken: set[str]) -> np.ndarray | None:
        """A network near ``x`` that is feasible and neither seen nor in ``taken``, or ``None``.

        Unguided: a random one of its one-gene neighbours (or, with probability ``swap_prob``, of
        its same-choice-list swaps). Guided (probability ``prescreen``, once the surrogate is
        fitted): the most promising of its one-gene neighbours and swaps by the surrogate. When
        nothing near is new, the radius grows (random moves of 2, 3, ... genes).
        """
        guided = self.prescreen > 0 and self._surrogate is not None and rng.random() < self.prescreen
        if guided:
            rows = np.vstack([self._neighbours(x), self._swaps(x)])
        else:
            rows = self._swaps(x) if self.swap_prob > 0 and rng.random() < self.swap_prob else None
            if rows is None or not len(rows):  # no swap drawn, or nothing to swap
                rows = self._neighbours(x)
        pick = self._first_new(rows, rng, taken, guided)
        movable = int((self.space.choice_counts > 1).sum())
        radius = 2
        while pick is None and radius <= movable:
            pick = self._first_new(self._random_moves(x, radius, 64, rng), rng, taken)
            radius += 1
        return pick

    def _neighbours(self, x: np.ndarray) -> np.ndarray:
        """Every network that differs from ``x`` in exactly one gene."""
        counts = self.space.choice_counts
        rows = [np.concatenate([x[:i], [v], x[i + 1:]]) for i in range(len(x)) for v in range(counts[i]) if v != x[i]]
        return np.asarray(rows, dtype=np.int64).reshape(-1, len(x))

    def _swaps(self, x: np.ndarray) -> np.ndarray:
        """``x`` with the values of two genes of the same choice list exchanged (all such pairs)."""
        rows = []
        for i in range(len(x)):
            for j in self.partners[i]:
                if j > i and x[i] != x[j]:
                    row = x.copy()
                    row[i], row[j] = x[j], x[i]
                    rows.append(row)
        return np.asarray(rows, dtype=np.int64).reshape(-1, len(x))

    def _random_moves(self, x: np.ndarray, radius: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random networks that differ from ``x`` in ``radius`` genes."""
        counts = self.space.choice_counts
        movable = np.flatnonzero(counts > 1)
        radius = min(radius, len(movable))
        out = np.repeat(np.asarray(x, dtype=np.int64)[None, :], n, axis=0)
        for row in out:
            cols = rng.choice(movable, size=radius, replace=False)
            row[cols] = (row[cols] + 1 + np.floor(rng.random(radius) * (counts[cols] - 1)).astype(np.int64)) % counts[cols]
        return out

    def _first_new(self, rows: np.ndarray, rng: np.random.Generator, taken: set[str],
                   guided: bool = False) -> np.ndarray | None:
        """A random row of ``rows`` that meets the budgets and is neither seen nor taken (or None);
        ``guided``: the most promising one by the surrogate instead."""
        if not len(rows):
            return None
        # violations(), not feasible(): these are trial moves, not proposals to record as rejected
        ok = np.all(self.problem.violations(rows) <= 0, axis=1)
        order = rng.permutation(len(rows))
        if guided:
            score = self._surrogate_eps(rows)
            if score is not None:
                order = order[np.argsort(score[order], kind="stable")]
        for i in order:
            if ok[i]:
                k = self.key(rows[i])
                if k not in self.seen and k not in taken:
                    return rows[i].copy()
        return None

    # ----------------------------------------------------------- surrogate
    def _one_hot(self, rows: np.ndarray) -> np.ndarray:
        counts = self.space.choice_counts
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        H = np.zeros((len(rows), int(counts.sum()) + 1))
        H[:, -1] = 1.0
        H[np.arange(len(rows))[:, None], offsets[None, :] + rows] = 1.0
        return H

    def _fit_surrogate(self) -> None:
        """Least-squares additive model (one-hot choices + bias) per objective on every feasible
        evaluation. Costs that are sums over layers (MACs, params, a latency table) fit exactly;
        accuracy approximately. Used only to rank candidate moves, never as a score."""
        self._surrogate = None
        if len(self._evaluated) < 2 * self.pop_size:
            return
        X = np.asarray([x for x, _ in self._evaluated], dtype=np.int64)
        F = np.asarray([f for _, f in self._evaluated], dtype=np.float64)
        W = np.linalg.lstsq(self._one_hot(X), F, rcond=None)[0]
        front = F[non_dominated_mask(F)]
        span = np.maximum(F.max(axis=0) - F.min(axis=0), 1e-12)
        self._surrogate = (W, front, span)

    def _surrogate_eps(self, rows: np.ndarray) -> np.ndarray | None:
        """Additive epsilon of each row's predicted objectives against the evaluated front (lower =
        more promising; negative = predicted to extend the front); None before enough evaluations."""
        if self._surrogate is None:
            return None
        W, front, span = self._surrogate
        P = self._one_hot(rows) @ W
        diff = (P[:, None, :] - front[None, :, :]) / span
        # rounded: the one-hot design is rank-deficient, so moves that tie exactly (an additive cost
        # fits exactly) differ only in the last bits of lstsq, which depend on the BLAS kernel of the
        # CPU; unrounded, those bits reorder the moves and a seeded search differs between machines
        return np.round(diff.max(axis=2).min(axis=1), 9)

    # --------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed, "params": self.params(), "log": self._log}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._check_state(state)
        # replay from scratch: a fresh rng, seen-set and pymoo instance, fed the logged results
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng(self.seed)
        self.seen = set()
        self._log = []
        self._algorithm = self._build_algorithm()
        for gen, rec in enumerate(state["log"]):
            asked = np.asarray([list(a) for a in self.ask()], dtype=np.int64).reshape(-1, len(self.space))
            X = np.asarray(rec["X"], dtype=np.int64).reshape(-1, len(self.space))
            if not np.array_equal(asked, X):
                raise ValueError(f"the saved nsga2 state does not replay (generation {gen} differs): it "
                                 f"was written by another version of oneshot/pymoo or edited by hand")
            self._tell_arrays(X, np.asarray(rec["F"], dtype=np.float64), np.asarray(rec["G"], dtype=np.float64))
