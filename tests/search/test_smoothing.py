"""The additive smoother of noisy scores, and how a search ranks its front by it."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from oneshot.errors import ConfigError
from oneshot.evaluation import EvaluatorSpec
from oneshot.evaluation.tabular import load_nas_bench_macro
from oneshot.ranking.metrics import kendall_tau
from oneshot.search import SearchConfig, SearchRun, parse_objective
from oneshot.search.smoothing import (LAMBDAS, LAYER_ALPHAS, MIN_ARCHITECTURES, fit_additive, fit_layer_weights,
                                      layer_contributions, one_hot, smooth)
from oneshot.spaces import create_space


@pytest.fixture(scope="module")
def nbm():
    space = create_space("nas-bench-macro")
    table = load_nas_bench_macro()
    keys = sorted({space.key([int(c) for c in enc]) for enc in table})
    archs = np.array([[int(c) for c in k] for k in keys])
    truth = np.array([table[k]["mean_acc"] for k in keys])
    return space, archs, truth


def test_one_hot_is_of_the_canonical_encoding():
    space = create_space("nas-bench-macro")
    # an identity inside a stage moves to the stage's end: the same network, the same features
    a, b = [1, 1, 1, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 1, 1, 1]
    assert space.key(a) == space.key(b)
    x = one_hot(space, [a, b])
    assert x.shape == (2, 24) and (x.sum(axis=1) == 8).all() and (x[0] == x[1]).all()
    conv = [1, 1, 0, 1, 1, 1, 1, 1]  # an identity at a stride-2 position is a conv: it does not move
    assert not (one_hot(space, [conv])[0] == x[0]).all()


def test_effects_are_each_choice_against_its_dimensions_first(nbm):
    space, archs, _ = nbm
    planted = np.array([[0.0, 1.0, 3.0]] * 8) * np.arange(1, 9)[:, None]  # layer i: 0, i, 3i
    canonical = space.canonicalize_matrix(archs)
    scores = planted[np.arange(8)[None, :], canonical].sum(axis=1)
    effects = fit_additive(space, archs, scores).effects()
    assert len(effects) == 8 and all(e.shape == (2,) for e in effects)
    # the weakest ridge shrinks a little; the layout and the proportions are exact
    assert np.allclose(np.array(effects), planted[:, 1:], rtol=0.02)


def test_recovers_an_additive_truth_through_noise_on_nas_bench_macro(nbm):
    """NAS-Bench-Macro's published accuracies plus noise of a supernet's size (sd 2 points): ranking
    by the fit agrees with the truth far better than the noisy scores do."""
    space, archs, truth = nbm
    rng = np.random.default_rng(0)
    idx = rng.choice(len(archs), 300, replace=False)
    noisy = truth[idx] + rng.normal(0, 2.0, len(idx))
    smoothed, info = smooth(space, archs[idx], noisy)
    raw_tau, smooth_tau = kendall_tau(noisy, truth[idx]), kendall_tau(smoothed, truth[idx])
    assert smooth_tau > raw_tau + 0.1, (raw_tau, smooth_tau)
    assert info["architectures"] == 300 and 0 < info["loo_r2"] < 1 and info["ridge"] in LAMBDAS
    # the fit prices networks it never saw: the rest of the benchmark, ranked as well as the seen ones
    rest = np.setdiff1d(np.arange(len(archs)), idx)
    fit = fit_additive(space, archs[idx], noisy)
    assert kendall_tau(fit.predict(archs[rest]), truth[rest]) > raw_tau + 0.1


def test_scores_without_structure_are_shrunk_to_their_mean(nbm):
    space, archs, _ = nbm
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1.0, 200)
    fit = fit_additive(space, archs[:200], noise)
    assert fit.ridge >= 100, "leave-one-out should choose a strong ridge for pure noise"
    assert fit.predict(archs[:200]).std() < 0.3 * noise.std()


def test_too_few_or_non_finite_scores(nbm):
    space, archs, truth = nbm
    few = truth[: MIN_ARCHITECTURES - 1]
    values, info = smooth(space, archs[: len(few)], few)
    assert info is None and np.array_equal(values, few)
    scores = truth[:50].copy()
    scores[[3, 7]] = np.nan  # failed evaluations: left out of the fit, still given a smoothed value
    values, info = smooth(space, archs[:50], scores)
    assert info["architectures"] == 48 and np.isfinite(values).all()
    with pytest.raises(ConfigError, match="at least 3"):
        fit_additive(space, archs[:2], truth[:2])
    with pytest.raises(ConfigError, match="scores"):
        fit_additive(space, archs[:5], truth[:4])


def test_only_estimates_are_smoothed_by_default():
    assert EvaluatorSpec("supernet", {}).scores_are_estimates()
    assert not EvaluatorSpec("nas-bench-macro", {}).scores_are_estimates()
    assert not EvaluatorSpec("synthetic", {}).scores_are_estimates()
    with pytest.raises(ConfigError, match="--smoothing 'median': unknown smoothing; valid: additive, none"):
        SearchConfig(EvaluatorSpec("synthetic", {}), "out", smoothing="median")


def _search(out, smoothing, resume=False):
    spec = EvaluatorSpec("synthetic", {"space": "nas-bench-macro"})
    objectives = [parse_objective("loss:min"), parse_objective("macs:min")]
    return SearchRun(SearchConfig(spec, str(out), strategy="nsga2", strategy_params={"pop_size": 10},
                                  objectives=objectives, budget=40, seed=0, progress=False,
                                  smoothing=smoothing, resume=resume)).run()


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_search_front_ranked_by_the_fit_and_resume_rewrites_it(tmp_path):
    out = tmp_path / "run"
    summary = _search(out, "additive")
    front, history = _csv(out / "pareto.csv"), _csv(out / "history.csv")
    assert "loss_smoothed" in front[0] and "loss_smoothed" not in history[0], "history.csv keeps raw scores"
    assert summary["smoothing"]["loss"]["architectures"] == 40
    # the front is non-dominated in (smoothed loss, MACs) among everything evaluated
    space = create_space("nas-bench-macro")
    archs = [[int(r[f"l{i}"] == "e3k3") + 2 * int(r[f"l{i}"] == "e6k5") for i in range(8)] for r in history]
    smoothed, _ = smooth(space, archs, [float(r["loss"]) for r in history])
    points = {r["key"]: (s, float(r["macs"])) for r, s in zip(history, smoothed)}
    for r in front:
        p = points[r["key"]]
        assert float(r["loss_smoothed"]) == pytest.approx(p[0])
        assert not any(q[0] < p[0] - 1e-12 and q[1] <= p[1] for q in points.values())
    best = json.loads((out / "best.json").read_text())["best"]
    assert best["key"] == front[0]["key"] and "loss_smoothed" in best["metrics"]
    # the same evaluations, ranked by the raw scores: --resume with --smoothing none evaluates nothing
    before = (out / "history.csv").read_bytes()
    summary = _search(out, "none", resume=True)
    assert (out / "history.csv").read_bytes() == before and summary["smoothing"] == "none"
    raw_front = _csv(out / "pareto.csv")
    assert "loss_smoothed" not in raw_front[0]
    assert min(float(r["loss"]) for r in raw_front) == min(float(r["loss"]) for r in history)


def _planted_fit(nbm, layer_sizes, n=300, seed=0):
    """An additive fit to NAS-Bench-Macro's truth with each layer's effects scaled by layer_sizes
    (a supernet that orders each layer's choices right and sizes the layers wrong)."""
    space, archs, truth = nbm
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(archs), n, replace=False)
    truth_fit = fit_additive(space, archs, truth)
    biased = layer_contributions(truth_fit, archs) @ np.asarray(layer_sizes, dtype=float)
    return space, archs, truth, idx, fit_additive(space, archs[idx], biased[idx]), truth_fit


def test_layer_contributions_add_up_to_the_fit(nbm):
    space, archs, truth = nbm
    fit = fit_additive(space, archs[:200], truth[:200])
    parts = layer_contributions(fit, archs)
    assert parts.shape == (len(archs), 8)
    assert np.allclose(parts.sum(axis=1) + fit.mean_y, fit.predict(archs))


def test_landmarks_restore_the_sizes_of_the_layers(nbm):
    """A fit whose last stage is four times too large ranks the benchmark badly; 16 landmarks with
    the true accuracy (plus 0.5 points of noise) give the layers back their sizes."""
    sizes = [0.5, 0.5, 0.5, 1, 1, 4, 4, 4]
    space, archs, truth, idx, fit, truth_fit = _planted_fit(nbm, sizes)
    rng = np.random.default_rng(3)
    marks = space.canonicalize_matrix(archs[rng.choice(len(archs), 16, replace=False)])
    target = truth_fit.predict(marks) + rng.normal(0, 0.5, len(marks))
    layered = fit_layer_weights(fit, marks, target)
    before, after = kendall_tau(fit.predict(archs), truth), kendall_tau(layered.predict(archs), truth)
    assert after > before + 0.15 and after > 0.8, (before, after)
    w = layered.layer_weights
    assert w[:3].mean() > w[5:].mean()  # the early layers get the larger weights back
    assert layered.alpha in LAYER_ALPHAS and layered.loo_rmse > 0


def test_landmarks_without_signal_leave_the_supernet_order(nbm):
    space, archs, truth, idx, fit, _ = _planted_fit(nbm, [1] * 8)
    rng = np.random.default_rng(4)
    marks = archs[rng.choice(len(archs), 12, replace=False)]
    layered = fit_layer_weights(fit, marks, rng.normal(60, 5, len(marks)))  # pure noise
    # the pull to one common scale wins: the order within the benchmark barely moves
    assert kendall_tau(layered.predict(archs), fit.predict(archs)) > 0.8


def test_too_few_or_bad_landmarks(nbm):
    space, archs, truth, idx, fit, _ = _planted_fit(nbm, [1] * 8, n=100)
    with pytest.raises(ConfigError, match="at least 4 landmarks"):
        fit_layer_weights(fit, archs[:3], truth[:3])
    with pytest.raises(ConfigError, match="at least 4 landmarks"):
        fit_layer_weights(fit, archs[:5], [1.0, 2.0, np.nan, 3.0, 4.0])
    with pytest.raises(ConfigError, match="5 landmark architectures but 4 targets"):
        fit_layer_weights(fit, archs[:5], truth[:4])


def test_a_fixed_strength_is_used_as_given(nbm):
    space, archs, truth, idx, fit, truth_fit = _planted_fit(nbm, [0.5, 0.5, 0.5, 1, 1, 4, 4, 4])
    marks = archs[:16]
    fixed = fit_layer_weights(fit, marks, truth_fit.predict(marks), alpha=float("inf"))
    assert fixed.alpha == float("inf") and np.allclose(fixed.layer_weights, fixed.layer_weights[0])
    assert fit_layer_weights(fit, marks, truth_fit.predict(marks), alpha=0.3).alpha == 0.3
    with pytest.raises(ConfigError, match="must be > 0"):
        fit_layer_weights(fit, marks, truth_fit.predict(marks), alpha=0.0)
