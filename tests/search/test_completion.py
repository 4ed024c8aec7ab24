"""Front completion: the fitted model's unevaluated front members, evaluated after the budget."""
from __future__ import annotations

import csv
import shutil

import numpy as np

from oneshot.evaluation import EvaluatorSpec
from oneshot.search import SearchConfig, SearchRun, parse_constraint, parse_objective
from oneshot.search.completion import COMPLETION_GENERATION, POOL_SIZE, candidate_matrix
from oneshot.search.smoothing import fit_additive
from oneshot.spaces import create_space


def _search(out, complete, resume=False, constraints=(), budget=40, rounds=1):
    spec = EvaluatorSpec("synthetic", {"space": "nas-bench-macro"})
    objectives = [parse_objective("loss:min"), parse_objective("macs:min")]
    return SearchRun(SearchConfig(spec, str(out), strategy="nsga2", strategy_params={"pop_size": 10},
                                  objectives=objectives, budget=budget, seed=0, progress=False, smoothing="additive",
                                  complete=complete, complete_rounds=rounds, resume=resume,
                                  constraints=[parse_constraint(c) for c in constraints])).run()


def _history(out):
    with open(out / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _arch(row):
    return [int(row[f"l{i}"] == "e3k3") + 2 * int(row[f"l{i}"] == "e6k5") for i in range(8)]


def test_completion_evaluates_what_the_fit_puts_on_the_front(tmp_path):
    out = tmp_path / "run"
    summary = _search(out, complete=8)
    rows = _history(out)
    strategy, completed = rows[:40], rows[40:]
    assert all(int(r["generation"]) >= 0 for r in strategy)
    assert 0 < len(completed) <= 8 and all(int(r["generation"]) == COMPLETION_GENERATION for r in completed)
    assert summary["completion"] == {"size": 8, "rounds": 1, "proposed": len(completed), "evaluated": len(completed)}
    assert summary["evaluations"] == len(rows)
    assert not {r["key"] for r in completed} & {r["key"] for r in strategy}
    # each proposal: predicted (by the fit of the strategy's rows) to be dominated by none of them
    space = create_space("nas-bench-macro")
    fit = fit_additive(space, [_arch(r) for r in strategy], [float(r["loss"]) for r in strategy])
    fitted = fit.predict(np.array([_arch(r) for r in strategy]))
    macs = np.array([float(r["macs"]) for r in strategy])
    for r, p in zip(completed, fit.predict(np.array([_arch(r) for r in completed]))):
        assert not np.any((fitted < p - 1e-9) & (macs <= float(r["macs"])))
    # the final front is refitted over all of them, and may hold completed networks
    assert summary["smoothing"]["loss"]["architectures"] == len(rows)


def test_an_interrupted_completion_resumes_to_the_same_history(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    _search(whole, complete=8)
    lines = (whole / "history.csv").read_text().splitlines(keepends=True)
    assert len(lines) > 43
    shutil.copytree(whole, cut)
    (cut / "history.csv").write_text("".join(lines[:43]))  # header, 40 strategy rows, 2 completed
    _search(cut, complete=8, resume=True)
    assert [r["key"] for r in _history(cut)] == [r["key"] for r in _history(whole)]
    # and a finished completion resumed again evaluates nothing
    before = (cut / "history.csv").read_bytes()
    _search(cut, complete=8, resume=True)
    assert (cut / "history.csv").read_bytes() == before


def test_later_rounds_refit_with_the_earlier_scores_and_resume_to_the_same_history(tmp_path):
    one, three = _search(tmp_path / "one", complete=40), _search(tmp_path / "three", complete=40, rounds=3)
    first = [r["key"] for r in _history(tmp_path / "one")][40:]
    rows = _history(tmp_path / "three")
    assert [r["key"] for r in rows][40:40 + len(first)] == first  # round 1 is the one-round completion
    assert three["completion"]["rounds"] >= 2 and three["completion"]["evaluated"] > one["completion"]["evaluated"]
    assert three["completion"]["evaluated"] <= 40 and len({r["key"] for r in rows}) == len(rows)
    # cut inside round 2: the resume proposes the same rounds and evaluates only what is missing
    lines = (tmp_path / "three" / "history.csv").read_text().splitlines(keepends=True)
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "three", cut)
    (cut / "history.csv").write_text("".join(lines[:1 + 40 + len(first) + 1]))
    _search(cut, complete=40, rounds=3, resume=True)
    assert [r["key"] for r in _history(cut)] == [r["key"] for r in rows]


def test_completion_does_not_spend_the_strategys_budget(tmp_path):
    out = tmp_path / "run"
    _search(out, complete=8)
    completed = sum(int(r["generation"]) == COMPLETION_GENERATION for r in _history(out))
    _search(out, complete=0, resume=True, budget=60)  # a larger --budget: 20 more strategy evaluations
    rows = _history(out)
    assert sum(int(r["generation"]) >= 0 for r in rows) == 60
    assert sum(int(r["generation"]) == COMPLETION_GENERATION for r in rows) == completed


def test_completion_respects_budgets_and_can_be_switched_off(tmp_path):
    summary = _search(tmp_path / "off", complete=0)
    assert len(_history(tmp_path / "off")) == 40 and summary["completion"]["evaluated"] == 0
    summary = _search(tmp_path / "capped", complete=8, constraints=["macs<=30M"])
    completed = _history(tmp_path / "capped")[40:]
    assert all(float(r["macs"]) <= 30e6 for r in completed)
    assert summary["completion"]["evaluated"] == len(completed)


def test_a_benchmark_search_is_not_completed_by_default(tmp_path):
    spec = EvaluatorSpec("synthetic", {"space": "nas-bench-macro"})
    summary = SearchRun(SearchConfig(spec, str(tmp_path / "t"), strategy="random", budget=20, progress=False,
                                     objectives=[parse_objective("loss:min")])).run()
    assert summary["completion"]["size"] == 0 and summary["evaluations"] == 20


def test_completion_of_raw_ranked_scores_is_refused_before_anything_runs(tmp_path):
    import pytest

    from oneshot.errors import ConfigError

    spec = EvaluatorSpec("nas-bench-macro", {})
    with pytest.raises(ConfigError, match="--smoothing additive or --complete 0"):
        SearchConfig(spec, str(tmp_path / "b"), budget=20, complete=8)
    assert not (tmp_path / "b").exists()


def test_candidates_enumerate_a_small_space_and_sample_a_large_one():
    small = create_space("nas-bench-macro")
    matrix = candidate_matrix(small)
    assert len(matrix) == small.distinct_size() and len({small.key(a) for a in matrix}) == len(matrix)
    large = create_space("spos")
    pool = candidate_matrix(large, seed=3)
    assert 0.99 * POOL_SIZE <= len(pool) <= POOL_SIZE and np.array_equal(pool, candidate_matrix(large, seed=3))
    assert not np.array_equal(pool, candidate_matrix(large, seed=4))


def test_completion_is_capped_over_the_runs_life_and_finished_counts_the_strategy(tmp_path):
    from oneshot.search.run import search_finished, search_status

    out = tmp_path / "run"
    _search(out, complete=8)
    first = sum(int(r["generation"]) == COMPLETION_GENERATION for r in _history(out))
    assert search_finished(out, 40) and not search_finished(out, 40 + first)
    assert search_status(out) == {**search_status(out), "evaluations": 40 + first, "strategy_evaluations": 40}
    # a larger --budget proposes anew from 60 strategy rows; the cap of 8 holds for the whole run
    summary = _search(out, complete=8, resume=True, budget=60)
    rows = _history(out)
    assert sum(int(r["generation"]) >= 0 for r in rows) == 60 == summary["strategy_evaluations"]
    assert sum(int(r["generation"]) == COMPLETION_GENERATION for r in rows) == summary["completion"]["evaluated"] <= 8


def test_too_few_scores_for_a_fit_propose_nothing(tmp_path):
    summary = _search(tmp_path / "few", complete=8, budget=6)
    assert summary["smoothing"]["loss"] == "too few evaluations: raw scores"
    assert len(_history(tmp_path / "few")) == 6 and summary["completion"]["evaluated"] == 0


def test_rounds_without_a_completion_are_refused():
    import pytest

    from oneshot.errors import ConfigError

    spec = EvaluatorSpec("synthetic", {"space": "nas-bench-macro"})
    with pytest.raises(ConfigError, match="--complete-rounds 3 needs a completion: pass --complete N"):
        SearchConfig(spec, "unused", complete_rounds=3)


def test_a_sweep_completes_only_its_finished_search(tmp_path):
    from oneshot.cli.sweep import sweep_config
    from oneshot.sweep import run_trial

    trial = sweep_config(str(tmp_path / "s"), ["--evaluator", "synthetic", "-e", "space=nas-bench-macro", "--strategy", "nsga2", "-p",
                                               "pop_size=10", "--objective", "loss:min", "--objective", "macs:min",
                                               "--smoothing", "additive", "--complete", "8", "--budget", "40"],
                         seeds=[0]).trials[0]
    seen = []
    summary = run_trial(trial, report_every=10, report=lambda m: seen.append(m["evaluations"]))
    rows = _history(tmp_path / "s" / "trials" / trial.slug)
    completed = [r for r in rows if int(r["generation"]) == COMPLETION_GENERATION]
    assert seen[:3] == [10, 20, 30] and len(seen) == 4 and 0 < len(completed) <= 8
    assert rows[-len(completed):] == completed and summary["strategy_evaluations"] == 40
