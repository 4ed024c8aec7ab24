"""Where do NAS-Bench-Macro supernets go wrong: noise or bias? Reads ranking_nbm.py's score caches.

Trains and scores nothing: it reads the per-recipe score caches that ``benchmarks/ranking_nbm.py``
wrote (``--work``, same ``--n`` / ``--sample-seed`` / ``--calib-images``) and answers three questions
that decide what can still close the ranking gap:

1. **Per-layer bias.** The additive fit of each supernet's losses gives every (layer, choice) an
   effect relative to that layer's first choice (the identity). The same fit of NAS-Bench-Macro's
   truth on the same sample gives the true effects (over all networks too, for reference).
   Supernet effects are rescaled to the truth's total, so the table compares where each puts the
   accuracy, not how much.
2. **Seed and recipe ensembles.** Mean of the z-scored losses of several supernets, smoothed: if
   the remaining error were noise, averaging supernets would cut it.
3. **The fit's own pick.** The fit prices every network of the space; under 30M / 45M / 60M MACs,
   how far below the true best is the network it predicts best (what a search that proposes from
   the fit would end with)?

    python benchmarks/ranking_nbm_bias.py                       # every recipe with a cache
    python benchmarks/ranking_nbm_bias.py --ensemble fair+fair-s1 --ensemble fair+uniform

Writes benchmarks/results/ranking_nbm_bias.json and prints the tables.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ranking_nbm import BUDGETS, sample_keys, score_cache, universe  # noqa: E402
from run_all import machine_info  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402


def cached_scores(work: Path, name: str, calib_images: int, test: bool = False) -> dict[str, dict[str, float]]:
    """The scores ranking_nbm.py cached for recipe ``name`` (validation split, plus the test split
    with ``test``: ranking_nbm.py --score-test)."""
    import json

    path = score_cache(work, name, 0, calib_images, test)
    if not path.is_file():
        raise SystemExit(f"no score cache for recipe {name!r} ({path.name} in {work}); run "
                         f"benchmarks/ranking_nbm.py --recipe {name}=FLAGS{' --score-test' if test else ''} first")
    return json.loads(path.read_text())["scores"]


def fit_pick_regret(predicted: np.ndarray, acc: np.ndarray, macs: np.ndarray) -> dict[str, float]:
    """True accuracy lost under each budget by the network with the best ``predicted`` score that fits."""
    from oneshot.ranking.metrics import pick_under_budget

    return {f"{b / 1e6:.0f}M": float(acc[macs <= b].max() - acc[pick_under_budget(predicted, macs, b)])
            for b in BUDGETS}


def _z(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / max(float(v.std()), 1e-12)


def main(argv: list[str] | None = None) -> int:
    from oneshot.ranking.metrics import kendall_tau, within_cost_quantiles
    from oneshot.search.smoothing import fit_additive, one_hot

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", action="append", help="recipe name to analyse (default: every cached one)")
    ap.add_argument("--ensemble", action="append", default=[], metavar="A+B[+C]",
                    help="recipes whose z-scored losses are averaged before smoothing (repeatable)")
    ap.add_argument("--n", type=int, default=500, help="the sample size ranking_nbm.py scored (default 500)")
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--calib-images", type=int, default=256)
    ap.add_argument("--macs-prior", action="append", type=float, default=[], metavar="W",
                    help="also rank each supernet by z(smoothed -loss) + W z(log MACs): does a cost prior "
                         "mixed into the score help? (repeatable)")
    ap.add_argument("--score-test", action="store_true",
                    help="read the caches of ranking_nbm.py --score-test (validation + test images)")
    ap.add_argument("--work", type=Path, default=Path("runs/bench-ranking-nbm"))
    ap.add_argument("--results", type=Path, default=HERE / "results" / "ranking_nbm_bias.json")
    args = ap.parse_args(argv)

    space, truth = universe()
    keys = sample_keys(list(truth), args.n, args.sample_seed)
    pattern = score_cache(args.work, "*", 0, args.calib_images, args.score_test).name
    prefix, suffix = pattern.split("*")
    names = args.recipe or sorted(p.name[len(prefix):-len(suffix)] for p in args.work.glob(pattern))
    if not names:
        raise SystemExit(f"no score caches in {args.work}; run benchmarks/ranking_nbm.py first")
    losses = {}
    for name in names:
        s = cached_scores(args.work, name, args.calib_images, args.score_test)
        if not all(k in s for k in keys):
            raise SystemExit(f"the cache of {name!r} does not cover the {len(keys)}-network sample "
                             f"(seed {args.sample_seed}); rerun benchmarks/ranking_nbm.py for it")
        losses[name] = np.array([s[k]["loss"] for k in keys])
    archs = [truth[k][0] for k in keys]
    acc = np.array([truth[k][1] for k in keys])
    macs = np.array([truth[k][2] for k in keys])
    every = sorted(truth)
    all_archs = [truth[k][0] for k in every]
    all_acc = np.array([truth[k][1] for k in every])
    all_macs = np.array([truth[k][2] for k in every])
    all_features = one_hot(space, all_archs)  # built once: every fit prices the whole space

    # the supernets' fits see the sample only, so the truth they are compared with is fitted on it too
    true_eff = np.array(fit_additive(space, archs, acc).effects())
    dims = [d.name for d in space.dimensions]

    def effect_row(label: str, eff: np.ndarray) -> dict[str, Any]:
        scale = np.abs(true_eff).sum() / max(np.abs(eff).sum(), 1e-12)
        row: dict[str, Any] = {"fit of": label}
        for d, e in zip(dims, eff * scale):
            row[d] = "/".join(f"{v:.2f}" for v in e)
        early, late = np.abs(eff[:3]).sum(), np.abs(eff[-3:]).sum()
        row["l5-l7 / l0-l2"] = round(float(late / max(early, 1e-12)), 2)
        return row

    effects = [effect_row("truth (this sample)", true_eff),
               effect_row("truth (all networks)", np.array(fit_additive(space, all_archs, all_acc).effects()))]
    ranking, picks = [], []

    def record(label: str, neg_loss: np.ndarray) -> np.ndarray:
        """Adds ``label``'s rows to the tables; returns its fit's prediction of the sample."""
        fit = fit_additive(space, archs, neg_loss)
        p = fit.predict(archs)
        q = within_cost_quantiles(p, acc, macs, 5)
        ranking.append({"supernet(s)": label, "kendall_tau": round(kendall_tau(p, acc), 3),
                        "tau_in_macs_quintiles": " ".join(f"{v:.2f}" for v in q)})
        regret = fit_pick_regret(fit.predict_features(all_features), all_acc, all_macs)
        picks.append({"supernet(s)": label, **{k: round(v, 2) for k, v in regret.items()}})
        if "+" not in label:
            effects.append(effect_row(label, np.array(fit.effects())))
        return p

    fitted = {name: record(name, -losses[name]) for name in names}
    prior = []
    for name, p in fitted.items() if args.macs_prior else ():
        row: dict[str, Any] = {"supernet": name, "W = 0": round(kendall_tau(p, acc), 3)}
        for w in args.macs_prior:
            row[f"W = {w:g}"] = round(kendall_tau(_z(p) + w * _z(np.log(macs)), acc), 3)
        prior.append(row)
    for combo in args.ensemble:
        parts = combo.split("+")
        missing = [p for p in parts if p not in losses]
        if missing:
            raise SystemExit(f"--ensemble {combo}: no scores for {missing}; add them with --recipe")
        z = sum(_z(losses[p]) for p in parts)
        record(combo, -z)
    ranking.append({"supernet(s)": "MACs (free)", "kendall_tau": round(kendall_tau(macs, acc), 3),
                    "tau_in_macs_quintiles": " ".join(f"{v:.2f}" for v in within_cost_quantiles(macs, acc, macs, 5))})

    results = {"benchmark": "ranking_nbm_bias", "n": len(keys), "sample_seed": args.sample_seed,
               "calib_images": args.calib_images, "score_test": args.score_test,
               "description": "Additive fits of supernet losses on the ranking_nbm sample: per-layer effects "
                              "(choice minus identity, rescaled to the truth's total), smoothed tau of single "
                              "supernets and ensembles, and regret of the fit's own pick over all networks.",
               "layer_effects": effects, "smoothed_ranking": ranking, "fit_pick_regret": picks,
               **({"macs_prior": prior} if args.macs_prior else {}),
               "machine": machine_info()}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.results, results)
    for title, rows in (("per-layer effects", effects), ("smoothed ranking", ranking),
                        ("regret of the fit's pick over all networks", picks),
                        *((("smoothed tau with a MACs prior of weight W", prior),) if args.macs_prior else ())):
        cols = list(rows[0])
        widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols]
        print(f"\n{title}")
        print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
        for r in rows:
            print("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(cols, widths)))
    print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
