"""``oneshot sweep``: several searches (or trainings) as Ray Tune trials, merged into one table."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Sequence


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="run several searches (per seed / per budget) as Ray Tune trials and merge their fronts",
        description="Runs one `oneshot search` per seed and/or per budget value as Ray Tune trials, each in "
                    "OUT/trials/<name> (resumable like any search), reports progress and checkpoints to Tune "
                    "every --report-every evaluations, and merges the trials' fronts into OUT/pareto.csv with a "
                    "`trial` column. Everything after `--` is passed to each search.",
        epilog="example: oneshot sweep --out runs/sweep --seeds 0:3 --sweep-budget 'macs<=40M,60M,80M' -- "
               "--benchmark nas-bench-macro --objective accuracy:max --objective macs:min --budget 200")
    p.add_argument("--out", required=True, help="sweep directory (sweep.json, pareto.csv, trials/, tune-N/)")
    p.add_argument("--seeds", metavar="LIST|RANGE", help="one trial per seed: '0,1,2' or '0:5' (5 excluded)")
    p.add_argument("--sweep-budget", metavar="EXPR",
                   help="one trial per budget: 'flops<=40M,60M,80M' or 'latency_ms<=10:20:5' (20 included); "
                        "combined with --seeds it is the product")
    p.add_argument("--grid", action="append", default=[], metavar="FLAG=V1,V2",
                   help="one trial per value of any flag of the command (repeatable; product), e.g. "
                        "--grid strategy=nsga2,evolution, or for training --grid lr=0.1,0.05")
    p.add_argument("--command", default="search", choices=["search", "train-supernet"],
                   help="what each trial runs (default search); train-supernet sweeps training "
                        "hyper-parameters, --report-every then counts epochs (default 1)")
    p.add_argument("--concurrent", type=int, default=None,
                   help="trials at once (default: the cluster's CPUs / --cpus-per-trial)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs Tune reserves per trial (default 1)")
    p.add_argument("--report-every", type=int, default=None, metavar="N",
                   help="report and checkpoint to Tune every N evaluations (default: a quarter of --budget), "
                        "or N epochs for training")
    p.add_argument("--max-failures", type=int, default=1,
                   help="times Tune retries a failed trial; the retry resumes its search (default 1)")
    p.add_argument("--ray-address", default=None, help="join a Ray cluster ('auto' or HOST:PORT)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out (same arguments)")
    p.add_argument("search_args", nargs=argparse.REMAINDER,
                   help="-- followed by the arguments of `oneshot search` (or of --command) shared by every trial")
    p.set_defaults(func=run)


def trial_config(command: str, args: Sequence[str], out: str):
    """The library config of one trial: its command-line arguments parsed by the command's own
    parser and built into a ``SearchConfig`` / ``TrainConfig`` exactly as that command builds it."""
    from .sweep_grid import parse_command_args

    ns = parse_command_args(args, out, command)
    if command == "search":
        from .search import build_config

        if ns.lut:  # Tune runs a trial in its own directory: paths must not depend on the cwd
            ns.lut = os.path.abspath(ns.lut)
        return build_config(ns)
    from oneshot.training import TrainConfig

    from .train_supernet import collect_config

    return TrainConfig.from_dict(collect_config(ns)[0])


def sweep_config(out: str, command_args: Sequence[str], seeds: Sequence[int] | None = None,
                 budgets: Sequence[str] | None = None, grid: Sequence[tuple[str, list[str]]] = (),
                 command: str = "search", **tune_options: Any):
    """The ``SweepConfig`` of a sweep given as on the command line: the command's shared arguments
    and what varies (seeds, search budgets, other flags' values); ``tune_options`` are
    ``SweepConfig``'s (concurrent, cpus_per_trial, report_every, max_failures, ray_address, resume)."""
    from oneshot.errors import ConfigError
    from oneshot.sweep import SweepConfig, Trial

    from .sweep_grid import _cli, build_trials, check_args

    _cli(command)  # an unknown command fails here, listing the valid ones
    if command != "search" and budgets:
        raise ConfigError("--sweep-budget varies the constraints of searches; a training sweep varies "
                          "flags with --grid, e.g. --grid lr=0.1,0.05")
    if not (seeds or budgets or grid):
        raise ConfigError("nothing to sweep: give --seeds, --sweep-budget and/or --grid")
    swept = (["--seed"] if seeds else []) + [f"--{flag}" for flag, _ in grid]
    if len(set(swept)) != len(swept):
        raise ConfigError(f"a flag is swept twice ({swept}); --seeds already sets --seed")
    check_args(command_args, swept, command)
    root = Path(out).resolve()
    trials = []
    for t in build_trials(command_args, seeds, budgets, list(grid)):
        where = str(root / "trials" / t["slug"])
        # a grid value the command rejects fails now, not in trial 7 of 12
        trials.append(Trial(t["name"], t["slug"], where, trial_config(command, t["args"], where), t["seed"],
                            t["budget_constraint"], t["grid"]))
    return SweepConfig(out=out, trials=trials, identity={"command": command, "args": list(command_args)},
                       **tune_options)


def run(args: argparse.Namespace) -> int:
    from oneshot.errors import ConfigError
    from oneshot.sweep import run_sweep

    from .sweep_grid import parse_budget_sweep, parse_grid, parse_seeds

    search_args = list(args.search_args)
    if search_args and search_args[0] == "--":
        search_args = search_args[1:]
    if not search_args:
        raise ConfigError("give the command's arguments after `--`, e.g. `oneshot sweep --out runs/s --seeds 0:3 -- "
                          "--benchmark nas-bench-macro --budget 200`")
    seeds = parse_seeds(args.seeds) if args.seeds else None
    budgets = parse_budget_sweep(args.sweep_budget) if args.sweep_budget else None
    grid = [parse_grid(g) for g in args.grid]
    config = sweep_config(args.out, search_args, seeds, budgets, grid, args.command,
                          concurrent=args.concurrent, cpus_per_trial=args.cpus_per_trial,
                          report_every=args.report_every, max_failures=args.max_failures,
                          ray_address=args.ray_address, resume=args.resume)
    state = run_sweep(config)
    if args.command == "search":
        print(f"{'trial':<28} {'status':<10} {'evals':>6} {'front':>5} {'hypervolume':>11}")
        for t in state["trials"]:
            hv = f"{t['hypervolume']:.4f}" if t["hypervolume"] is not None else "-"
            print(f"{t['name']:<28} {t['status']:<10} {t['evaluations'] or 0:>6} {t['front_size'] or 0:>5} {hv:>11}")
        print(f"wrote {args.out}/pareto.csv ({state['front_rows']} rows from {len(state['trials'])} trials), sweep.json")
    else:
        print(f"{'trial':<28} {'status':<10} {'epoch':>5} {'train loss':>10} {'val mean %':>10}")
        for t in state["trials"]:
            loss = f"{t['train_loss']:.4f}" if t["train_loss"] is not None else "-"
            val = f"{t['val_mean']:.2f}" if t["val_mean"] is not None else "-"
            print(f"{t['name']:<28} {t['status']:<10} {t['epoch'] or 0:>5} {loss:>10} {val:>10}")
        print(f"wrote {args.out}/results.csv ({state['result_rows']} trials), sweep.json")
    bad = [t for t in state["trials"] if t["status"] != "finished"]
    if bad:
        print(f"{len(bad)} trial(s) did not finish ({', '.join(t['name'] for t in bad)}); "
              f"rerun the same command with --resume to continue them")
        return 1
    return 0
