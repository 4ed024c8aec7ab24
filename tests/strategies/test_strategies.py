"""Strategies: parametrised over the registry; determinism, resume, budgets, no repeats."""
from __future__ import annotations

import json

import numpy as np
import pytest

from oneshot.errors import BudgetError
from oneshot.spaces import create_space
from oneshot.strategies import Problem, Trial, create_strategy, list_strategies

SMALL = {"random": {"batch_size": 10}, "evolution": {"population": 20, "top_k": 5, "mutations": 6,
                                                      "crossovers": 6, "rounds": 4},
         "nsga2": {"pop_size": 10}}


@pytest.fixture(scope="module")
def space():
    return create_space("nas-bench-macro")


def toy_objectives(arch) -> np.ndarray:
    """Two conflicting objectives with a known front: maximise 'size', minimise number of 2s."""
    a = np.asarray(arch)
    return np.array([-float((a > 0).sum()), float((a == 2).sum())])


def budget(limit: int):
    """G <= 0 iff at most ``limit`` layers are e6k5 (choice 2)."""
    return lambda m: ((np.asarray(m) == 2).sum(axis=1, keepdims=True) - limit).astype(float)


def problem(space, limit=5, n_obj=2):
    return Problem(space, n_obj, constraints=budget(limit), constraint_names=(f"twos<={limit}",),
                   best_achievable={f"twos<={limit}": "twos min = 0"})


def drive(strategy, generations: int) -> list[list[tuple[int, ...]]]:
    asked = []
    for _ in range(generations):
        batch = strategy.ask()
        if not batch:
            break
        asked.append([tuple(a) for a in batch])
        strategy.tell([Trial(a, toy_objectives(a)[: strategy.problem.n_objectives],
                             strategy.problem.violations(np.asarray(a)[None])[0]) for a in batch])
    return asked


def test_registry_lists_the_three_and_rejects_unknown(space):
    assert {"random", "evolution", "nsga2"} <= set(list_strategies())
    with pytest.raises(ValueError, match="valid: .*evolution"):
        create_strategy("annealing", space)
    with pytest.raises(ValueError, match="bad parameters"):
        create_strategy("random", space, popsize=3)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_run_and_valid_feasible_unique(name, space):
    runs = [drive(create_strategy(name, problem(space), seed=3, **SMALL[name]), 4) for _ in range(2)]
    assert runs[0] == runs[1]
    other = drive(create_strategy(name, problem(space), seed=4, **SMALL[name]), 4)
    assert other != runs[0]
    flat = [a for batch in runs[0] for a in batch]
    assert len(flat) >= 30
    keys = [space.key(a) for a in flat]
    assert len(set(keys)) == len(keys), "a canonical network was proposed twice"
    for a in flat:
        space.validate(a)
        assert all(isinstance(v, int) for v in a)
        assert sum(1 for v in a if v == 2) <= 5


@pytest.mark.parametrize("name", sorted(SMALL))
def test_state_dict_round_trip_through_json_continues_identically(name, space):
    ref = create_strategy(name, problem(space), seed=7, **SMALL[name])
    drive(ref, 2)
    state = json.loads(json.dumps(ref.state_dict()))
    clone = create_strategy(name, problem(space), seed=7, **SMALL[name])
    clone.load_state_dict(state)
    assert drive(clone, 2) == drive(ref, 2)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_state_of_other_parameters_is_refused(name, space):
    ref = create_strategy(name, problem(space), seed=1, **SMALL[name])
    drive(ref, 1)
    other = dict(SMALL[name])
    key = next(iter(other))
    other[key] = other[key] + 1
    with pytest.raises(ValueError, match="parameters"):
        create_strategy(name, problem(space), seed=1, **other).load_state_dict(ref.state_dict())


def test_random_impossible_budget_names_the_budget_and_best_value(space):
    p = Problem(space, 1, constraints=lambda m: np.ones((len(m), 1)), constraint_names=("flops<=1M",),
                best_achievable={"flops<=1M": "macs min = 7.71e+06"})
    with pytest.raises(BudgetError, match=r"flops<=1M.*7\.71e\+06"):
        create_strategy("random", p, max_attempts=500).ask()


def test_random_ends_when_every_network_was_proposed():
    space = create_space("nas-bench-macro")
    s = create_strategy("random", space, batch_size=1000, max_attempts=20_000)
    seen = set()
    for _ in range(20):
        batch = s.ask()
        if not batch:
            break
        seen |= {space.key(a) for a in batch}
    assert len(seen) == 3969 and s.ask() == []


def test_evolution_spos_defaults(space):
    s = create_strategy("evolution", space)
    assert s.params()["population"] == 50 and s.params()["top_k"] == 10
    assert s.params()["mutations"] == 25 and s.params()["crossovers"] == 25
    assert s.params()["mutation_prob"] == 0.1 and s.params()["rounds"] == 20
    assert len(s.ask()) == 50


def test_evolution_keeps_the_best_as_parents(space):
    s = create_strategy("evolution", Problem(space, 1), seed=0, population=20, top_k=3, mutations=8,
                        crossovers=8, rounds=3)
    batch = s.ask()
    scores = [-float(sum(a)) for a in batch]
    s.tell([Trial(a, np.array([f]), np.zeros(0)) for a, f in zip(batch, scores)])
    best3 = sorted(zip(scores, map(list, batch)))[:3]
    assert sorted(s.parents) == sorted(b for _, b in best3)


def test_nsga2_tolerates_nan_and_missing_results_and_many_objectives(space):
    s = create_strategy("nsga2", Problem(space, 3), seed=0, pop_size=8)
    batch = s.ask()
    trials = [Trial(a, np.array([np.nan, np.inf, 1.0]), np.zeros(0)) for a in batch[:3]]
    trials += [Trial(a, np.array([1.0, 2.0, 3.0]), np.zeros(0), failed=True) for a in batch[3:5]]
    s.tell(trials)  # batch[5:] never reported
    F = s._algorithm.pop.get("F")
    assert np.isfinite(F).all()
    nxt = s.ask()
    assert nxt and all(isinstance(v, int) for a in nxt for v in a)


@pytest.mark.parametrize("mutation", ["unexplored", "categorical", "neighbour", "pm"])
def test_nsga2_operators_give_integer_in_range_genes(mutation, space):
    s = create_strategy("nsga2", problem(space), seed=2, pop_size=10, mutation=mutation,
                        crossover="sbx" if mutation == "pm" else "uniform")
    for batch in drive(s, 4):
        for a in batch:
            space.validate(a)


def test_nsga2_neighbour_mutation_moves_one_gene_or_swaps_two(space):
    rng = np.random.default_rng(0)
    X = space.sample_matrix(rng, 200)
    for swap_prob in (0.0, 1.0):
        s = create_strategy("nsga2", Problem(space, 2), seed=0, swap_prob=swap_prob, mutation="neighbour")
        Y = s.mutation_operator.mutate(X, np.random.default_rng(1))
        changed = (Y != X).sum(axis=1)
        if swap_prob == 0.0:
            assert (changed == 1).all()
        else:  # a swap keeps the multiset of operators; rows with a single distinct value cannot swap
            movable = np.array([len(set(r)) > 1 for r in X])
            assert (changed[movable] == 2).all()
            assert all(sorted(a) == sorted(b) for a, b in zip(X[movable], Y[movable]))


def test_nsga2_unexplored_mutation_steps_to_new_feasible_networks(space):
    """Each child moves to a network never proposed, within budget, one gene away when one is left;
    when the whole one-gene neighbourhood is known the step grows instead of repeating."""
    s = create_strategy("nsga2", problem(space, limit=3), seed=0)
    x = np.array([1, 1, 1, 0, 0, 2, 2, 0])
    near = s._neighbours(x)
    assert len(near) == 16 and ((near != x).sum(axis=1) == 1).all()
    known = near[:-1]
    s.seen.update(s.key(r) for r in known)
    mutate = s.mutation_operator.mutate
    y = mutate(x[None, :], np.random.default_rng(0))[0]
    assert s.key(y) == s.key(near[-1]) or s.key(y) not in s.seen  # the one unknown neighbour (or a swap)
    assert (np.asarray(y) == 2).sum() <= 3
    s.seen.update(s.key(r) for r in near)
    s.seen.update(s.key(r) for r in s._swaps(x))
    y = mutate(x[None, :], np.random.default_rng(0))[0]
    assert s.key(y) not in s.seen and (y != x).sum() >= 2 and (np.asarray(y) == 2).sum() <= 3
    Y = mutate(np.repeat(x[None, :], 5, axis=0), np.random.default_rng(1))
    assert len({s.key(r) for r in Y}) == 5  # children of one parent in a batch all differ


def test_nsga2_surrogate_is_exact_for_additive_costs_and_ranks_moves(space):
    """The one-hot least-squares surrogate reproduces a per-layer-sum objective exactly, and the
    guided step picks the neighbour predicted to extend the front most."""
    weights = np.random.default_rng(3).random((len(space), 3))

    def additive(a):
        return weights[np.arange(len(space)), np.asarray(a)].sum()

    s = create_strategy("nsga2", Problem(space, 2), seed=0, pop_size=4, prescreen=1.0)
    rng = np.random.default_rng(0)
    X = space.sample_matrix(rng, 40)
    F = np.stack([[additive(a), -additive(a) + 0.1 * (a == 0).sum()] for a in X])
    s._evaluated = [(x, f) for x, f in zip(X, F)]
    s._fit_surrogate()
    W = s._surrogate[0]
    Y = space.sample_matrix(rng, 30)
    np.testing.assert_allclose(s._one_hot(Y) @ W[:, 0], [additive(a) for a in Y], rtol=1e-9, atol=1e-9)
    eps = s._surrogate_eps(Y)
    order = np.argsort(eps)
    picked = s._first_new(Y, np.random.default_rng(0), set(), guided=True)
    assert s.key(picked) == s.key(Y[order[0]])


def test_nsga2_rejects_bad_prescreen(space):
    with pytest.raises(ValueError, match="prescreen"):
        create_strategy("nsga2", Problem(space, 2), prescreen=1.5)


@pytest.mark.parametrize("bad", [{"crossover_prob": 5}, {"crossover_prob": -0.1}, {"mutation_prob": 1.5},
                                 {"max_attempts": 0}, {"swap_prob": 2}, {"prescreen": -1}])
def test_nsga2_probabilities_out_of_range_are_refused(space, bad):
    key, value = next(iter(bad.items()))
    with pytest.raises(ValueError, match=f"{key} must be"):
        create_strategy("nsga2", problem(space), **bad)
