"""Where does the decision regret left after the landmark correction come from?

No training and no new supernet evaluations: this reads what ``ranking_nbm.py`` (score caches,
searches) and ``ranking_nbm_depth_trend.py`` (the 16 stand-alone landmarks, the re-ranked and
completed searches) left in ``--work``, and asks three questions, each against NAS-Bench-Macro's
truth (so these are diagnoses, never inputs to a recipe):

1. **The form's ceiling.** An additive fit to the *true* accuracies of ``--sample`` random
   networks (several seeds), with and without pairwise interaction terms (adjacent layers, all
   layer pairs; ridge by exact leave-one-out): how well can a fit of this kind pick at all?
2. **The landmarks' measurement.** The depth trend fitted to the landmarks' stand-alone accuracies
   (what a user measures) against the same trend fitted to their true accuracies: would better
   landmark training (more epochs, more data) move the correction?
3. **The decision rule**, on each re-ranked search's evaluations: the pick of the best-fitting
   trend, against the landmark-likelihood average over trends, the minimax-regret pick over the
   trend's 1-SE interval, and the supernet's raw residual added back to the corrected fit.

    python benchmarks/ranking_nbm_pick.py --recipe fair --recipe fair-s1

Writes benchmarks/results/ranking_nbm_pick.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ranking_nbm import BUDGETS, universe  # noqa: E402
from ranking_nbm_bias import cached_scores, fit_pick_regret  # noqa: E402
from ranking_nbm_depth_trend import _search_run, design  # noqa: E402
from ranking_nbm_landmarks import landmark_arrays, loss_fit  # noqa: E402
from ranking_nbm_standalone import _repo_relative, held_out_accuracy  # noqa: E402
from run_all import machine_info  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402


def interaction_features(space, X: np.ndarray, adjacent_only: bool) -> np.ndarray:
    """Products of the one-hot columns of two layers (first choices left out, as the intercept holds them)."""
    counts = space.choice_counts
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cols = [X[:, offsets[i] + a] * X[:, offsets[j] + b]
            for i in range(len(counts)) for j in range(i + 1, len(counts)) if not adjacent_only or j == i + 1
            for a in range(1, counts[i]) for b in range(1, counts[j])]
    return np.column_stack(cols)


def form_ceiling(space, uni, sample: int, seeds: int) -> list[dict[str, Any]]:
    """Question 1: fits of the truth itself, additive and with interactions, on random samples."""
    from oneshot.ranking.metrics import kendall_tau
    from oneshot.search.smoothing import _fit_features, one_hot

    keys = sorted(uni)
    acc = np.array([uni[k][1] for k in keys])
    macs = np.array([uni[k][2] for k in keys])
    X = one_hot(space, np.array([uni[k][0] for k in keys]))
    forms = {"additive": X, "additive + adjacent pairs": np.hstack([X, interaction_features(space, X, True)]),
             "additive + all pairs": np.hstack([X, interaction_features(space, X, False)])}
    rows = []
    for seed in range(seeds):
        rows_idx = np.random.default_rng(seed).choice(len(keys), size=sample, replace=False)
        for form, F in forms.items():
            fit = _fit_features(space, F[rows_idx], acc[rows_idx])
            p = fit.predict_features(F)
            rows.append({"sample_seed": seed, "form": form, "features": F.shape[1], "ridge": fit.ridge,
                         "kendall_tau": kendall_tau(p, acc), "regret": fit_pick_regret(p, acc, macs)})
    return rows


def landmark_measurement(space, uni, measured: dict[str, float], recipes: list[str], args) -> list[dict[str, Any]]:
    """Question 2: the trend from the stand-alone accuracies vs from the landmarks' true accuracies."""
    from oneshot.ranking.metrics import kendall_tau
    from oneshot.search.landmarks import fit_depth_trend

    keys = sorted(uni)
    archs = np.array([uni[k][0] for k in keys])
    acc = np.array([uni[k][1] for k in keys])
    macs = np.array([uni[k][2] for k in keys])
    mark_archs, mark_acc = landmark_arrays(uni, measured)
    mark_truth = np.array([uni[k][1] for k in sorted(measured)])
    rows = []
    for name in recipes:
        _, _, fit = loss_fit(space, uni, cached_scores(args.work, name, args.calib_images, args.score_test))
        for label, targets in (("stand-alone (measured)", mark_acc), ("true accuracies (truth)", mark_truth)):
            trend = fit_depth_trend(fit, mark_archs, targets)
            p = trend.predict(archs)
            rows.append({"supernet": name, **trend.describe(), "targets": label,
                         "kendall_tau_all": kendall_tau(p, acc), "fit_pick_regret": fit_pick_regret(p, acc, macs)})
    return rows


def _search_history(work: Path, name: str, calib_images: int, test: bool) -> Path | None:
    """history.csv of the search ranking_nbm_depth_trend.py re-ranked and completed (its default copy)."""
    run = _search_run(work, name, calib_images, test)
    copy = run.with_name(run.name + "-depth-trend") if run is not None else None
    return copy / "history.csv" if copy is not None and (copy / "DONE").is_file() else None


def decision_rules(space, uni, measured: dict[str, float], recipes: list[str], args) -> list[dict[str, Any]]:
    """Question 3: picks among each re-ranked search's evaluated networks under other decision rules."""
    from oneshot.search.landmarks import DEPTH_TREND_GRID, _scale_fit, depth_positions, fit_depth_trend
    from oneshot.search.smoothing import fit_additive, layer_contributions

    every = np.array([v[1] for v in uni.values()])
    every_macs = np.array([v[2] for v in uni.values()])
    best = {b: float(every[every_macs <= b].max()) for b in BUDGETS}
    mark_archs, mark_acc = landmark_arrays(uni, measured)
    grid = np.asarray(DEPTH_TREND_GRID)
    rows = []
    for name in recipes:
        path = _search_history(args.work, name, args.calib_images, args.score_test)
        if path is None:
            print(f"{name}: no re-ranked search (run ranking_nbm_depth_trend.py first); skipped", flush=True)
            continue
        with open(path, newline="") as fh:
            hist = [r for r in csv.DictReader(fh) if not r.get("error") and r.get("loss")]
        keys = [r["key"] for r in hist]
        archs = np.array([uni[k][0] for k in keys])
        y = -np.array([float(r["loss"]) for r in hist])
        truth = np.array([uni[k][1] for k in keys])
        macs = np.array([uni[k][2] for k in keys])
        fit = fit_additive(space, archs, y)
        trend = fit_depth_trend(fit, mark_archs, mark_acc)
        t = depth_positions(archs.shape[1])
        C, Cm = layer_contributions(fit, archs), layer_contributions(fit, mark_archs)
        fits = [_scale_fit(Cm @ np.exp(b * t), mark_acc) for b in grid]
        sse = np.array([f[2] for f in fits])
        # every trend's prediction in accuracy points, and its landmark likelihood (Gaussian residuals)
        preds = np.array([s * (C @ np.exp(b * t)) + a for b, (s, a, _) in zip(grid, fits)])
        var = sse.min() / max(len(mark_acc) - 3, 1)
        weight = np.exp(-(sse - sse.min()) / (2 * var))
        inside = (grid >= trend.beta_interval[0]) & (grid <= trend.beta_interval[1])
        corrected = trend.predict(archs)
        residual = trend.scale * (y - fit.predict(archs))  # the raw score's part the fit leaves out, in points
        rules = {"best trend (the shipped rule)": corrected,
                 "likelihood-weighted mean over trends": weight @ preds / weight.sum(),
                 "raw residual added back x0.5": corrected + 0.5 * residual,
                 "raw residual added back x1": corrected + residual}
        for rule, score in rules.items():
            rows.append({"supernet": name, "rule": rule, "evaluated": len(keys),
                         "regret": {f"{b / 1e6:.0f}M": best[b] - float(truth[np.flatnonzero(macs <= b)[
                             np.argmax(score[macs <= b])]]) for b in BUDGETS}})
        P = preds[inside]
        minimax = {}
        for b in BUDGETS:
            fits_b = np.flatnonzero(macs <= b)
            worst = (P[:, fits_b].max(axis=1, keepdims=True) - P[:, fits_b]).max(axis=0)
            minimax[f"{b / 1e6:.0f}M"] = best[b] - float(truth[fits_b[np.argmin(worst)]])
        rows.append({"supernet": name, "rule": "minimax regret over the 1-SE trend interval",
                     "evaluated": len(keys), "regret": minimax})
    return rows


def _regret_text(r: dict[str, float]) -> str:
    return " / ".join(f"{r[b]:.2f}" for b in ("30M", "45M", "60M"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", action="append", default=None,
                    help="supernets to diagnose (repeatable; the first one proposed the landmarks, as in "
                         "ranking_nbm_depth_trend.py); default fair and fair-s1")
    ap.add_argument("--sample", type=int, default=500, help="networks per truth fit of question 1 (default 500)")
    ap.add_argument("--sample-seeds", type=int, default=5, help="random samples of question 1 (default 5)")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--max-macs", type=float, default=60e6)
    ap.add_argument("--pool", type=int, default=20000)
    ap.add_argument("--pool-seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=12, help="stand-alone epochs of the landmarks (default 12)")
    ap.add_argument("--seed", type=int, default=0, help="stand-alone training seed of the landmarks")
    ap.add_argument("--no-score-test", dest="score_test", action="store_false",
                    help="use the validation-only score caches (default: validation + test, as the depth-trend runs)")
    ap.add_argument("--calib-images", type=int, default=256)
    ap.add_argument("--work", type=Path, default=Path("runs/bench-ranking-nbm"))
    ap.add_argument("--results", type=Path, default=HERE / "results" / "ranking_nbm_pick.json")
    args = ap.parse_args(argv)
    recipes = args.recipe or ["fair", "fair-s1"]
    space, uni = universe()

    pairs = design(space, uni, cached_scores(args.work, recipes[0], args.calib_images, args.score_test),
                   args.pairs, args.max_macs, args.pool_seed, args.pool)
    run_dir = args.work / f"standalone-e{args.epochs}-s{args.seed}"
    measured = {}
    for key in (k for pair in pairs for k in pair):
        result = run_dir / key / "result.json"
        if not result.is_file():
            raise SystemExit(f"landmark {key} was not trained ({result} missing); run "
                             f"benchmarks/ranking_nbm_depth_trend.py --recipe {recipes[0]} first")
        measured[key] = held_out_accuracy(json.loads(result.read_text()))

    ceiling = form_ceiling(space, uni, args.sample, args.sample_seeds)
    print(f"1. fits of the truth itself ({args.sample} random networks per sample)")
    for r in ceiling:
        print(f"   sample {r['sample_seed']}  {r['form']:<26} ({r['features']:>3} features)  tau {r['kendall_tau']:.3f}"
              f"  pick regret 30M/45M/60M {_regret_text(r['regret'])}")
    marks = landmark_measurement(space, uni, measured, recipes, args)
    print("2. the depth trend from the landmarks' stand-alone accuracies vs their true accuracies")
    for r in marks:
        print(f"   {r['supernet']:<10} {r['targets']:<24} beta {r['beta']:+.2f} [{r['beta_low']:+.2f}, "
              f"{r['beta_high']:+.2f}]  tau {r['kendall_tau_all']:.3f}  fit pick regret {_regret_text(r['fit_pick_regret'])}")
    rules = decision_rules(space, uni, measured, recipes, args)
    print("3. decision rules on the re-ranked, completed searches' evaluations")
    for r in rules:
        print(f"   {r['supernet']:<10} {r['rule']:<46} ({r['evaluated']} evaluated)  regret {_regret_text(r['regret'])}")
    config = {k: (_repo_relative(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    atomic_write_json(args.results, {"config": config | {"recipe": recipes}, "machine": machine_info(),
                                     "form_ceiling": ceiling, "landmark_measurement": marks,
                                     "decision_rules": rules})
    print(f"results: {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
