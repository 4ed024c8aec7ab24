"""``oneshot eval-ranking``: can the supernet's ranking be trusted? Kendall tau vs stand-alone truth."""
from __future__ import annotations

import argparse

from oneshot.evaluation.bn_policies import BN_POLICIES, DEFAULT_BN_POLICY, DEFAULT_CALIB_IMAGES
from oneshot.evaluation.tabular import BENCHMARKS

from .benchmark_file import add_mapping_arguments, benchmark_spec


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-ranking", help="rank correlation of the frozen supernet vs stand-alone accuracy",
                       description="Sample N architectures stratified over MACs, score them with the frozen "
                                   "supernet (once per --bn-policy), get their true accuracy (short stand-alone "
                                   "training of each, or a tabular --benchmark) and report Kendall tau, "
                                   "Spearman rho and top-k precision next to the MACs-only and params-only "
                                   "proxies. Writes ranking.json, ranking.csv and ranking.png to --out; "
                                   "stand-alone results go to truth.jsonl as they finish (rerun to resume).")
    p.add_argument("--supernet", required=True, metavar="CKPT", help="supernet checkpoint")
    p.add_argument("--n", type=int, default=30, help="architectures to rank (default 30)")
    p.add_argument("--bn-policy", action="append", choices=BN_POLICIES.names(), metavar="POLICY",
                   help=f"BN policy of the supernet scores, repeatable ({', '.join(BN_POLICIES.names())}; "
                        f"default {DEFAULT_BN_POLICY})")
    p.add_argument("--benchmark", metavar="NAME|PATH",
                   help=f"ground truth from a tabular benchmark instead of stand-alone training: a built-in one "
                        f"({', '.join(BENCHMARKS.names())}) or a CSV/JSON file with --metric accuracy=COLUMN")
    add_mapping_arguments(p)
    p.add_argument("--epochs", type=int, default=None, help="stand-alone epochs per architecture")
    p.add_argument("--batch-size", type=int, default=None, help="stand-alone batch size")
    p.add_argument("--lr", type=float, default=None, help="stand-alone learning rate")
    p.add_argument("--train-seed", type=int, default=None, help="seed of the stand-alone trainings")
    p.add_argument("--calib-images", type=int, default=DEFAULT_CALIB_IMAGES,
                   help=f"BN calibration images (default {DEFAULT_CALIB_IMAGES})")
    p.add_argument("--val-images", type=int, default=None, help="validation images for supernet scores (all)")
    p.add_argument("--score-train-images", type=int, default=0, metavar="N",
                   help="also score on N training images (a larger, paired sample for ranking; default 0)")
    p.add_argument("--score-test", action="store_true",
                   help="also score supernets on the data's test split (more held-out images, a steadier "
                        "ranking; the split then no longer gives untouched final numbers)")
    p.add_argument("--score-cache-mb", type=float, default=None, metavar="MB",
                   help="prefix-activation cache of the scoring engine (default: a quarter of free memory, "
                        "at most 4096; 0 turns it off)")
    p.add_argument("--workers", type=int, default=1, help="Ray actors training stand-alone in parallel")
    p.add_argument("--ray-address", default=None, help="join a Ray cluster ('auto' or HOST:PORT)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of the architecture sample and calibration subset")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oneshot.ranking.report import RankingConfig, run_ranking

    bench = benchmark_spec(args) if args.benchmark else None
    recipe = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                                "seed": args.train_seed, "device": args.device}.items() if v is not None}
    cfg = RankingConfig(supernet=args.supernet, out=args.out, n=args.n,
                        bn_policies=tuple(dict.fromkeys(args.bn_policy or [DEFAULT_BN_POLICY])), benchmark=bench.kind if bench else None,
                        benchmark_options=dict(bench.options) if bench else {},
                        seed=args.seed, workers=args.workers, ray_address=args.ray_address,
                        calib_images=args.calib_images, val_images=args.val_images, device=args.device,
                        standalone=recipe, progress=not args.no_progress, score_cache_mb=args.score_cache_mb,
                        score_train_images=args.score_train_images, score_test=args.score_test)
    report = run_ranking(cfg)
    truth = ("NAS-Bench-Macro" if bench.kind == "nas-bench-macro" else args.benchmark) if bench else \
        "stand-alone training"
    W = 30  # proxy column: fits supernet_exact_loss_smoothed
    print(f"ranking of {args.n} architectures against {truth}:")
    print(f"{'proxy':<{W}}{'Kendall tau':>12}{'Spearman rho':>14}{'top-5 prec':>12}{'top-10 prec':>12}"
          f"  tau in MACs quintiles (low..high)")
    for proxy, s in report["summary"].items():
        if "kendall_tau" not in s:
            print(f"{proxy:<{W}}  {s.get('error', 'n/a')}")
            continue
        flag = (f"  (only {s['distinct_proxy_values']} distinct scores: mostly ties, do not trust tau)"
                if s.get("distinct_proxy_values", s["n"]) < s["n"] / 2 else "")
        quint = " ".join(f"{x:5.2f}" for x in s.get("tau_in_macs_quintiles", []))
        print(f"{proxy:<{W}}{s['kendall_tau']:>12.3f}{s['spearman_rho']:>14.3f}"
              f"{s.get('top5_precision', float('nan')):>12.2f}{s.get('top10_precision', float('nan')):>12.2f}"
              f"  {quint}{flag}")
    regrets = {p: s["regret_within_ranked"] for p, s in report["summary"].items() if s.get("regret_within_ranked")}
    if regrets:
        budgets = list(next(iter(regrets.values())))
        print(f"decision regret within the ranked architectures (points of truth lost by trusting the proxy):")
        print(f"{'proxy':<{W}}" + "".join(f"{b:>10}" for b in budgets))
        for proxy, r in regrets.items():
            print(f"{proxy:<{W}}" + "".join(f"{r.get(b, float('nan')):>10.2f}" for b in budgets))
    print(f"report: {args.out}/ranking.json   plot: {args.out}/ranking.png")
    return 0
