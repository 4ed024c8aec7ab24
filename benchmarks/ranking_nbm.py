"""Does the supernet rank NAS-Bench-Macro networks better than MACs? Ranking and decision regret.

For each supernet recipe (``--recipe NAME=FLAGS``, repeatable; defaults: uniform 30 epochs, strict
fair at the same compute counted in path-batches (fair trains M = 3 paths per step, so 10 epochs),
and fair 20 epochs, the recipe ``train-supernet`` ships as its default), the script

1. trains a ``nas-bench-macro`` supernet on the CIFAR-10 subset with ``oneshot train-supernet``
   (resumable: rerunning with the same ``--work`` continues or reuses it),
2. scores a fixed uniform random sample of distinct networks (``--n``, or ``--n 0`` for all 3,969)
   with the frozen supernet (prefix-sharing engine, BN policy ``--bn-policy``), and reports, against
   NAS-Bench-Macro's ``mean_acc`` (50 epochs of full CIFAR-10, 3 seeds): Kendall tau, Spearman rho,
   tau within MACs quintiles and top-10 % precision, for the supernet's accuracy and its loss, next to
   the MACs-only and params-only proxies on the same networks,
3. measures the **decision regret**: ``oneshot search --strategy nsga2 --objective loss:min
   --objective macs:min --budget B``; for each MACs budget, the front member the supernet ranks first
   (``pareto.csv``, ranked by the additive fit of the losses, the search's default) is compared
   (true accuracy) with the true best network under that budget and with the free choice (the
   network with the most MACs that fits); the same pick from the raw-loss front is reported too.

    python benchmarks/ranking_nbm.py                              # ~3-4 h on 2 CPUs (training dominates)
    python benchmarks/ranking_nbm.py --recipe small-batch="--sampling uniform --epochs 30 --batch-size 32"

Writes benchmarks/results/ranking_nbm.json (every recipe's numbers, CPU times, machine info) and
prints a table. Work files go to --work (default runs/bench-ranking-nbm).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_all import machine_info  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402

DATA = HERE / "data" / "cifar10_subset.npz"
BUDGETS = (30e6, 45e6, 60e6)
#: uniform 30 epochs and fair 10 epochs are equal compute in path-batches (fair trains 3 paths per
#: step); fair 20 epochs is what ``train-supernet`` ships as its default since ablation 42
DEFAULT_RECIPES = {
    "uniform": "--sampling uniform --epochs 30",
    "fair": "--sampling fair --epochs 10",
    "fair-e20": "--sampling fair --epochs 20",
}


def _oneshot(args: list[str], log: Path) -> float:
    """Run the CLI in a child process; returns its CPU seconds (user + system)."""
    cmd = [sys.executable, "-m", "oneshot", *args]
    with open(log, "a") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        before = os.times()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
        after = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}), see {log}: {shlex.join(cmd)}")
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def train(name: str, flags: str, work: Path, data: Path, seed: int) -> tuple[Path, float]:
    """Train (or resume, or reuse) the supernet of one recipe; returns its checkpoint and CPU seconds."""
    out = work / f"supernet-{name}"
    manifest = out / "few_shot.json"
    ckpt = manifest if "--split" in flags else out / "supernet.pt"
    done = out / "DONE"
    timing = out / "cpu_seconds.json"
    spent = json.loads(timing.read_text())["cpu_seconds"] if timing.is_file() else 0.0
    if not done.is_file():
        args = ["train-supernet", "--space", "nas-bench-macro", "--data", f"npz:{data}", "--seed", str(seed),
                "--out", str(out), "--no-progress", *shlex.split(flags)]
        if (out / "supernet.pt").is_file():
            args.append("--resume")
        spent += _oneshot(args, work / f"train-{name}.log")
        atomic_write_json(timing, {"cpu_seconds": spent})
        done.write_text("ok\n")
    return ckpt, spent


def universe():
    """All distinct NAS-Bench-Macro networks: canonical key -> (arch, mean_acc, macs, params)."""
    from oneshot.evaluation.tabular import load_nas_bench_macro
    from oneshot.spaces import create_space

    space = create_space("nas-bench-macro")
    out: dict[str, tuple[list[int], float, float, float]] = {}
    for enc, rec in sorted(load_nas_bench_macro().items()):
        arch = [int(c) for c in enc]
        key = space.key(arch)
        out.setdefault(key, (arch, float(rec["mean_acc"]), float(rec["flops"]), float(rec["params"])))
    return space, out


def sample_keys(all_keys: list[str], n: int, seed: int) -> list[str]:
    """A uniform random sample of ``n`` distinct networks (all when ``n`` is 0 or too large)."""
    keys = sorted(all_keys)
    if n <= 0 or n >= len(keys):
        return keys
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(keys, size=n, replace=False).tolist())


def _setting(train_images: int, calib_images: int, test: bool) -> str:
    """The scoring setting in work-file names (``-test``: validation + test; older names unchanged)."""
    return f"t{train_images}-c{calib_images}{'-test' if test else ''}"


def score_cache(work: Path, name: str, train_images: int, calib_images: int, test: bool = False) -> Path:
    """Where the scores of recipe ``name`` at one scoring setting are cached (read by ranking_nbm_bias.py)."""
    return work / f"scores-{name}-{_setting(train_images, calib_images, test)}.json"


def score(ckpt: Path, archs: dict[str, list[int]], cache: Path, bn_policy: str, calib_images: int,
          seed: int, train_images: int = 0, test: bool = False) -> tuple[dict[str, dict[str, float]], float]:
    """Supernet accuracy and loss of every architecture (cached on disk per checkpoint and setting)."""
    from oneshot.provenance import file_sha256
    from oneshot.evaluation.supernet_evaluator import SupernetEvaluator

    tag = {"checkpoint_sha256": file_sha256(ckpt), "bn_policy": bn_policy,
           "calib_images": calib_images, "seed": seed, "score_train_images": train_images}
    if test:
        tag["score_test"] = True  # the caches written before the option keep their tag
    stored = json.loads(cache.read_text()) if cache.is_file() else {}
    if stored.get("tag") != tag:
        stored = {"tag": tag, "scores": {}, "cpu_seconds": 0.0}
    todo = [k for k in archs if k not in stored["scores"]]
    if todo:
        ev = SupernetEvaluator(str(ckpt), bn_policy=bn_policy, calib_images=calib_images, seed=seed,
                               score_train_images=train_images, score_test=test)
        from tqdm import tqdm

        t0 = time.process_time()
        with tqdm(total=len(todo), desc=f"scoring {ckpt.parent.name}", dynamic_ncols=True,
                  disable=not sys.stderr.isatty()) as bar:
            for res in ev.evaluate_stream([archs[k] for k in todo]):
                if res.ok:
                    stored["scores"][res.key] = res.metrics
                bar.update(1)
                if len(stored["scores"]) % 256 == 0:
                    atomic_write_json(cache, stored)
        stored["cpu_seconds"] += time.process_time() - t0
        ev.close()
        atomic_write_json(cache, stored)
    return stored["scores"], stored["cpu_seconds"]


def ranking_numbers(keys: list[str], scores: dict[str, dict[str, float]], truth: dict, space) -> dict[str, Any]:
    """Every proxy's tau, rho, within-quintile taus and top-10 % precision on ``keys``; the smoothed
    loss is the additive model fitted to the supernet's losses of these networks (no truth involved)."""
    from oneshot.ranking.metrics import (kendall_tau, spearman_rho, top_fraction_precision,
                                         within_cost_quantiles)
    from oneshot.search.smoothing import smooth

    keys = [k for k in keys if k in scores]
    t = np.array([truth[k][1] for k in keys])
    macs = np.array([truth[k][2] for k in keys])
    first = scores[keys[0]]
    held = "val_" if "val_loss" in first else ""  # with training images scored too, val_* is held out
    proxies = {"supernet accuracy (val)": np.array([scores[k][f"{held}accuracy"] for k in keys]),
               "supernet -loss (val)": -np.array([scores[k][f"{held}loss"] for k in keys])}
    archs = [truth[k][0] for k in keys]
    proxies["supernet -loss (val), smoothed"] = smooth(space, archs, proxies["supernet -loss (val)"])[0]
    if held:
        proxies["supernet -loss (val+train)"] = -np.array([scores[k]["loss"] for k in keys])
        # what the search ranks its front by when it scores training images too
        proxies["supernet -loss (val+train), smoothed"] = smooth(space, archs, proxies["supernet -loss (val+train)"])[0]
    proxies.update({"MACs": macs, "params": np.array([truth[k][3] for k in keys])})
    out = {}
    for name, p in proxies.items():
        out[name] = {"kendall_tau": kendall_tau(p, t), "spearman_rho": spearman_rho(p, t),
                     "tau_in_macs_quintiles": within_cost_quantiles(p, t, macs, 5),
                     "top10pct_precision": top_fraction_precision(p, t, 0.1),
                     "distinct": int(len(np.unique(p))), "n": len(keys)}
    return out


def search(name: str, ckpt: Path, work: Path, budget: int, seed: int, bn_policy: str,
           calib_images: int, metric: str = "accuracy", train_images: int = 0,
           test: bool = False) -> tuple[Path, float]:
    out = work / f"search-{name}-{metric}-{_setting(train_images, calib_images, test)}-s{seed}"
    done = json.loads((out / "DONE").read_text()) if (out / "DONE").is_file() else None
    if done and f"{metric}_smoothed" in (out / "pareto.csv").read_text().split("\n", 1)[0].split(","):
        return out, done["cpu_seconds"]
    # a search finished before smoothing existed: --resume only rewrites its front (nothing is evaluated)
    goal = "max" if metric == "accuracy" else "min"
    args = ["search", "--supernet", str(ckpt), "--strategy", "nsga2", "--objective", f"{metric}:{goal}",
            "--objective", "macs:min", "--budget", str(budget), "--seed", str(seed), "--bn-policy", bn_policy,
            "--calib-images", str(calib_images), "--score-train-images", str(train_images),
            "--out", str(out), "--no-progress", *(["--score-test"] if test else [])]
    if (out / "search.json").is_file():
        args.append("--resume")
    spent = _oneshot(args, work / f"search-{name}.log") + (done["cpu_seconds"] if done else 0.0)
    atomic_write_json(out / "DONE", {"cpu_seconds": spent})
    return out, spent


def regret(run: Path, truth: dict, metric: str = "accuracy") -> dict[str, Any]:
    """Per budget: the front member with the best supernet score that fits, against the truth; the
    front is the search's pareto.csv (ranked by the smoothed score, the default), ``raw_front_regret``
    the same pick from the front of the raw scores (what the search wrote before smoothing)."""
    from oneshot.pareto import non_dominated_mask
    from oneshot.ranking.metrics import pick_under_budget

    with open(run / "pareto.csv", newline="") as fh:
        front = [r for r in csv.DictReader(fh) if not r.get("error")]
    with open(run / "history.csv", newline="") as fh:
        history = [r for r in csv.DictReader(fh) if not r.get("error") and r.get(metric)]
    ranked_by = f"{metric}_smoothed" if front and f"{metric}_smoothed" in front[0] else metric
    sign = 1.0 if metric == "accuracy" else -1.0  # lower loss ranks higher
    feasible = [r for r in history if r.get("feasible", "1") == "1"]
    raw_mask = non_dominated_mask(np.array([[-sign * float(r[metric]), float(r["macs"])] for r in feasible]))
    raw_front = [r for r, m in zip(feasible, raw_mask) if m]
    all_t = {k: v[1] for k, v in truth.items()}
    all_macs = {k: v[2] for k, v in truth.items()}
    out: dict[str, Any] = {"front_ranked_by": ranked_by}
    for b in BUDGETS:
        i = pick_under_budget([sign * float(r[ranked_by]) for r in front], [float(r["macs"]) for r in front], b)
        j = pick_under_budget([sign * float(r[metric]) for r in raw_front], [float(r["macs"]) for r in raw_front], b)
        fits = [k for k in all_t if all_macs[k] <= b]
        best = max(all_t[k] for k in fits)
        most = max(all_macs[k] for k in fits)
        free = float(np.mean([all_t[k] for k in fits if all_macs[k] == most]))
        picked = all_t[front[i]["key"]] if i is not None else float("nan")
        out[f"{b / 1e6:.0f}M"] = {"picked_key": front[i]["key"] if i is not None else None,
                                   "picked_true": picked, "true_best": best, "most_macs_true": free,
                                   "regret": best - picked, "most_macs_regret": best - free,
                                   "raw_front_regret": best - all_t[raw_front[j]["key"]] if j is not None
                                   else float("nan")}
    from oneshot.ranking.metrics import kendall_tau

    keys = [r["key"] for r in history]
    out["evaluated"] = len(keys)
    if len(keys) >= 3:
        t = [all_t[k] for k in keys]
        out["tau_among_evaluated"] = {
            "supernet accuracy (val)": kendall_tau([float(r.get("val_accuracy") or r["accuracy"])
                                                    for r in history], t),
            "supernet -loss (search metric)": kendall_tau([-float(r["loss"]) for r in history], t),
            "supernet -loss, smoothed over the evaluated": kendall_tau(_smoothed_history(history, "loss"), t),
            "MACs": kendall_tau([all_macs[k] for k in keys], t)}
    return out


def _smoothed_history(history: list[dict[str, str]], metric: str) -> np.ndarray:
    """Minus the additive fit of ``metric`` over every evaluated network (what the front is ranked by)."""
    from oneshot.search.smoothing import smooth
    from oneshot.spaces import create_space

    space = create_space("nas-bench-macro")
    archs = [space.parse(r["key"]) for r in history]
    return -smooth(space, archs, [float(r[metric]) for r in history])[0]


def print_table(results: dict[str, Any]) -> None:
    W = 46  # label column
    print(f"\nranking vs NAS-Bench-Macro mean_acc, {results['n']} distinct networks (uniform sample, seed "
          f"{results['sample_seed']})")
    print(f"{'recipe / proxy':<{W}}{'tau':>7}{'rho':>7}{'top10%':>8}  tau in MACs quintiles (low..high)")
    shown_costs = False
    for name, rec in results["recipes"].items():
        for proxy, s in rec["ranking"].items():
            if proxy in ("MACs", "params"):
                if shown_costs:
                    continue
                label = proxy
            else:
                label = f"{name}: {proxy}"
            q = " ".join(f"{x:5.2f}" for x in s["tau_in_macs_quintiles"])
            print(f"{label:<{W}}{s['kendall_tau']:>7.3f}{s['spearman_rho']:>7.3f}{s['top10pct_precision']:>8.2f}  {q}")
        shown_costs = True
    print(f"\n{'decision regret (points)':<{W}}" + "".join(f"{b / 1e6:>8.0f}M" for b in BUDGETS))
    first = next((r for r in results["recipes"].values() if r.get("regret")), {})
    if first.get("regret"):
        print(f"{'most-MACs free choice':<{W}}" + "".join(
            f"{first['regret'][f'{b / 1e6:.0f}M']['most_macs_regret']:>9.2f}" for b in BUDGETS))
    for name, rec in results["recipes"].items():
        if rec.get("regret"):
            print(f"{name + ': nsga2 front, supernet pick':<{W}}" + "".join(
                f"{rec['regret'][f'{b / 1e6:.0f}M']['regret']:>9.2f}" for b in BUDGETS))
            if "raw_front_regret" in rec["regret"][f"{BUDGETS[0] / 1e6:.0f}M"]:
                print(f"{name + ': same, raw-score front':<{W}}" + "".join(
                    f"{rec['regret'][f'{b / 1e6:.0f}M']['raw_front_regret']:>9.2f}" for b in BUDGETS))
    print()
    for name, rec in results["recipes"].items():
        print(f"{name}: train {rec['train_cpu_s'] / 60:.1f} CPU-min, score {rec['score_cpu_s'] / 60:.1f} CPU-min, "
              f"search {rec.get('search_cpu_s', 0) / 60:.1f} CPU-min  ({rec['flags']})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", action="append", metavar="NAME=FLAGS",
                    help="a supernet recipe: train-supernet flags (repeatable; default: uniform, fair and fair-e20)")
    ap.add_argument("--n", type=int, default=500, help="distinct networks to score (0 = all 3,969; default 500)")
    ap.add_argument("--sample-seed", type=int, default=0, help="seed of the network sample (default 0)")
    ap.add_argument("--seed", type=int, default=0, help="seed of training, calibration subset and search")
    ap.add_argument("--bn-policy", default="exact", help="BN policy of the supernet scores (default exact)")
    ap.add_argument("--calib-images", type=int, default=256,
                    help="BN calibration images (default 256, as in the recorded results; 1,024 ranked the same)")
    ap.add_argument("--search-budget", type=int, default=300, help="NSGA-II evaluations (0 = no search)")
    ap.add_argument("--search-metric", choices=("accuracy", "loss"), default="loss",
                    help="supernet score the search maximises (accuracy) or minimises (loss) next to MACs")
    ap.add_argument("--score-train-images", type=int, default=0,
                    help="also score on this many training images (default 0: validation split only)")
    ap.add_argument("--score-test", action="store_true",
                    help="also score on the subset's 846 test images (1,312 held-out images in all; the "
                         "truth is NAS-Bench-Macro's, so the subset's test split is free to score on)")
    ap.add_argument("--data", type=Path, default=DATA, help="npz of the CIFAR-10 subset")
    ap.add_argument("--work", type=Path, default=Path("runs/bench-ranking-nbm"), help="work directory")
    ap.add_argument("--results", type=Path, default=HERE / "results" / "ranking_nbm.json")
    args = ap.parse_args(argv)

    recipes = dict(DEFAULT_RECIPES)
    if args.recipe:
        recipes = {}
        for item in args.recipe:
            name, sep, flags = item.partition("=")
            if not sep or not name:
                ap.error(f"--recipe {item!r}: expected NAME=FLAGS")
            recipes[name] = flags
    args.work.mkdir(parents=True, exist_ok=True)
    space, truth = universe()
    keys = sample_keys(list(truth), args.n, args.sample_seed)
    archs = {k: truth[k][0] for k in keys}
    results: dict[str, Any] = json.loads(args.results.read_text()) if args.results.is_file() else {}
    if results.get("n") != len(keys) or results.get("sample_seed") != args.sample_seed:
        results = {}
    results.update({"benchmark": "ranking_nbm", "n": len(keys), "sample_seed": args.sample_seed,
                    "seed": args.seed, "bn_policy": args.bn_policy, "calib_images": args.calib_images,
                    "score_train_images": args.score_train_images, "score_test": args.score_test,
                    "search_metric": args.search_metric,
                    "search_budget": args.search_budget, "machine": machine_info()})
    results.setdefault("recipes", {})
    measured: set[str] = set()
    for name, flags in recipes.items():
        ckpt, train_s = train(name, flags, args.work, args.data, args.seed)
        scores, score_s = score(ckpt, archs, score_cache(args.work, name, args.score_train_images,
                                                         args.calib_images, args.score_test),
                                args.bn_policy, args.calib_images, args.seed, args.score_train_images,
                                args.score_test)
        rec: dict[str, Any] = {"flags": flags, "train_cpu_s": train_s, "score_cpu_s": score_s,
                               "settings": {"seed": args.seed, "calib_images": args.calib_images,
                                            "bn_policy": args.bn_policy,
                                            "score_train_images": args.score_train_images,
                                            "score_test": args.score_test,
                                            "search_metric": args.search_metric},
                               "ranking": ranking_numbers(keys, scores, truth, space)}
        if args.search_budget > 0:
            run, search_s = search(name, ckpt, args.work, args.search_budget, args.seed, args.bn_policy,
                                   args.calib_images, args.search_metric, args.score_train_images,
                                   args.score_test)
            rec.update({"search_cpu_s": search_s, "regret": regret(run, truth, args.search_metric)})
            if args.score_train_images:
                # the same search scored as the default scores (held-out images only), for a paired regret
                run, search_s = search(name, ckpt, args.work, args.search_budget, args.seed, args.bn_policy,
                                       args.calib_images, args.search_metric, 0, args.score_test)
                rec.update({"validation_only_search_cpu_s": search_s,
                            "regret_validation_only_search": regret(run, truth, args.search_metric)})
        test = ", +test" if args.score_test else ""  # the labels of earlier results stay as they were
        label = (f"{name} [{args.search_metric}, +{args.score_train_images} train img{test}, "
                 f"calib {args.calib_images}]")
        results["recipes"][label] = rec
        # after every recipe, a long run keeps what it has; merged with the file as it is now, so
        # several invocations (one per recipe, in parallel) add up instead of overwriting each other:
        # only the recipes this invocation measured replace what the file holds
        mine = {k: v for k, v in results["recipes"].items() if k in measured or k == label}
        measured.add(label)
        if args.results.is_file():
            now = json.loads(args.results.read_text())
            if now.get("n") == results["n"] and now.get("sample_seed") == results["sample_seed"]:
                results["recipes"] = {**now.get("recipes", {}), **mine}
        atomic_write_json(args.results, results)
    print_table(results)
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
