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
