"""Denoising supernet scores across architectures: an additive model of the choices.

A frozen supernet's score of one architecture is a noisy estimate (a few hundred validation images,
one BN calibration subset), but the scores of many architectures share structure: on
NAS-Bench-Macro an additive model of the per-layer choices explains the *true* accuracies almost
completely (Kendall tau 0.87 between the fit and the truth). Fitting such a model to the supernet's
own scores of the evaluated architectures and ranking by the fit averages each choice's effect
over every architecture that contains it, instead of trusting one noisy number per architecture.
No ground truth is involved: the model sees only the supernet's scores.

The model is ridge regression on one-hot (dimension, choice) features of the canonical encoding;
its strength is chosen by exact leave-one-out error on the scores themselves, so a space whose
scores are not additive gets a weak fit pulled towards the raw order of the marginal means rather
than a confident wrong one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from oneshot.errors import ConfigError
from oneshot.registry import Registry
from oneshot.spaces.core import SearchSpace

#: ridge strengths tried, in units of "architectures": lambda = L means a choice seen L times is
#: pulled half-way to the mean
LAMBDAS = tuple(float(x) for x in np.logspace(-2, 4, 25))
#: fewer evaluated architectures than this: the raw scores are used as they are
MIN_ARCHITECTURES = 10

#: ``--smoothing`` NAME -> smoother(space, archs, scores) -> (scores to rank by, description of the fit
#: or None when the raw scores were kept); plugins register more through ``oneshot.smoothers``
Smoother = Callable[[SearchSpace, Sequence[Sequence[int]], Sequence[float]], tuple[np.ndarray, "dict | None"]]
SMOOTHERS: Registry[Smoother] = Registry("smoothers", "smoothing")
#: what a search ranks estimated scores (a supernet's) by when --smoothing is not given
DEFAULT_SMOOTHING = "additive"


def _offsets(space: SearchSpace) -> np.ndarray:
    """Column of each dimension's first choice in ``one_hot``'s layout."""
    return np.concatenate([[0], np.cumsum(space.choice_counts)[:-1]])


def one_hot(space: SearchSpace, archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """(n, sum of choice counts) 0/1 matrix of the canonical encodings."""
    m = space.canonicalize_matrix(space.validate_matrix(np.asarray(archs, dtype=np.int64).reshape(len(archs), -1)))
    counts = space.choice_counts
    offsets = _offsets(space)
    out = np.zeros((len(m), int(counts.sum())), dtype=np.float64)
    rows = np.repeat(np.arange(len(m)), m.shape[1])
    out[rows, (m + offsets[None, :]).ravel()] = 1.0
    return out


@dataclass
class AdditiveFit:
    """A fitted additive model: ``predict`` prices any architecture of the space."""

    space: SearchSpace
    mean_x: np.ndarray
    mean_y: float
    weights: np.ndarray
    ridge: float
    loo_rmse: float
    raw_std: float
    n: int

    def predict(self, archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
        return self.predict_features(one_hot(self.space, archs))

    def predict_features(self, X: np.ndarray) -> np.ndarray:
        """The fit at rows of ``one_hot`` features (computed once by a caller that also fitted on them)."""
        return (X - self.mean_x) @ self.weights + self.mean_y

    def effects(self) -> list[np.ndarray]:
        """Per dimension, each choice's fitted effect relative to the dimension's first choice (its
        other choices only): where the fit puts the score, layer by layer."""
        return [self.weights[o + 1:o + n] - self.weights[o]
                for o, n in zip(_offsets(self.space), self.space.choice_counts)]

    def describe(self) -> dict[str, float]:
        """What the fit found: its ridge, leave-one-out error and how much of the scores' spread it explains."""
        explained = 1.0 - (self.loo_rmse / self.raw_std) ** 2 if self.raw_std > 0 else 0.0
        return {"architectures": self.n, "ridge": self.ridge, "loo_rmse": self.loo_rmse,
                "score_std": self.raw_std, "loo_r2": explained}


def fit_additive(space: SearchSpace, archs: Sequence[Sequence[int]] | np.ndarray,
                 scores: Sequence[float]) -> AdditiveFit:
    """Ridge fit of ``scores`` on one-hot choices; the ridge is the one of ``LAMBDAS`` with the lowest
    exact leave-one-out error (closed form through the SVD, all strengths at once)."""
    y = np.asarray(scores, dtype=np.float64)
    if len(y) != len(archs):
        raise ConfigError(f"{len(archs)} architectures but {len(y)} scores")
    return _fit_features(space, one_hot(space, archs), y)


def _fit_features(space: SearchSpace, X: np.ndarray, y: np.ndarray) -> AdditiveFit:
    if len(y) < 3 or not np.isfinite(y).all():
        raise ConfigError("an additive fit needs at least 3 architectures with finite scores")
    mean_x, mean_y = X.mean(axis=0), float(y.mean())
    Xc, yc = X - mean_x, y - mean_y
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    keep = s > 1e-9 * max(1.0, float(s.max(initial=0.0)))
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    uy = U.T @ yc
    best = None
    for lam in LAMBDAS:
        shrink = s**2 / (s**2 + lam)
        fitted = U @ (shrink * uy)
        # hat matrix diagonal, including the intercept's 1/n
        h = (U**2) @ shrink + 1.0 / len(y)
        loo = (yc - fitted) / np.maximum(1.0 - h, 1e-12)
        err = float(np.sqrt(np.mean(loo**2)))
        if best is None or err < best[0] - 1e-15:
            best = (err, lam, shrink)
    err, lam, shrink = best
    weights = Vt.T @ (shrink * uy / s)
    return AdditiveFit(space, mean_x, mean_y, weights, lam, err, float(y.std()), len(y))


#: strengths of the pull of the per-layer weights towards one common scale, relative to the mean
#: squared per-layer contribution; the last one keeps the supernet's own layer sizes
LAYER_ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, float("inf"))


@dataclass
class LayerWeightedFit:
    """An additive fit whose per-dimension contributions are reweighted: ``predict`` = intercept +
    sum over dimensions of ``layer_weights[d]`` x the fit's contribution of dimension d."""

    fit: AdditiveFit
    layer_weights: np.ndarray
    intercept: float
    alpha: float
    loo_rmse: float

    def predict(self, archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
        return layer_contributions(self.fit, archs) @ self.layer_weights + self.intercept


def layer_contributions(fit: AdditiveFit, archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """(n, dimensions): each dimension's share of ``fit.predict(archs) - fit.mean_y``."""
    X = one_hot(fit.space, archs) - fit.mean_x
    cols = np.repeat(np.arange(len(fit.space.choice_counts)), fit.space.choice_counts)
    out = np.zeros((len(X), len(fit.space.choice_counts)))
    np.add.at(out.T, cols, (X * fit.weights).T)
    return out


def _layer_ridge(C: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Weights w >= 0 and intercept of y ~ a + C w, ridge-pulled towards w = s (s: the one-scale fit).

    Non-negative: a landmark fit may shrink a dimension to nothing but never reverse the order of
    its choices, which is the supernet's to decide."""
    from scipy.optimize import nnls

    Cc, yc = C - C.mean(axis=0), y - y.mean()
    total = Cc.sum(axis=1)
    # the landmarks are meant to agree with the fit's direction; where they do not (noise), a
    # vanishing positive scale keeps the fit's own order instead of turning it upside down
    s = max(float(total @ yc / max(float(total @ total), 1e-300)), 1e-12)
    d = C.shape[1]
    if np.isinf(alpha):  # the supernet's own layer sizes, one common scale
        w = np.full(d, s)
        return w, float(y.mean() - C.mean(axis=0) @ w)
    root = np.sqrt(alpha * float(np.mean(Cc**2)) * len(y))
    w, _ = nnls(np.vstack([Cc, root * np.eye(d)]), np.concatenate([yc, root * s * np.ones(d)]))
    return w, float(y.mean() - C.mean(axis=0) @ w)


def fit_layer_weights(fit: AdditiveFit, archs: Sequence[Sequence[int]] | np.ndarray,
                      targets: Sequence[float], alpha: float | None = None) -> LayerWeightedFit:
    """Reweight ``fit``'s dimensions so that it predicts ``targets`` of ``archs`` (landmarks: a few
    architectures whose accuracy was measured another way, e.g. trained alone). ``fit`` must be of a
    higher-is-better score (minus the loss), like the targets.

    The supernet's fit decides the order of the choices within each dimension; the landmarks decide
    how much each dimension matters. A ridge pulls the weights towards one common scale (the fit as
    it is, rescaled), its strength chosen by leave-one-out error on the landmarks (the strongest
    within one standard error of the best), so few or noisy landmarks leave the supernet's ranking
    close to unchanged rather than overturn it. A given ``alpha`` (one of ``LAYER_ALPHAS`` or any
    value > 0) fixes the strength instead; its leave-one-out error is still reported."""
    y = np.asarray(targets, dtype=np.float64)
    if len(y) != len(archs):
        raise ConfigError(f"{len(archs)} landmark architectures but {len(y)} targets")
    if len(y) < 4 or not np.isfinite(y).all():
        raise ConfigError("reweighting layers needs at least 4 landmarks with finite targets")
    if alpha is not None and not alpha > 0:
        raise ConfigError(f"the layer-weight strength must be > 0, got {alpha}")
    C = layer_contributions(fit, archs)
    grid = LAYER_ALPHAS if alpha is None else (alpha,)
    squared = []  # per strength: each landmark's leave-one-out squared error
    for strength in grid:
        errors = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            w, a = _layer_ridge(C[keep], y[keep], strength)
            errors.append(float(C[i] @ w + a - y[i]) ** 2)
        squared.append(np.array(errors))
    means = np.array([e.mean() for e in squared])
    best = int(np.argmin(means))
    # one-standard-error rule: the strongest pull whose error is within one standard error of the
    # best, so a handful of noisy landmarks cannot talk the fit out of the supernet's layer sizes
    limit = means[best] + float(squared[best].std(ddof=1)) / np.sqrt(len(y))
    pick = max(i for i in range(len(grid)) if means[i] <= limit)
    alpha, rmse = grid[pick], float(np.sqrt(means[pick]))
    w, a = _layer_ridge(C, y, alpha)
    return LayerWeightedFit(fit, w, a, alpha, rmse)


@SMOOTHERS.decorator("additive", "rank by an additive model of the choices fitted to every evaluated "
                                 "architecture's score (ridge, leave-one-out strength)")
def smooth(space: SearchSpace, archs: Sequence[Sequence[int]] | np.ndarray,
           scores: Sequence[float]) -> tuple[np.ndarray, dict[str, float] | None]:
    """Scores replaced by the additive fit to all of them (finite ones fit; every row predicted).

    Returns the raw scores and ``None`` when fewer than ``MIN_ARCHITECTURES`` are finite."""
    y = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(y)
    if ok.sum() < MIN_ARCHITECTURES:
        return y.copy(), None
    X = one_hot(space, np.asarray(archs, dtype=np.int64).reshape(len(y), -1))
    fit = _fit_features(space, X[ok], y[ok])
    return fit.predict_features(X), fit.describe()


@SMOOTHERS.decorator("none", "rank by the raw scores")
def raw_scores(space: SearchSpace, archs: Sequence[Sequence[int]] | np.ndarray,
               scores: Sequence[float]) -> tuple[np.ndarray, dict[str, float] | None]:
    """The scores as they are (a search given ``none`` skips smoothing and writes no METRIC_smoothed
    columns; this entry is the name's meaning for library callers and the CLI's choices)."""
    return np.asarray(scores, dtype=np.float64).copy(), None
