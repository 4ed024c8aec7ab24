"""The NSGA-II operators through their public methods (strategies/nsga2_operators.py)."""
from __future__ import annotations

import numpy as np

from oneshot.strategies._nsga2_operators import CanonicalDuplicates, CategoricalMutation, UnexploredMutation

COUNTS = np.array([3, 3, 2, 4])


def test_categorical_mutation_stays_in_range_and_moves_at_least_one_gene():
    X = np.zeros((300, 4), dtype=np.int64)
    Y = CategoricalMutation(COUNTS, gene_prob=0.0, at_least_one=True).mutate(X, np.random.default_rng(0))
    assert ((Y >= 0) & (Y < COUNTS)).all()
    assert ((Y != X).sum(axis=1) == 1).all()  # prob 0: exactly the forced gene moves
    same = CategoricalMutation(COUNTS, gene_prob=0.0).mutate(X, np.random.default_rng(0))
    assert (same == X).all()
    every = CategoricalMutation(COUNTS, gene_prob=1.0).mutate(X, np.random.default_rng(0))
    assert (every != X).all()  # a flipped gene always takes a *different* choice


def test_canonical_duplicates_by_key_against_seen_batch_and_budget():
    key = lambda x: "".join(map(str, np.asarray(x).tolist()))  # noqa: E731
    feasible = lambda X: np.asarray(X)[:, 0] < 2  # noqa: E731  (first gene 2 is over budget)
    dup = CanonicalDuplicates(key, feasible, lambda: {"0000"})
    X = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0]])
    assert dup.duplicates(X).tolist() == [True, False, True, True]   # seen, new, repeated, over budget
    assert dup.duplicates(X, other=np.array([[1, 0, 0, 0]])).tolist() == [False, True, True, False]


def test_unexplored_mutation_gives_children_of_one_parent_distinct_steps():
    key = lambda x: "".join(map(str, np.asarray(x).tolist()))  # noqa: E731

    def step(x, rng, taken):  # the first one-gene neighbour not taken yet
        for i in range(len(x)):
            y = x.copy()
            y[i] = (y[i] + 1) % COUNTS[i]
            if key(y) not in taken:
                return y
        return None

    Y = UnexploredMutation(step, key).mutate(np.zeros((4, 4), dtype=np.int64), np.random.default_rng(0))
    assert len({key(y) for y in Y}) == 4
