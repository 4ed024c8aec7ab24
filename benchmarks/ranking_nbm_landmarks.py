"""Can a few stand-alone trained networks correct the supernet's per-layer bias?

The supernets of ``ranking_nbm.py`` get the *shape* of each layer's choice effects roughly right and
their *sizes* wrong: they overweight the last stage (``ranking_nbm_bias.py``), while stand-alone
training on the same subset sides with NAS-Bench-Macro where the two disagree
(``ranking_nbm_standalone.py``). This script measures a correction that needs no benchmark truth:

1. ``--landmarks`` networks are drawn stratified over MACs (up to ``--max-macs``, the range a
   budgeted search chooses from; seeded by ``--landmark-seed``, independent of the benchmark's
   sample) and trained alone on the subset (``oneshot train-arch``, the first recipe's optimiser,
   ``--epochs``; resumable and shared with ``ranking_nbm_standalone.py``). Their held-out accuracy
   (validation + test) is what a user could measure;
2. for each supernet (``--recipe``), the additive fit of its losses is split into one contribution
   per layer, and the layers are reweighted by a ridge regression of the landmarks' accuracies on
   those contributions (``oneshot.search.smoothing.fit_layer_weights``: the supernet decides each
   layer's order of choices, the landmarks decide how much each layer matters);
3. Kendall tau against NAS-Bench-Macro on the sample's networks that are not landmarks, for the
   smoothed score, the reweighted score, the landmarks alone (an additive fit to them) and MACs.

    python benchmarks/ranking_nbm_landmarks.py --score-test                 # 10 landmarks, 12 epochs
    python benchmarks/ranking_nbm_landmarks.py --score-test --with-pairs \
        --results benchmarks/results/ranking_nbm_landmarks_with_pairs.json  # + the pairs (chosen with the truth!)

Writes benchmarks/results/ranking_nbm_landmarks.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ranking_nbm import universe  # noqa: E402
from ranking_nbm_bias import cached_scores  # noqa: E402
from ranking_nbm_standalone import SHIPPED_SEEDS, _repo_relative, held_out_accuracy, train_alone  # noqa: E402
from run_all import machine_info  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402


def pick_landmarks(space, n: int, seed: int, max_macs: float) -> list[str]:
    """``n`` canonical keys stratified over MACs up to ``max_macs``."""
    from oneshot.ranking import stratified_by_cost

    archs = stratified_by_cost(space, n, np.random.default_rng(seed), max_cost=max_macs)
    return [space.key(a) for a in archs]


def add_training_arguments(ap: argparse.ArgumentParser, results: str) -> None:
    """The options every landmark benchmark shares: stand-alone recipe, scoring setting, files."""
    ap.add_argument("--epochs", type=int, default=12, help="stand-alone epochs (default 12)")
    ap.add_argument("--seed", type=int, default=0, help="stand-alone training seed")
    ap.add_argument("--train-only", action="store_true", help="train the landmarks, report nothing")
    ap.add_argument("--calib-images", type=int, default=256)
    ap.add_argument("--work", type=Path, default=Path("runs/bench-ranking-nbm"))
    ap.add_argument("--results", type=Path, default=HERE / "results" / results)


def training_setup(args: argparse.Namespace):
    """(recipes, the first recipe's checkpoint that trains the landmarks, space, universe, the
    stand-alone run directory); exits naming the fix when the supernet is missing."""
    recipes = args.recipe or list(SHIPPED_SEEDS)
    supernet = args.work / f"supernet-{recipes[0]}" / "supernet.pt"
    if not supernet.is_file():
        raise SystemExit(f"no supernet {supernet}: run benchmarks/ranking_nbm.py --recipe {recipes[0]}=FLAGS first")
    space, uni = universe()
    run_dir = args.work / f"standalone-e{args.epochs}-s{args.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return recipes, supernet, space, uni, run_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", action="append", default=None,
                    help="supernets to correct (repeatable; default the four shipped fair seeds); the first "
                         "one's recipe trains the landmarks")
    ap.add_argument("--score-test", action="store_true", help="supernet scores on validation + test (--score-test)")
    ap.add_argument("--landmarks", type=int, default=10)
    ap.add_argument("--landmark-seed", type=int, default=0)
    ap.add_argument("--max-macs", type=float, default=60e6)
    ap.add_argument("--with-pairs", action="store_true",
                    help="also use the networks ranking_nbm_standalone.py trained (same epochs and seed). They "
                         "were picked with NAS-Bench-Macro's truth, so this measures what the right landmarks "
                         "could do, not what a user could")
    ap.add_argument("--dearest-first", action="store_true",
                    help="train the landmarks dearest first (a second process can share the work: the run "
                         "directories are locked, and finished ones are reused)")
    add_training_arguments(ap, "ranking_nbm_landmarks.json")
    args = ap.parse_args(argv)
    recipes, supernet, space, uni, run_dir = training_setup(args)
    landmarks = pick_landmarks(space, args.landmarks, args.landmark_seed, args.max_macs)
    measured: dict[str, float] = {}
    for i, key in enumerate(reversed(landmarks) if args.dearest_first else landmarks):
        print(f"landmark {i + 1}/{len(landmarks)}: {key} ({uni[key][2] / 1e6:.1f}M MACs) alone for {args.epochs} epochs",
              flush=True)
        result = train_alone(key, supernet, run_dir / key, args.epochs, args.seed, run_dir / "train.log")
        measured[key] = held_out_accuracy(result)
    if args.with_pairs:
        for result_file in sorted(run_dir.glob("*/result.json")):
            result = json.loads(result_file.read_text())
            if result.get("finished") and result["key"] not in measured:
                measured[result["key"]] = held_out_accuracy(result)
    if args.train_only:
        return 0
    report = analyse(space, uni, measured, recipes, args)
    atomic_write_json(args.results, {"config": {k: (_repo_relative(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
                                     | {"recipe": recipes}, "machine": machine_info(),
                                     "landmarks": {k: round(v, 3) for k, v in measured.items()}, **report})
    print(f"results: {args.results}")
    return 0


def loss_fit(space, uni, cache: dict[str, dict[str, float]]):
    """(sorted keys, their architectures, the additive fit of minus their supernet loss)."""
    from oneshot.search.smoothing import fit_additive

    keys = sorted(cache)
    archs = np.array([uni[k][0] for k in keys])
    return keys, archs, fit_additive(space, archs, -np.array([cache[k]["loss"] for k in keys]))


def landmark_arrays(uni, measured: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The measured landmarks' architectures and accuracies, in key order."""
    marks = sorted(measured)
    return np.array([uni[k][0] for k in marks]), np.array([measured[k] for k in marks])


def analyse(space, uni, measured: dict[str, float], recipes: list[str], args) -> dict[str, Any]:
    """Tau on the non-landmark networks of the sample: smoothed, reweighted, landmarks alone, MACs."""
    from oneshot.ranking import kendall_tau
    from oneshot.search.smoothing import LAYER_ALPHAS, fit_additive, fit_layer_weights

    marks = sorted(measured)
    mark_archs, mark_acc = landmark_arrays(uni, measured)
    rows = []
    for name in recipes:
        keys, archs, fit = loss_fit(space, uni, cached_scores(args.work, name, args.calib_images, args.score_test))
        layered = fit_layer_weights(fit, mark_archs, mark_acc)
        held = np.array([k not in measured for k in keys])
        truth = np.array([uni[k][1] for k in keys])[held]
        alone = fit_additive(space, mark_archs, mark_acc)
        row = {"supernet": name, "networks": int(held.sum()), "landmarks": len(marks),
               "smoothed": kendall_tau(fit.predict(archs)[held], truth),
               "reweighted": kendall_tau(layered.predict(archs)[held], truth),
               "landmarks_alone": kendall_tau(alone.predict(archs)[held], truth),
               "macs": kendall_tau(np.array([uni[k][2] for k in keys])[held], truth),
               "layer_weights": [round(float(w), 3) for w in layered.layer_weights],
               "chosen_strength": layered.alpha,
               # every fixed strength, for the record: which one the landmarks' own error would not pick
               "fixed_strength": {str(a): {"tau": kendall_tau(fixed.predict(archs)[held], truth),
                                           "landmark_loo_rmse": round(fixed.loo_rmse, 3)}
                                  for a in LAYER_ALPHAS for fixed in [fit_layer_weights(fit, mark_archs, mark_acc, a)]}}
        rows.append(row)
    print(f"{len(marks)} landmarks (stand-alone {args.epochs} epochs); Kendall tau on the other networks of the sample")
    print(f"{'supernet':<12} {'smoothed':>9} {'reweighted':>11} {'strength':>9} {'landmarks alone':>16} {'MACs':>6}  "
          f"layer weights")
    for r in rows:
        print(f"{r['supernet']:<12} {r['smoothed']:>9.3f} {r['reweighted']:>11.3f} {r['chosen_strength']:>9g} "
              f"{r['landmarks_alone']:>16.3f} {r['macs']:>6.3f}  {' '.join(f'{w:.2f}' for w in r['layer_weights'])}")
    print("reweighted tau at each fixed strength (landmark leave-one-out RMSE in brackets):")
    print(f"{'supernet':<12} " + " ".join(f"{a:>13g}" for a in LAYER_ALPHAS))
    for r in rows:
        cells = [r["fixed_strength"][str(a)] for a in LAYER_ALPHAS]
        print(f"{r['supernet']:<12} " + " ".join(f"{c['tau']:>6.3f} ({c['landmark_loo_rmse']:>4.2f})" for c in cells))
    return {"rows": rows}


if __name__ == "__main__":
    sys.exit(main())
