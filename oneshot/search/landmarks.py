"""Correcting a supernet's depth bias with a few networks trained alone ("landmarks").

Weight sharing misjudges *how much* each layer matters more than *which* choice of a layer is
better: on NAS-Bench-Macro every supernet trained here overweights the late layers against the early
ones (docs/ranking.md, the bias table). The additive fit of the supernet's losses
(``oneshot.search.smoothing``) splits each network's score into one contribution per layer; this
module rescales those contributions by a smooth trend over depth,

    score(x) = a + s * sum_d exp(beta * t_d) * contribution_d(x),   t_d = d / (D - 1) in [0, 1],

whose two numbers ``s`` and ``beta`` (beta < 0: the early layers matter more than the supernet says)
are fitted to the measured accuracies of a few landmark networks. One trend parameter, not one
weight per layer: a handful of noisy stand-alone accuracies can estimate it, and ``beta = 0`` is the
supernet's own ranking, so landmarks that carry no depth signal leave it unchanged.

The landmarks are proposed from the supernet's own fit, without any ground truth
(``propose_landmark_pairs``): pairs of networks of nearly equal cost whose predicted order depends
most on the trend (one spends its capacity early, the other late), stratified over the cost range so
that the scale ``s`` is pinned down as well.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from oneshot.errors import ConfigError
from oneshot.search.smoothing import AdditiveFit, fit_additive, layer_contributions
from oneshot.spaces.core import SearchSpace

#: trend strengths tried: beta is the log of the last layer's weight over the first layer's
DEPTH_TREND_GRID = tuple(float(b) for b in np.round(np.arange(-4.0, 4.0001, 0.05), 2))
#: fewer landmarks than this cannot fit intercept, scale and trend with any residual left
MIN_LANDMARKS = 5


def depth_positions(n_dims: int) -> np.ndarray:
    """Each dimension's relative depth t_d in [0, 1] (dimensions are in network order)."""
    return np.linspace(0.0, 1.0, n_dims) if n_dims > 1 else np.zeros(1)


@dataclass
class DepthTrendFit:
    """An additive fit whose per-layer contributions are scaled by ``scale * exp(beta * t_d)``."""

    fit: AdditiveFit
    beta: float
    scale: float
    intercept: float
    rmse: float
    beta_interval: tuple[float, float]
    landmarks: int

    @property
    def layer_weights(self) -> np.ndarray:
        return self.scale * np.exp(self.beta * depth_positions(len(self.fit.space.choice_counts)))

    def predict(self, archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
        return layer_contributions(self.fit, archs) @ self.layer_weights + self.intercept

    def describe(self) -> dict[str, float]:
        """The trend and its support, for logs and result files."""
        lo, hi = self.beta_interval
        return {"landmarks": self.landmarks, "beta": self.beta, "beta_low": lo, "beta_high": hi,
                "scale": self.scale, "landmark_rmse": self.rmse}


def _scale_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least squares y ~ a + s x with s >= 0; returns (s, a, sum of squared errors)."""
    xc, yc = x - x.mean(), y - y.mean()
    denom = float(xc @ xc)
    s = max(float(xc @ yc) / denom, 0.0) if denom > 0 else 0.0
    a = float(y.mean() - s * x.mean())
    return s, a, float(np.sum((y - a - s * x) ** 2))


def fit_depth_trend(fit: AdditiveFit, archs: Sequence[Sequence[int]] | np.ndarray, targets: Sequence[float],
                    grid: Sequence[float] = DEPTH_TREND_GRID) -> DepthTrendFit:
    """Fit the depth trend of ``fit`` (of a higher-is-better score, e.g. minus the loss) to the
    measured ``targets`` of the landmark ``archs`` by least squares over ``grid``.

    ``beta_interval`` is the profile-likelihood interval of about one standard error (the betas whose
    squared error exceeds the best by at most the residual variance): a wide one says the landmarks
    barely constrain the trend."""
    y = np.asarray(targets, dtype=np.float64)
    if len(y) != len(archs):
        raise ConfigError(f"{len(archs)} landmark architectures but {len(y)} targets")
    if len(y) < MIN_LANDMARKS or not np.isfinite(y).all():
        raise ConfigError(f"a depth trend needs at least {MIN_LANDMARKS} landmarks with finite accuracies, "
                          f"got {int(np.isfinite(y).sum())}; train more landmarks (oneshot landmarks train)")
    C = layer_contributions(fit, archs)
    t = depth_positions(C.shape[1])
    grid = np.asarray(grid, dtype=np.float64)
    fits = [_scale_fit(C @ np.exp(b * t), y) for b in grid]
    sse = np.array([f[2] for f in fits])
    best_sse = float(sse.min())
    # among (near-)ties the trend closest to the supernet's own sizes
    tied = np.flatnonzero(sse <= best_sse * (1 + 1e-9) + 1e-12)
    i = int(tied[np.argmin(np.abs(grid[tied]))])
    s, a, _ = fits[i]
    if s == 0.0:  # the landmarks do not side with the fit at all: keep its order, claim no trend
        i = int(np.argmin(np.abs(grid)))
        s, a, _ = fits[i]
    residual_var = best_sse / max(len(y) - 3, 1)
    inside = grid[sse <= best_sse + residual_var]
    return DepthTrendFit(fit, float(grid[i]), s, a, float(np.sqrt(best_sse / len(y))),
                         (float(inside.min()), float(inside.max())), len(y))


def propose_landmark_pairs(fit: AdditiveFit, archs: np.ndarray, costs: np.ndarray, pairs: int, *,
                           max_cost: float | None = None, tolerance: float = 0.05) -> list[tuple[int, int]]:
    """Indices into ``archs`` of ``pairs`` disjoint pairs to train alone, chosen from the fit alone.

    The cost range (up to ``max_cost``) is cut into ``pairs`` equal-width strata; in each, among
    pairs whose costs differ by at most ``tolerance`` (relative), the one whose fitted gap changes
    most with the depth trend (largest |d gap / d beta| at beta = 0: one network holds its capacity
    early, the other late) is taken."""
    archs = np.asarray(archs)
    costs = np.asarray(costs, dtype=np.float64)
    if pairs < 1:
        raise ConfigError(f"ask for at least one landmark pair, got {pairs}")
    keep = np.flatnonzero(costs <= max_cost) if max_cost is not None else np.arange(len(costs))
    if len(keep) < 2 * pairs:
        raise ConfigError(f"only {len(keep)} candidate architectures fit the cost limit; need {2 * pairs} "
                          f"for {pairs} pairs: raise the limit or sample more candidates")
    C = layer_contributions(fit, archs[keep])
    sensitivity = C @ depth_positions(C.shape[1])
    cost = costs[keep]
    edges = np.linspace(cost.min(), cost.max(), pairs + 1)
    chosen: list[tuple[int, int]] = []
    for k in range(pairs):
        inside = np.flatnonzero((cost >= edges[k]) & ((cost < edges[k + 1]) | (k == pairs - 1)))
        if len(inside) < 2:
            continue
        c, u = cost[inside], sensitivity[inside]
        close = np.abs(np.log(c[:, None] / c[None, :])) <= np.log1p(tolerance)
        gain = np.where(close, np.abs(u[:, None] - u[None, :]), -1.0)
        i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
        if gain[i, j] > 0:
            chosen.append((int(keep[inside[i]]), int(keep[inside[j]])))
    if len(chosen) < pairs:
        raise ConfigError(f"found only {len(chosen)} of {pairs} pairs of nearly equal cost; sample more "
                          f"candidates, raise the tolerance ({tolerance:g}) or ask for fewer pairs")
    return chosen


# --------------------------------------------------------------------------- the landmarks file
#: columns of a landmarks file (``oneshot landmarks propose`` writes it, ``train`` fills ``accuracy``)
COLUMNS = ("pair", "key", "encoding", "cost", "accuracy")


def read_landmarks(path: str | Path, space: SearchSpace, *, require_all: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(architectures, measured accuracies) of a landmarks CSV, validated against ``space``.

    ``require_all``: every row must carry a finite accuracy (what a search needs); otherwise the
    untrained rows come back with NaN."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"landmarks file {path} does not exist; write one with `oneshot landmarks propose`")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"key", "accuracy"} - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"landmarks file {path} lacks column(s) {sorted(missing)}; expected {', '.join(COLUMNS)}")
        rows = list(reader)
    archs, acc = [], []
    for n, row in enumerate(rows, start=2):
        try:
            archs.append(space.parse(row["key"]))
        except Exception as exc:  # noqa: BLE001 - any parse failure is the same user error
            raise ConfigError(f"landmarks file {path}, line {n}: {row['key']!r} is not an architecture of space "
                              f"{space.name!r} ({exc}); the landmarks belong to another space") from None
        text = (row.get("accuracy") or "").strip()
        try:
            value = float(text) if text else float("nan")
        except ValueError:
            raise ConfigError(f"landmarks file {path}, line {n}: accuracy {text!r} is not a number") from None
        if text and not np.isfinite(value):
            raise ConfigError(f"landmarks file {path}, line {n}: accuracy {text!r} is not finite")
        acc.append(value)
    acc_arr = np.array(acc, dtype=np.float64)
    if require_all and np.isnan(acc_arr).any():
        raise ConfigError(f"{int(np.isnan(acc_arr).sum())} of the {len(acc_arr)} landmarks in {path} have no accuracy "
                          f"yet; train them first: oneshot landmarks train {path.parent}")
    return np.array(archs, dtype=np.int64).reshape(len(archs), -1), acc_arr


def depth_corrected(space: SearchSpace, archs: Sequence[Sequence[int]] | np.ndarray, scores: Sequence[float],
                    higher_is_better: bool, mark_archs: np.ndarray,
                    mark_accuracy: np.ndarray) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Scores replaced by the additive fit with its layers reweighted by the landmarks' depth trend.

    The values stay in the scores' own units (the fit of ``scores`` with each layer's contribution
    multiplied by exp(beta t_d) / mean(exp(beta t))), so a loss column still reads as a loss and
    ranks exactly as the trend fit does. Fewer than ``MIN_ARCHITECTURES`` finite scores: the raw
    scores and ``None``."""
    from oneshot.search.smoothing import MIN_ARCHITECTURES

    y = np.asarray(scores, dtype=np.float64)
    archs = np.asarray(archs, dtype=np.int64).reshape(len(y), -1)
    ok = np.isfinite(y)
    if ok.sum() < MIN_ARCHITECTURES:
        return y.copy(), None
    sign = 1.0 if higher_is_better else -1.0
    fit = fit_additive(space, archs[ok], sign * y[ok])
    trend = fit_depth_trend(fit, mark_archs, mark_accuracy)
    weights = np.exp(trend.beta * depth_positions(len(space.choice_counts)))
    values = sign * (layer_contributions(fit, archs) @ (weights / weights.mean()) + fit.mean_y)
    return values, {**fit.describe(), "depth_trend": trend.describe()}
