"""Does a depth trend fitted to a few stand-alone landmark pairs fix the supernet's ranking?

Every supernet of ``ranking_nbm.py`` overweights the late layers (``ranking_nbm_bias.py``), and
networks trained alone on the same subset side with NAS-Bench-Macro where the two disagree
(``ranking_nbm_standalone.py``). This script measures the correction of
``oneshot.search.landmarks`` end to end, with no benchmark truth before the final comparison:

1. the design supernet's additive fit (the first ``--recipe``, its losses on the benchmark's sample)
   proposes ``--pairs`` landmark pairs: nearly equal MACs, the largest sensitivity of their order to
   a depth trend, stratified over MACs up to ``--max-macs`` (candidates: a seeded pool of the space,
   not the truth table);
2. each landmark is trained alone on the subset (``oneshot train-arch``, ``--epochs``, the supernet's
   optimiser; resumable, and shared with the other stand-alone benchmarks) and scored on the held-out
   images (validation + test), which is what a user can measure;
3. for each supernet, the trend ``beta`` is fitted to the landmarks, and the corrected fit is compared
   with the smoothed one and with MACs, against the truth, on the sample's networks that are not
   landmarks: Kendall tau, tau in the two top MACs quintiles, and the decision regret of the
   supernet's NSGA-II search of ``ranking_nbm.py``, re-ranked and completed by ``oneshot search
   --resume --landmarks`` (a copy of the run; the strategy's evaluations are reused, front completion
   adds up to ``--complete`` supernet evaluations; ``--complete 0`` re-ranks only).

    python benchmarks/ranking_nbm_depth_trend.py --score-test --recipe fair --recipe fair-s1
    python benchmarks/ranking_nbm_depth_trend.py --recipe fair-e20 --pairs-from fair+test   # validation-only scores

Writes benchmarks/results/ranking_nbm_depth_trend.json.
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
from ranking_nbm import BUDGETS, _setting, regret  # noqa: E402
from ranking_nbm_bias import cached_scores  # noqa: E402
from ranking_nbm_landmarks import add_training_arguments, landmark_arrays, loss_fit, training_setup  # noqa: E402
from ranking_nbm_standalone import _repo_relative, held_out_accuracy, train_alone  # noqa: E402
from run_all import machine_info  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402


def design(space, uni, cache: dict[str, dict[str, float]], pairs: int, max_macs: float, seed: int,
           pool_size: int) -> list[tuple[str, str]]:
    """The landmark pairs the design supernet's fit proposes (canonical keys)."""
    from oneshot.landmark_runs import candidate_pool
    from oneshot.search.landmarks import propose_landmark_pairs

    _, _, fit = loss_fit(space, uni, cache)
    pool, macs = candidate_pool(space, pool_size, seed)
    chosen = propose_landmark_pairs(fit, pool, macs, pairs, max_cost=max_macs)
    return [(space.key(pool[i]), space.key(pool[j])) for i, j in chosen]


def _search_run(work: Path, name: str, calib_images: int, test: bool) -> Path | None:
    runs = sorted(work.glob(f"search-{name}-loss-{_setting(0, calib_images, test)}-s[0-9]*"))
    return runs[0] if runs and (runs[0] / "DONE").is_file() else None


def corrected_search(run: Path, measured: dict[str, float], uni, complete: int | None = None,
                     rounds: int = 1) -> dict[str, Any]:
    """The search re-ranked by ``oneshot search --resume --landmarks`` (a copy of it, so the original
    keeps its smoothed front), and the regret of its front against the truth. The strategy's
    evaluations are reused; front completion (``--complete``, default the search's) adds its own."""
    import shlex
    import shutil
    import time

    from ranking_nbm import _oneshot, regret

    copy = run.with_name(run.name + "-depth-trend" + ("" if complete is None else f"-complete{complete}")
                         + ("" if rounds == 1 else f"-rounds{rounds}"))
    if not copy.is_dir():
        shutil.copytree(run, copy)
    marks = copy / "landmarks.csv"
    marks.write_text("key,accuracy\n" + "".join(f"{k},{v!r}\n" for k, v in sorted(measured.items())))
    words = shlex.split(json.loads((run / "search.json").read_text())["command"])[1:]
    out = words.index("--out")
    words[out + 1] = str(copy)
    words = [w for w in words if w != "--resume"] + ["--resume", "--landmarks", str(marks)]
    if complete is not None:
        words += ["--complete", str(complete)]
    words += ["--complete-rounds", str(rounds)]
    start = time.time()
    _oneshot(words, copy / "rerank.log")
    summary = json.loads((copy / "search.json").read_text())
    return {"smoothing": summary["smoothing"], "completion": summary.get("completion"),
            "rerank_wall_s": time.time() - start, **regret(copy, uni, "loss")}


def analyse(space, uni, measured: dict[str, float], recipes: list[str], args) -> list[dict[str, Any]]:
    from oneshot.ranking.metrics import kendall_tau, within_cost_quantiles
    from oneshot.search.landmarks import fit_depth_trend

    mark_archs, mark_acc = landmark_arrays(uni, measured)
    rows = []
    for name in recipes:
        all_keys, _, fit = loss_fit(space, uni, cached_scores(args.work, name, args.calib_images, args.score_test))
        keys = [k for k in all_keys if k not in measured]
        trend = fit_depth_trend(fit, mark_archs, mark_acc)
        held = np.array([uni[k][0] for k in keys])
        truth = np.array([uni[k][1] for k in keys])
        macs = np.array([uni[k][2] for k in keys])
        row: dict[str, Any] = {"supernet": name, "networks": len(keys), **trend.describe()}
        for label, p in (("smoothed", fit.predict(held)), ("corrected", trend.predict(held)), ("macs", macs)):
            row[label] = {"kendall_tau": kendall_tau(p, truth),
                          "tau_in_macs_quintiles": within_cost_quantiles(p, truth, macs, 5)}
        run = _search_run(args.work, name, args.calib_images, args.score_test)
        if run is not None:
            row["search"] = {"smoothed": regret(run, uni, "loss"),
                             "corrected": corrected_search(run, measured, uni, args.complete, args.complete_rounds)}
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], pairs: list[tuple[str, str]], measured: dict[str, float], uni) -> None:
    print("landmark pairs (canonical key, MACs, held-out accuracy alone):")
    for a, b in pairs:
        print(f"  {a} {uni[a][2] / 1e6:5.1f}M {measured.get(a, float('nan')):6.2f}   "
              f"{b} {uni[b][2] / 1e6:5.1f}M {measured.get(b, float('nan')):6.2f}")
    print(f"{'supernet':<10} {'beta':>6} {'interval':>14} | {'tau smoothed':>12} {'corrected':>9} {'MACs':>6} | "
          f"top-2 quintiles smoothed -> corrected | regret 30M/45M/60M smoothed -> corrected")
    for r in rows:
        q = lambda label: " ".join(f"{v:.2f}" for v in r[label]["tau_in_macs_quintiles"][-2:])  # noqa: E731
        regrets = ""
        if "search" in r:
            s = r["search"]
            regrets = " -> ".join(" ".join(f"{s[kind][f'{b / 1e6:.0f}M']['regret']:.2f}" for b in BUDGETS)
                                  for kind in ("smoothed", "corrected"))
        print(f"{r['supernet']:<10} {r['beta']:>6.2f} [{r['beta_low']:>5.2f},{r['beta_high']:>5.2f}] | "
              f"{r['smoothed']['kendall_tau']:>12.3f} {r['corrected']['kendall_tau']:>9.3f} "
              f"{r['macs']['kendall_tau']:>6.3f} | {q('smoothed')} -> {q('corrected')} | {regrets}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", action="append", default=None,
                    help="supernets to correct (repeatable; default the four shipped fair seeds); the first one "
                         "proposes the landmarks, and its recipe trains them")
    ap.add_argument("--score-test", action="store_true", help="supernet scores on validation + test (--score-test)")
    ap.add_argument("--pairs", type=int, default=8, help="landmark pairs (default 8: 16 networks)")
    ap.add_argument("--max-macs", type=float, default=60e6, help="MACs range of the landmarks (default 60M)")
    ap.add_argument("--pool", type=int, default=20000, help="random candidates the pairs are chosen from")
    ap.add_argument("--pool-seed", type=int, default=0)
    ap.add_argument("--shard", default="0/1", metavar="I/N",
                    help="train only every N-th landmark from the I-th (with --train-only: N processes share the "
                         "work; a run without it reuses what they finished)")
    ap.add_argument("--pairs-from", default=None, metavar="NAME[+test]",
                    help="the supernet whose scores propose the landmark pairs (default: the first --recipe, with "
                         "this run's --score-test); '+test' names its validation + test scores. Lets "
                         "validation-only supernets reuse landmarks proposed from validation + test scores")
    ap.add_argument("--complete", type=int, default=None, metavar="N",
                    help="the re-ranking search's --complete (default: the search's own, 32 with landmarks)")
    ap.add_argument("--complete-rounds", type=int, default=1, metavar="R",
                    help="the re-ranking search's --complete-rounds (default 1)")
    add_training_arguments(ap, "ranking_nbm_depth_trend.json")
    args = ap.parse_args(argv)
    recipes, supernet, space, uni, run_dir = training_setup(args)
    design_name, design_test = recipes[0], args.score_test
    if args.pairs_from:
        design_name, plus, suffix = args.pairs_from.partition("+")
        if plus and suffix != "test" or not design_name:
            ap.error(f"--pairs-from {args.pairs_from!r}: expected NAME or NAME+test")
        design_test = bool(plus)
    pairs = design(space, uni, cached_scores(args.work, design_name, args.calib_images, design_test),
                   args.pairs, args.max_macs, args.pool_seed, args.pool)
    shard, _, shards = args.shard.partition("/")
    if not (shard.isdigit() and shards.isdigit() and int(shard) < int(shards)):
        ap.error(f"--shard {args.shard!r}: expected I/N with 0 <= I < N")
    order = [k for pair in pairs for k in pair][int(shard)::int(shards)]
    measured: dict[str, float] = {}
    for i, key in enumerate(order):
        print(f"landmark {i + 1}/{len(order)}: {key} ({uni[key][2] / 1e6:.1f}M MACs) alone for {args.epochs} epochs",
              flush=True)
        result = train_alone(key, supernet, run_dir / key, args.epochs, args.seed, run_dir / "train.log")
        measured[key] = held_out_accuracy(result)
    if args.train_only:
        return 0
    rows = analyse(space, uni, measured, recipes, args)
    print_table(rows, pairs, measured, uni)
    config = {k: (_repo_relative(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    atomic_write_json(args.results, {"config": config | {"recipe": recipes}, "machine": machine_info(),
                                     "pairs": [list(p) for p in pairs],
                                     "landmarks": {k: round(v, 3) for k, v in measured.items()},
                                     "rows": rows})
    print(f"results: {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
