"""Rank metrics on toy orders with known answers; FLOPs-stratified sampling spans the cost range."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.costs.counting import flops_params_table
from oneshot.ranking import kendall_tau, ranking_summary, spearman_rho, stratified_by_cost, top_k_precision
from oneshot.spaces import create_space


def test_perfect_reversed_and_one_swap():
    truth = [1, 2, 3, 4, 5]
    assert kendall_tau([10, 20, 30, 40, 50], truth) == pytest.approx(1.0)
    assert kendall_tau([5, 4, 3, 2, 1], truth) == pytest.approx(-1.0)
    # one adjacent swap out of 10 pairs: (9 - 1) / 10
    assert kendall_tau([1, 2, 3, 5, 4], truth) == pytest.approx(0.8)
    # Spearman: 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 6 * 2 / 120
    assert spearman_rho([1, 2, 3, 5, 4], truth) == pytest.approx(0.9)


def test_top_k_precision():
    truth = [0.9, 0.8, 0.1, 0.2, 0.3]
    proxy = [0.9, 0.1, 0.8, 0.2, 0.3]   # proxy's top-2 = {0, 2}; true top-2 = {0, 1}
    assert top_k_precision(proxy, truth, 2) == 0.5
    assert top_k_precision(proxy, truth, 5) == 1.0
    with pytest.raises(ValueError):
        top_k_precision(proxy, truth, 6)


def test_summary_and_bad_input():
    s = ranking_summary(np.arange(12.0), np.arange(12.0), ks=(5, 10, 20))
    assert s["kendall_tau"] == pytest.approx(1.0) and s["top5_precision"] == 1.0 and "top20_precision" not in s
    with pytest.raises(ValueError, match="finite"):
        kendall_tau([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="equal length"):
        spearman_rho([1.0, 2.0], [1.0, 2.0, 3.0])


def test_stratified_sample_spans_the_cost_range_and_is_deterministic():
    space = create_space("nas-bench-macro")
    table = flops_params_table(space)
    archs = stratified_by_cost(space, 20, np.random.default_rng(0), table=table)
    again = stratified_by_cost(space, 20, np.random.default_rng(0), table=table)
    assert archs == again
    assert len({space.key(a) for a in archs}) == 20
    macs = table.price(np.array(archs))["macs"]
    lo, hi = table.bounds()["macs"]
    # the cheapest and dearest picks sit in the outer 15 % of the reachable range
    assert macs.min() < lo + 0.15 * (hi - lo) and macs.max() > hi - 0.15 * (hi - lo)
    random_macs = table.price(space.sample_matrix(np.random.default_rng(0), 20))["macs"]
    assert np.ptp(macs) > np.ptp(random_macs)


def test_stratified_sample_under_a_cost_cap():
    space = create_space("nas-bench-macro")
    table = flops_params_table(space)
    archs = stratified_by_cost(space, 10, np.random.default_rng(0), table=table, max_cost=60e6)
    macs = table.price(np.array(archs))["macs"]
    assert len({space.key(a) for a in archs}) == 10 and macs.max() <= 60e6 and macs.max() > 50e6
    with pytest.raises(ValueError, match="cost at most"):
        stratified_by_cost(space, 10, np.random.default_rng(0), table=table, max_cost=1e6)


def test_quintiles_top_fraction_and_budget_picks():
    import numpy as np

    from oneshot.ranking.metrics import pick_under_budget, top_fraction_precision, within_cost_quantiles

    truth = np.arange(20, dtype=float)
    cost = np.arange(20, dtype=float)[::-1]  # cheapest are the best: a cost proxy is reversed
    taus = within_cost_quantiles(truth, truth, cost, 5)
    assert len(taus) == 5 and all(t == 1.0 for t in taus)
    assert all(t == -1.0 for t in within_cost_quantiles(-truth, truth, cost, 5))
    assert top_fraction_precision(truth, truth, 0.1) == 1.0
    assert top_fraction_precision(-truth, truth, 0.1) == 0.0
    assert pick_under_budget([1, 5, 3], [10, 30, 20], 25) == 2
    assert pick_under_budget([1, 5, 3], [10, 30, 20], 5) is None
