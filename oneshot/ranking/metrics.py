"""Rank-correlation metrics between a proxy's scores and ground-truth accuracies (higher = better)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _pair(proxy: Sequence[float], truth: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(proxy, dtype=float), np.asarray(truth, dtype=float)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"proxy and truth must be 1-D and of equal length, got {p.shape} and {t.shape}")
    if len(p) < 2:
        raise ValueError("rank correlation needs at least 2 architectures")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("proxy and truth must be finite (drop failed evaluations first)")
    return p, t


def kendall_tau(proxy: Sequence[float], truth: Sequence[float]) -> float:
    """Kendall's tau-b (ties handled): +1 same order, -1 reversed, 0 unrelated. NaN if one side is constant."""
    from scipy.stats import kendalltau

    p, t = _pair(proxy, truth)
    return float(kendalltau(p, t).statistic)


def spearman_rho(proxy: Sequence[float], truth: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson correlation of the ranks, average ranks for ties)."""
    from scipy.stats import spearmanr

    p, t = _pair(proxy, truth)
    return float(spearmanr(p, t).statistic)


def top_k_precision(proxy: Sequence[float], truth: Sequence[float], k: int) -> float:
    """Share of the truly best ``k`` that are also among the proxy's best ``k`` (stable order on ties)."""
    p, t = _pair(proxy, truth)
    if not 1 <= k <= len(p):
        raise ValueError(f"k must be in 1..{len(p)}, got {k}")
    best_p = set(np.argsort(-p, kind="stable")[:k].tolist())
    best_t = set(np.argsort(-t, kind="stable")[:k].tolist())
    return len(best_p & best_t) / k


def ranking_summary(proxy: Sequence[float], truth: Sequence[float], ks: Sequence[int] = (5, 10)) -> dict[str, float]:
    """Kendall tau, Spearman rho and top-k precision for each ``k`` that fits, in one JSON-able dict."""
    p, t = _pair(proxy, truth)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant proxy gives NaN, reported as such
        out = {"kendall_tau": kendall_tau(p, t), "spearman_rho": spearman_rho(p, t), "n": int(len(p))}
    # a proxy with few distinct values (e.g. a collapsed supernet scoring most paths at chance) gives a
    # tau computed mostly from ties: report how many distinct scores there were, so it can be discounted
    out["distinct_proxy_values"] = int(len(np.unique(p)))
    for k in ks:
        if k <= len(p):
            out[f"top{k}_precision"] = top_k_precision(p, t, k)
    return out


def top_fraction_precision(proxy: Sequence[float], truth: Sequence[float], fraction: float = 0.1) -> float:
    """``top_k_precision`` with ``k`` = ``fraction`` of the architectures (at least 1)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return top_k_precision(proxy, truth, max(1, int(round(fraction * len(proxy)))))


def within_cost_quantiles(proxy: Sequence[float], truth: Sequence[float], cost: Sequence[float],
                          quantiles: int = 5) -> list[float]:
    """Kendall tau inside each of ``quantiles`` equal-count cost groups, cheapest first.

    A budgeted search chooses among networks of similar cost, where a proxy that only tracks cost
    (MACs itself) has little to go on: this is the order that decides what such a search returns.
    """
    p, t = _pair(proxy, truth)
    c = np.asarray(cost, dtype=float)
    if c.shape != p.shape:
        raise ValueError(f"cost must have the proxy's shape {p.shape}, got {c.shape}")
    order = np.argsort(c, kind="stable")
    import warnings

    out = []
    for group in np.array_split(order, quantiles):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(kendall_tau(p[group], t[group]) if len(group) >= 2 else float("nan"))
    return out


def decision_regret(picks: dict[float, float], truth_best: dict[float, float]) -> dict[float, float]:
    """Points of true accuracy lost per budget: best reachable minus what was picked."""
    return {b: float(truth_best[b] - picks[b]) for b in picks}


def pick_under_budget(score: Sequence[float], cost: Sequence[float], budget: float) -> int | None:
    """Index of the highest-scoring member whose cost fits ``budget`` (first on ties); None if none fits."""
    s, c = np.asarray(score, dtype=float), np.asarray(cost, dtype=float)
    fits = np.flatnonzero(c <= budget)
    if not len(fits):
        return None
    return int(fits[np.argmax(s[fits])])
