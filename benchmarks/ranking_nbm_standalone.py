"""Is the supernet's bias a property of weight sharing or of the small training set?

The supernets of ``ranking_nbm.py`` over-rate capacity in the late layers (``ranking_nbm_bias.py``).
This script asks stand-alone training on the *same* CIFAR-10 subset to settle the pairs where the
supernets and NAS-Bench-Macro disagree most:

1. from the score caches of ``--recipe`` (default: the four shipped fair seeds), the additive fit of
   each supernet's losses is z-scored and averaged (the ensemble cancels each seed's own noise and
   keeps the shared bias);
2. among the sampled networks it picks ``--pairs`` disjoint discordant pairs of nearly equal MACs:
   NAS-Bench-Macro puts A at least ``--min-truth-gap`` points above B, the ensemble puts B at least
   ``--min-z-gap`` standard deviations above A (largest disagreement first);
3. trains every network of those pairs alone on the subset with ``oneshot train-arch`` (the first
   recipe's data and optimiser, ``--epochs`` epochs, resumable) and scores it on the validation and
   test images (1,312 held out);
4. reports, per pair, whose side stand-alone training takes.

If stand-alone training on these 4,194 images sides with the supernets, no supernet trained on them
can be expected to rank like a truth trained on 50,000: the bias belongs to the data, and only more
(or more varied) training images move it. If it sides with the truth, the bias is weight sharing's.

    python benchmarks/ranking_nbm_standalone.py                    # 8 networks x 12 epochs, ~2 CPU-hours
    python benchmarks/ranking_nbm_standalone.py --pairs 2 --epochs 6

Writes benchmarks/results/ranking_nbm_standalone.json after every network.
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
from ranking_nbm import _oneshot, universe  # noqa: E402
from ranking_nbm_bias import cached_scores  # noqa: E402
from run_all import machine_info  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402
from oneshot.landmark_runs import held_out_accuracy  # noqa: E402,F401 (re-exported to the other benchmarks)

SHIPPED_SEEDS = ("fair", "fair-s1", "fair-s2", "fair-s3")


def _repo_relative(path: Path) -> str:
    """A path as recorded in a result file: relative to the repository when inside it (no machine paths)."""
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def ensemble_z(space, keys: list[str], archs: np.ndarray, caches: list[dict[str, dict[str, float]]]) -> np.ndarray:
    """Mean over supernets of the z-scored additive fit of minus the loss (higher = better)."""
    from oneshot.search.smoothing import smooth

    zs = []
    for cache in caches:
        fitted, _ = smooth(space, archs, np.array([cache[k]["loss"] for k in keys]))
        zs.append(-(fitted - fitted.mean()) / max(float(fitted.std()), 1e-12))
    return np.mean(zs, axis=0)


def discordant_pairs(acc: np.ndarray, z: np.ndarray, macs: np.ndarray, *, pairs: int, min_truth_gap: float,
                     min_z_gap: float, max_log_macs: float, max_macs: float) -> list[tuple[int, int]]:
    """Disjoint (truly better, supernet-preferred) index pairs, the most discordant first.

    A pair qualifies when the truth gap and the score gap (opposite way) both pass their minimum and
    the MACs differ by at most ``max_log_macs`` in log; it is ranked by the smaller of the two gaps,
    each relative to its minimum, so both the truth and the supernets are sure of their order."""
    ok = macs <= max_macs
    gap_t = acc[:, None] - acc[None, :]
    gap_z = z[None, :] - z[:, None]
    close = np.abs(np.log(macs[:, None] / macs[None, :])) <= max_log_macs
    mask = (gap_t >= min_truth_gap) & (gap_z >= min_z_gap) & close & ok[:, None] & ok[None, :]
    strength = np.minimum(gap_t / min_truth_gap, gap_z / min_z_gap)
    order = sorted(zip(*np.nonzero(mask)), key=lambda ij: (-strength[ij], ij))
    used: set[int] = set()
    chosen: list[tuple[int, int]] = []
    for i, j in order:
        if i in used or j in used:
            continue
        used |= {int(i), int(j)}
        chosen.append((int(i), int(j)))
        if len(chosen) == pairs:
            break
    return chosen


def train_alone(key: str, supernet: Path, out: Path, epochs: int, seed: int, log: Path) -> dict[str, Any]:
    """Train (or resume, or reuse) one network alone; its result.json plus the CPU seconds spent."""
    result = out / "result.json"
    if result.is_file() and json.loads(result.read_text()).get("finished"):
        return json.loads(result.read_text())
    args = ["train-arch", "--supernet", str(supernet), "--epochs", str(epochs), "--seed", str(seed),
            "--out", str(out), "--no-progress", "--no-export"]
    args += ["--resume"] if (out / "model.pt").is_file() else ["--arch", key]
    cpu = _oneshot(args, log)
    data = json.loads(result.read_text())
    data["cpu_seconds"] = cpu
    atomic_write_json(result, data)
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", action="append", default=None,
                    help="score caches to ensemble (repeatable; default the four shipped fair seeds)")
    ap.add_argument("--score-test", action="store_true", help="use the validation + test caches (--score-test)")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=12, help="stand-alone epochs (default 12)")
    ap.add_argument("--seed", type=int, default=0, help="stand-alone training seed")
    ap.add_argument("--min-truth-gap", type=float, default=1.5, help="points of mean_acc (default 1.5)")
    ap.add_argument("--min-z-gap", type=float, default=0.5, help="ensemble standard deviations (default 0.5)")
    ap.add_argument("--max-log-macs", type=float, default=0.1, help="largest |log MACs ratio| in a pair")
    ap.add_argument("--max-macs", type=float, default=45e6, help="largest MACs (training time grows with them)")
    ap.add_argument("--calib-images", type=int, default=256)
    ap.add_argument("--dry-run", action="store_true", help="print the chosen pairs and train nothing")
    ap.add_argument("--work", type=Path, default=Path("runs/bench-ranking-nbm"))
    ap.add_argument("--results", type=Path, default=HERE / "results" / "ranking_nbm_standalone.json")
    args = ap.parse_args(argv)
    if args.pairs < 1 or args.epochs < 1:
        ap.error("--pairs and --epochs must be >= 1")
    recipes = args.recipe or list(SHIPPED_SEEDS)
    supernet = args.work / f"supernet-{recipes[0]}" / "supernet.pt"
    if not supernet.is_file():
        raise SystemExit(f"no supernet {supernet}: run benchmarks/ranking_nbm.py --recipe {recipes[0]}=FLAGS first")

    space, uni = universe()
    caches = [cached_scores(args.work, name, args.calib_images, args.score_test) for name in recipes]
    keys = sorted(set(caches[0]).intersection(*caches[1:]))
    archs = np.array([uni[k][0] for k in keys])
    acc = np.array([uni[k][1] for k in keys])
    macs = np.array([uni[k][2] for k in keys])
    z = ensemble_z(space, keys, archs, caches)
    chosen = discordant_pairs(acc, z, macs, pairs=args.pairs, min_truth_gap=args.min_truth_gap,
                              min_z_gap=args.min_z_gap, max_log_macs=args.max_log_macs, max_macs=args.max_macs)
    if not chosen:
        raise SystemExit("no discordant pair passes the gaps; lower --min-truth-gap / --min-z-gap")

    if args.dry_run:
        for i, j in chosen:
            print(f"{keys[i]} ({acc[i]:.2f} %, {macs[i] / 1e6:.1f}M, z {z[i]:+.2f}) truly better than "
                  f"{keys[j]} ({acc[j]:.2f} %, {macs[j] / 1e6:.1f}M, z {z[j]:+.2f})")
        return 0
    run_dir = args.work / f"standalone-e{args.epochs}-s{args.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    config = {k: (_repo_relative(v) if isinstance(v, Path) else v) for k, v in vars(args).items()} | {"recipe": recipes}

    def write() -> None:
        done = [r for r in rows if "standalone_gap" in r]
        summary = {"pairs_done": len(done),
                   "sides_with_truth": sum(r["standalone_gap"] > 0 for r in done),
                   "sides_with_supernets": sum(r["standalone_gap"] < 0 for r in done),
                   "mean_standalone_gap": float(np.mean([r["standalone_gap"] for r in done])) if done else None,
                   "mean_truth_gap": float(np.mean([r["truth_gap"] for r in done])) if done else None}
        atomic_write_json(args.results, {"config": config, "machine": machine_info(), "summary": summary,
                                         "pairs": rows})

    for i, j in chosen:
        row: dict[str, Any] = {"truth_better": keys[i], "supernet_better": keys[j],
                               "macs_M": [round(macs[i] / 1e6, 2), round(macs[j] / 1e6, 2)],
                               "truth_acc": [acc[i], acc[j]], "truth_gap": float(acc[i] - acc[j]),
                               "ensemble_z": [round(float(z[i]), 3), round(float(z[j]), 3)]}
        rows.append(row)
        results = []
        for k in (keys[i], keys[j]):
            print(f"training {k} alone for {args.epochs} epochs ...", flush=True)
            results.append(train_alone(k, supernet, run_dir / k, args.epochs, args.seed, run_dir / "train.log"))
        held = [held_out_accuracy(r) for r in results]
        row.update({"standalone_held_out_acc": [round(h, 2) for h in held], "standalone_gap": held[0] - held[1],
                    "standalone_seconds": [r.get("cpu_seconds", r.get("train_seconds_this_run")) for r in results]})
        write()

    print(f"{'truth-better':>12} {'supernet-better':>15} {'MACs (M)':>12} {'truth acc':>13} {'ensemble z':>13} "
          f"{'stand-alone acc':>16}  sides with")
    for r in rows:
        side = "truth" if r["standalone_gap"] > 0 else "supernets"
        print(f"{r['truth_better']:>12} {r['supernet_better']:>15} {r['macs_M'][0]:>5.1f}/{r['macs_M'][1]:<6.1f} "
              f"{r['truth_acc'][0]:>6.2f}/{r['truth_acc'][1]:<6.2f} {r['ensemble_z'][0]:>+6.2f}/{r['ensemble_z'][1]:<+6.2f} "
              f"{r['standalone_held_out_acc'][0]:>7.2f}/{r['standalone_held_out_acc'][1]:<8.2f}  {side}")
    write()
    print(f"results: {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
