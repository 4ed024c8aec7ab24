"""The depth-trend correction of a supernet's fit by landmarks, and how landmark pairs are proposed."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.costs.counting import flops_params_table
from oneshot.errors import ConfigError
from oneshot.search.landmarks import (MIN_LANDMARKS, depth_positions, fit_depth_trend,
                                      propose_landmark_pairs)
from oneshot.search.smoothing import fit_additive, layer_contributions
from oneshot.spaces import create_space


@pytest.fixture(scope="module")
def supernet_like():
    """A fit of scores whose late layers count more than the 'truth' does (the measured bias)."""
    space = create_space("nas-bench-macro")
    rng = np.random.default_rng(0)
    archs = np.unique(space.canonicalize_matrix(space.sample_matrix(rng, 3000)), axis=0)
    effect = rng.normal(0.0, 1.0, (8, 3))
    scores = effect[np.arange(8)[None, :], archs].sum(axis=1) + rng.normal(0, 0.05, len(archs))
    return space, archs, fit_additive(space, archs, scores)


def _truth(fit, archs, beta, scale=2.0, intercept=50.0):
    return layer_contributions(fit, archs) @ (scale * np.exp(beta * depth_positions(8))) + intercept


@pytest.mark.parametrize("beta", [-1.5, 0.0, 0.8])
def test_the_trend_of_landmarks_is_recovered(supernet_like, beta):
    space, archs, fit = supernet_like
    marks = archs[:12]
    trend = fit_depth_trend(fit, marks, _truth(fit, marks, beta))
    assert trend.beta == pytest.approx(beta, abs=0.051)
    assert trend.scale == pytest.approx(2.0, rel=0.05)
    lo, hi = trend.beta_interval
    assert lo <= trend.beta <= hi
    # and it ranks the other networks as the trend says
    others = archs[12:]
    assert np.corrcoef(trend.predict(others), _truth(fit, others, beta))[0, 1] > 0.999
    assert trend.describe()["landmarks"] == 12


def test_noisy_landmarks_widen_the_interval(supernet_like):
    space, archs, fit = supernet_like
    marks = archs[:10]
    clean = fit_depth_trend(fit, marks, _truth(fit, marks, -1.0) + np.random.default_rng(1).normal(0, 0.01, 10))
    noisy = fit_depth_trend(fit, marks, _truth(fit, marks, -1.0) + np.random.default_rng(1).normal(0, 3.0, 10))
    width = lambda t: t.beta_interval[1] - t.beta_interval[0]  # noqa: E731
    assert width(noisy) > width(clean)


def test_landmarks_that_disagree_with_the_fit_leave_its_order_alone(supernet_like):
    space, archs, fit = supernet_like
    marks = archs[:10]
    trend = fit_depth_trend(fit, marks, -_truth(fit, marks, 0.0))
    assert trend.beta == 0.0 and trend.scale == 0.0
    with pytest.raises(ConfigError, match="at least"):
        fit_depth_trend(fit, marks[:MIN_LANDMARKS - 1], np.zeros(MIN_LANDMARKS - 1))
    with pytest.raises(ConfigError, match="finite"):
        fit_depth_trend(fit, marks[:6], [1, 2, np.nan, 4, 5, 6])
    with pytest.raises(ConfigError, match="targets"):
        fit_depth_trend(fit, marks[:6], [1, 2, 3])


def test_proposed_pairs_are_disjoint_cost_matched_and_depth_contrasting(supernet_like):
    space, archs, fit = supernet_like
    macs = np.asarray(flops_params_table(space).price(archs)["macs"], dtype=float)
    pairs = propose_landmark_pairs(fit, archs, macs, 6, max_cost=60e6, tolerance=0.05)
    assert len(pairs) == 6
    members = [i for p in pairs for i in p]
    assert len(set(members)) == 12
    sens = layer_contributions(fit, archs) @ depth_positions(8)
    for i, j in pairs:
        assert macs[i] <= 60e6 and macs[j] <= 60e6
        assert abs(np.log(macs[i] / macs[j])) <= np.log(1.05) + 1e-12
        # the chosen pair contrasts depth more than a typical cost-matched pair does
        assert abs(sens[i] - sens[j]) > np.median(np.abs(sens - sens.mean()))
    # one pair per cost stratum, cheapest first: the landmarks span the range
    assert (np.diff(macs[[p[0] for p in pairs]]) > 0).all()


def test_impossible_pair_requests_say_what_to_change(supernet_like):
    space, archs, fit = supernet_like
    macs = np.asarray(flops_params_table(space).price(archs)["macs"], dtype=float)
    with pytest.raises(ConfigError, match="raise the limit"):
        propose_landmark_pairs(fit, archs, macs, 4, max_cost=float(np.sort(macs)[5]))
    with pytest.raises(ConfigError, match="at least one"):
        propose_landmark_pairs(fit, archs, macs, 0)
    with pytest.raises(ConfigError, match="nearly equal cost"):
        propose_landmark_pairs(fit, archs, macs, 400, tolerance=0.0)


def test_corrected_scores_keep_their_units_and_rank_as_the_trend(supernet_like):
    from oneshot.ranking.metrics import kendall_tau
    from oneshot.search.landmarks import depth_corrected

    space, archs, fit = supernet_like
    loss = -fit.predict(archs) + 3.0  # a loss: lower is better
    marks = archs[:12]
    values, info = depth_corrected(space, archs, loss, False, marks, _truth(fit, marks, -1.2))
    assert info["depth_trend"]["beta"] == pytest.approx(-1.2, abs=0.051)
    assert abs(values.mean() - loss.mean()) < 0.1 * loss.std()  # still reads as a loss
    assert kendall_tau(-values, _truth(fit, archs, -1.2)) > 0.99
    # too few scores: the raw ones come back untouched
    raw, none = depth_corrected(space, archs[:5], loss[:5], False, marks, _truth(fit, marks, -1.2))
    assert none is None and (raw == loss[:5]).all()


def test_landmark_files_with_published_quirks(tmp_path):
    from oneshot.search.landmarks import read_landmarks

    space = create_space("nas-bench-macro")
    path = tmp_path / "landmarks.csv"
    # columns in another order, blank accuracy (not trained yet), Windows line ends
    path.write_text("accuracy,key,pair\r\n51.5,00000110,0\r\n,20000000,0\r\n")
    archs, acc = read_landmarks(path, space, require_all=False)
    assert archs.tolist()[0] == [0, 0, 0, 0, 0, 1, 1, 0] and np.isnan(acc[1])
    with pytest.raises(ConfigError, match="no accuracy yet"):
        read_landmarks(path, space)
    path.write_text("key,accuracy\n00000110,inf\n")
    with pytest.raises(ConfigError, match="not finite"):
        read_landmarks(path, space)
    path.write_text("key,accuracy\n00000110,high\n")
    with pytest.raises(ConfigError, match="not a number"):
        read_landmarks(path, space)
    path.write_text("arch,acc\n00000110,1\n")
    with pytest.raises(ConfigError, match="lacks column"):
        read_landmarks(path, space)
