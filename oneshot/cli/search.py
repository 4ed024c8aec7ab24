"""``oneshot search``: search a frozen supernet (or NAS-Bench-Macro) under budgets; export the front."""
from __future__ import annotations

import argparse

from oneshot.evaluation.bn_policies import BN_POLICIES, DEFAULT_BN_POLICY, DEFAULT_CALIB_BATCH, DEFAULT_CALIB_IMAGES
from oneshot.evaluation.base import EVALUATORS
from oneshot.evaluation.tabular import BENCHMARKS
from oneshot.search.smoothing import DEFAULT_SMOOTHING, SMOOTHERS
from oneshot.strategies import STRATEGIES

from .benchmark_file import add_mapping_arguments, benchmark_spec
from .options import parse_key_values


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search", help="search a supernet (or NAS-Bench-Macro) for the accuracy/cost Pareto front",
        description="Evolutionary / random / NSGA-II search. Costs (FLOPs = MACs, params, latency from "
                    "--lut) are priced first; architectures over a budget are never evaluated. Writes "
                    "history.csv (appended per evaluation), pareto.csv, pareto.png, search.json, best.json "
                    "to --out; --resume continues a killed run without re-evaluating anything.",
        epilog="example: oneshot search --benchmark nas-bench-macro --strategy nsga2 --objective accuracy:max "
               "--objective flops:min --constraint 'flops<=60M' --budget 500 --out runs/nbm")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--supernet", metavar="PATH", help="supernet checkpoint from `oneshot train-supernet`")
    src.add_argument("--benchmark", metavar="NAME|PATH",
                     help=f"score with a tabular benchmark instead of a supernet (ground truth): a built-in one "
                          f"({BENCHMARKS.help_text()}) or a CSV/JSON file mapped with --arch-column, --metric, --cost")
    src.add_argument("--evaluator", choices=EVALUATORS.names(), metavar="KIND",
                     help=f"any registered evaluator, configured with -e KEY=VALUE ({EVALUATORS.help_text()})")
    p.add_argument("--eval-option", "-e", action="append", default=[], metavar="KEY=VALUE",
                   help="option of --evaluator KIND, e.g. -e checkpoint=sn/supernet.pt (repeatable)")
    p.add_argument("--strategy", default="nsga2", choices=STRATEGIES.names(),
                   help=f"{STRATEGIES.help_text()} (default: nsga2)")
    p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter, e.g. -p pop_size=30 (repeatable)")
    p.add_argument("--objective", action="append", default=[], metavar="METRIC:max|min",
                   help="objective (repeatable), e.g. loss:min, accuracy:max, flops:min, latency_ms:min; default "
                        "loss:min with --supernet (the supernet's loss ranks networks better than its accuracy, "
                        "docs/ranking.md), accuracy:max with --benchmark")
    p.add_argument("--constraint", action="append", default=[], metavar="EXPR",
                   help="budget on a cost (repeatable): 'flops<=300M', 'params<=4M', 'latency_ms<=15'")
    p.add_argument("--lut", metavar="PATH", help="latency lookup table (prices latency_ms)")
    p.add_argument("--budget", type=int, default=1000, help="number of evaluations (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the strategy and calibration subset")
    p.add_argument("--bn-policy", choices=BN_POLICIES.names(), default=DEFAULT_BN_POLICY,
                   help=f"BN statistics before scoring a subnet ({BN_POLICIES.help_text()}; default "
                        f"{DEFAULT_BN_POLICY}: ema with few batches gave near-chance, tied scores in our runs)")
    p.add_argument("--calib-images", type=int, default=DEFAULT_CALIB_IMAGES,
                   help=f"training images used to recalibrate BN (default {DEFAULT_CALIB_IMAGES})")
    p.add_argument("--calib-batch", type=int, default=DEFAULT_CALIB_BATCH,
                   help=f"calibration batch size (default {DEFAULT_CALIB_BATCH})")
    p.add_argument("--val-images", type=int, default=None,
                   help="validation images to score on (default: the whole validation split)")
    p.add_argument("--score-train-images", type=int, default=None, metavar="N",
                   help="also score on N training images (a larger, paired sample for ranking; default 0)")
    p.add_argument("--score-test", action="store_true", default=None,
                   help="also score on the data's test split (on the CIFAR-10 subset 1,312 held-out images "
                        "instead of the validation split's 466: a steadier ranking, docs/ranking.md); the test "
                        "split is then no longer untouched by the search, so report final numbers elsewhere")
    p.add_argument("--score-cache-mb", type=float, default=None, metavar="MB",
                   help="cache of shared prefix activations of the scoring engine, per evaluator (default: a "
                        "quarter of free memory, at most 4096; 0 turns it off; scores do not depend on it)")
    _add_ranking_options(p)
    p.add_argument("--device", default="cpu", help="torch device of each evaluator (default cpu)")
    p.add_argument("--workers", type=int, default=1, help="Ray actors on this machine (1 = in-process)")
    p.add_argument("--ray-address", default=None, help="join a Ray cluster ('auto' or HOST:PORT)")
    ray = p.add_argument_group("Ray workers (with --workers N > 1 or --ray-address)")
    ray.add_argument("--worker-cpus", type=float, default=None, metavar="N",
                     help="CPUs Ray reserves per worker (default 1)")
    ray.add_argument("--worker-gpus", type=float, default=None, metavar="N",
                     help="GPUs per worker, fractions share one GPU (default 0; use with --device cuda)")
    ray.add_argument("--worker-threads", type=int, default=None, metavar="N",
                     help="torch intra-op threads in each worker (default 1)")
    ray.add_argument("--eval-batch", type=int, default=None, metavar="N",
                     help="architectures sent to a worker per call (default 4)")
    ray.add_argument("--eval-timeout", type=float, default=None, metavar="SECONDS",
                     help="seconds one architecture may take before its worker is replaced and it is "
                          "retried (default 600)")
    ray.add_argument("--eval-retries", type=int, default=None, metavar="N",
                     help="retries of an architecture whose evaluation failed or timed out before it is "
                          "recorded as an error (default 2)")
    add_mapping_arguments(p)
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the search in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


#: What a search optimises when no --objective is given. A frozen supernet ranks networks by its
#: validation *loss* better than by its validation accuracy (NAS-Bench-Macro, 500 networks: Kendall
#: tau 0.50 vs 0.36 for the uniform supernet, 0.52 vs 0.29 for the fair one, docs/ranking.md):
#: accuracy on a few hundred images is a coarse count with many ties, the loss is continuous. A
#: tabular benchmark has only its accuracy.
DEFAULT_OBJECTIVE = {"supernet": "loss:min", "benchmark": "accuracy:max"}



def _add_ranking_options(p: argparse.ArgumentParser) -> None:
    """How the front ranks a supernet's noisy scores: --smoothing, --landmarks, --complete."""
    p.add_argument("--smoothing", choices=SMOOTHERS.names(), default=None,
                   help=f"how the front ranks noisy scores: {SMOOTHERS.help_text()}. Smoothed objectives "
                        f"get METRIC_smoothed columns in pareto.csv; history.csv keeps the raw scores "
                        f"(default: {DEFAULT_SMOOTHING} for a supernet's scores, none for a benchmark's; "
                        f"--resume with another value rewrites the front)")
    p.add_argument("--landmarks", default=None, metavar="CSV",
                   help="correct the supernet's depth bias with networks trained alone: a landmarks.csv of "
                        "`oneshot landmarks propose` + `oneshot landmarks train`; the smoothed fit's layers are "
                        "reweighted by the depth trend the landmarks show (docs/ranking.md). `--resume` of a "
                        "finished search with it re-ranks the front (and completes it, see --complete)")
    p.add_argument("--complete", type=int, default=None, metavar="N",
                   help="after the budget, evaluate up to N networks that the fitted model puts on the front "
                        "but the strategy never evaluated, and refit with their scores (history.csv "
                        "generation -1; default 32 with --landmarks, else 0)")
    p.add_argument("--complete-rounds", type=int, default=1, metavar="R",
                   help="completion rounds: each refits with the previous rounds' scores and proposes again, "
                        "until the fitted front holds nothing unevaluated or N evaluations are spent (default 1)")


def _pool_options(args: argparse.Namespace) -> dict:
    """The Ray pool options given on the command line (flags left at None are not passed)."""
    flags = {"cpus_per_worker": args.worker_cpus, "gpus_per_worker": args.worker_gpus,
             "threads_per_worker": args.worker_threads, "batch_size": args.eval_batch,
             "timeout_s": args.eval_timeout, "max_retries": args.eval_retries}
    return {k: v for k, v in flags.items() if v is not None}


def evaluator_spec(args: argparse.Namespace):
    """The evaluator of a search: ``--benchmark``, ``--supernet`` (with the scoring flags) or any
    registered ``--evaluator KIND -e KEY=VALUE``."""
    from pathlib import Path

    from oneshot.errors import ConfigError
    from oneshot.evaluation import EvaluatorSpec
    from oneshot.evaluation.base import supernet_spec

    options = parse_key_values(args.eval_option, "--eval-option", "checkpoint=sn/supernet.pt")
    if options and not args.evaluator:
        raise ConfigError("-e/--eval-option configures --evaluator KIND; with --supernet or --benchmark use "
                          "their own flags")
    if args.evaluator:
        return EvaluatorSpec(args.evaluator, options)
    if args.benchmark:
        return benchmark_spec(args)
    if args.arch_column or args.metric or args.cost or args.space:
        raise ConfigError("--arch-column, --metric, --cost and --space map the columns of --benchmark PATH")
    if not Path(args.supernet).is_file():
        raise ConfigError(f"--supernet {args.supernet}: no such file; train one with `oneshot train-supernet`")
    return supernet_spec(args.supernet, bn_policy=args.bn_policy, calib_images=args.calib_images,
                         calib_batch=args.calib_batch, val_images=args.val_images, device=args.device,
                         seed=args.seed, score_cache_mb=args.score_cache_mb,
                         score_train_images=args.score_train_images or None, score_test=args.score_test)


def build_config(args: argparse.Namespace):
    """The ``SearchConfig`` of parsed ``oneshot search`` flags (the sweep builds its trials with it too)."""
    from oneshot.search import SearchConfig, parse_constraint, parse_objective

    params = parse_key_values(args.param, "--param", "pop_size=30")
    spec = evaluator_spec(args)
    default_objective = DEFAULT_OBJECTIVE["supernet" if spec.kind == "supernet" else "benchmark"]
    if spec.kind == "table":  # a benchmark file: its first mapped metric, maximised
        default_objective = f"{next(iter(spec.options['metrics']))}:max"
    return SearchConfig(
        evaluator=spec, out=args.out, strategy=args.strategy, strategy_params=params,
        objectives=[parse_objective(o) for o in (args.objective or [default_objective])],
        constraints=[parse_constraint(c) for c in args.constraint], budget=args.budget, seed=args.seed,
        resume=args.resume, workers=args.workers, ray_address=args.ray_address, lut=args.lut,
        pool_options=_pool_options(args), smoothing=args.smoothing, landmarks=args.landmarks, complete=args.complete,
        complete_rounds=args.complete_rounds,
        supernet=spec.options["checkpoint"] if spec.kind == "supernet" else None, progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    from oneshot.search import SearchRun

    config = build_config(args)
    summary = SearchRun(config).run()
    best = summary.get("best")
    print(f"{summary['evaluations']} evaluations ({summary['failed']} failed), stopped: "
          f"{summary['stopped_because']}; front {summary['front_size']} architectures, "
          f"hypervolume {summary['hypervolume']:.4f}")
    if best:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in best["metrics"].items())
        print(f"best {best['key']} ({best['readable']}): {metrics}")
    print(f"wrote {args.out}/history.csv, pareto.csv, pareto.png, search.json, best.json")
    smoothing = summary.get("smoothing")
    if isinstance(smoothing, dict) and "depth trend" in smoothing.get("method", ""):
        trends = [f"{m} beta {fit['depth_trend']['beta']:+.2f} [{fit['depth_trend']['beta_low']:+.2f}, "
                  f"{fit['depth_trend']['beta_high']:+.2f}]" for m, fit in smoothing.items()
                  if isinstance(fit, dict) and "depth_trend" in fit]
        print(f"front ranked by the landmarks' depth trend: {'; '.join(trends)}")
    elif isinstance(smoothing, dict) and config.evaluator.kind == "supernet":
        print(f"weight sharing misjudges early vs late layers; to correct the front's order: "
              f"oneshot landmarks propose --search {args.out} --out LANDMARKS_DIR (docs/search.md)")
    done = summary.get("completion") or {}
    if done.get("size"):
        print(f"completion: the fit put {done['proposed']} unevaluated networks on the front in "
              f"{done['rounds']} round(s) (at most {done['size']}); {done['evaluated']} evaluated and in the "
              f"front's fit")
    return 0
