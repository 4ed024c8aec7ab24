"""``oneshot quickstart``: the whole path in one command, on the embedded digits data.

It runs the real commands one after another (printing each, so the user can rerun or adapt it):
train a small supernet with strict fairness, profile a latency table on this machine, search it
with NSGA-II under a latency budget on 2 Ray workers, export the most accurate model within the
budget. Rerunning with the same ``--out`` continues: finished steps are skipped, the search resumes.
"""
from __future__ import annotations

import argparse

SPACE = "tiny"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="train, profile, search and export end to end on digits (~5 min)",
                       description="Train a small supernet on the embedded digits data, profile a latency "
                                   "table on this machine, run an NSGA-II search under a latency budget with "
                                   "2 workers, and export the best model. About five minutes on 2 CPUs; "
                                   "rerun with the same --out to continue an interrupted quickstart.")
    p.add_argument("--out", default="runs/quickstart", help="output directory (default runs/quickstart)")
    p.add_argument("--fast", action="store_true", help="a much smaller run (tests, smoke checks): ~1-2 min")
    p.add_argument("--workers", type=int, default=2, help="Ray workers of the search (default 2)")
    p.add_argument("--budget", type=int, default=None, help="search evaluations (default 200; 24 with --fast)")
    p.add_argument("--seed", type=int, default=0, help="seed of every step (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _step(n: int, total: int, title: str, argv: list[str]) -> None:
    """Run one real ``oneshot`` command in this process; stop the quickstart if it fails."""
    from oneshot.cli.main import main
    from oneshot.errors import OneshotError

    print(f"\n[{n}/{total}] {title}\n  $ oneshot {' '.join(_quote(a) for a in argv)}", flush=True)
    status = main(argv)
    if status:
        raise OneshotError(f"quickstart step {n} ({title}) failed (status {status}); fix the error above and "
                           f"rerun `oneshot quickstart` with the same --out to continue")


def _quote(arg: str) -> str:
    return f'"{arg}"' if any(c in arg for c in " <>=|&") else arg


def latency_budget(space, lut_path: str, fraction: float = 0.4) -> float:
    """A budget ``fraction`` of the way from the fastest to the slowest architecture (ms, rounded up)."""
    import math

    from oneshot.costs import cost_model
    from oneshot.latency import load_table

    lo, hi = cost_model(space, load_table(lut_path)).bounds()["latency_ms"]
    return math.ceil((lo + fraction * (hi - lo)) * 1000) / 1000


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from oneshot.errors import ConfigError

    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    out, fast = Path(args.out), args.fast
    _claim(out, "fast" if fast else "full")
    quiet = ["--no-progress"] if args.no_progress else []
    start = time.perf_counter()
    print(f"oneshot quickstart -> {out}/ ({'fast' if fast else 'full'} mode; about "
          f"{'1-2' if fast else '5'} minutes on 2 CPUs)")
    ckpt, space = _train(out, fast, args.seed, quiet)
    lut = _profile(out, space, fast, args.seed, quiet)
    limit = latency_budget(space, str(lut))
    search_dir = _search(out, ckpt, lut, limit, fast, args, quiet)
    # 4. export the most accurate architecture within the budget
    model_dir = out / "model"
    _step(4, 4, "export the best model (TorchScript, ONNX, weights)",
          ["export", "--from", str(search_dir / "pareto.csv"), "--rank", "0", "--out", str(model_dir), "--force"])
    _summary(out, search_dir, ckpt, lut, limit, model_dir, (time.perf_counter() - start) / 60)
    return 0


def _claim(out, mode: str) -> None:
    """A fast and a full quickstart differ in every step's settings: one directory holds one of them."""
    import json

    from oneshot.atomic import atomic_write_json
    from oneshot.errors import ConfigError

    mode_file = out / "quickstart.json"
    if mode_file.is_file():
        before = json.loads(mode_file.read_text()).get("mode")
        if before != mode:
            flag = " --fast" if before == "fast" else ""
            raise ConfigError(f"{out} holds a {before} quickstart; continue it with `oneshot quickstart{flag} "
                              f"--out {out}` or choose another --out for a {mode} one")
    out.mkdir(parents=True, exist_ok=True)
    if not mode_file.is_file():
        atomic_write_json(mode_file, {"mode": mode})


def _train(out, fast: bool, seed: int, quiet: list[str]):
    """1. The supernet (skipped when a finished checkpoint is there; resumed when one is half done)."""
    from oneshot.checkpoint import load_checkpoint
    from oneshot.spaces.core import space_from_json

    sn_dir, ckpt = out / "supernet", out / "supernet" / "supernet.pt"
    epochs = 1 if fast else 3
    train = ["train-supernet", "--space", SPACE, "--data", "digits", "--sampling", "fair", "--epochs", str(epochs),
             "--seed", str(seed), "--device", "cpu", "--out", str(sn_dir)]
    if fast:
        train += ["--eval-paths", "1", "--bn-calib-images", "128"]
    train += quiet
    if ckpt.exists() and int(load_checkpoint(ckpt).get("epoch", 0)) >= epochs:
        print(f"\n[1/4] supernet: {ckpt} is already trained, skipped")
    else:
        _step(1, 4, "train a supernet on digits with strict fairness (FairNAS)",
              train + (["--resume"] if ckpt.exists() else []))
    return ckpt, space_from_json(load_checkpoint(ckpt)["space"])


def _profile(out, space, fast: bool, seed: int, quiet: list[str]):
    """2. The latency table of this machine."""
    from oneshot.latency.profile import partial_path

    lut = out / "lut" / f"{SPACE}-{space.resolution}px-cpu.json"
    profile = ["lut", "profile", "--space", SPACE, "-o", f"resolution={space.resolution}", "--device", "cpu",
               "--threads", "1", "--out", str(lut), "--seed", str(seed)]
    if fast:
        profile += ["--warmup", "2", "--repeats", "5"]
    if lut.exists() and not partial_path(lut).exists():
        # reprofiling would rewrite the table (new timings, new hash) and a resumed search would refuse it
        print(f"\n[2/4] latency table: {lut} already profiled, skipped")
    else:
        _step(2, 4, "profile a latency lookup table on this machine (1 thread)", profile + quiet)
    return lut


def _search(out, ckpt, lut, limit: float, fast: bool, args: argparse.Namespace, quiet: list[str]):
    """3. NSGA-II under a latency budget on Ray workers (resumes an interrupted search)."""
    search_dir = out / "search"
    budget = args.budget or (24 if fast else 200)
    search = ["search", "--supernet", str(ckpt), "--strategy", "nsga2", "--objective", "accuracy:max",
              "--objective", "latency_ms:min", "--constraint", f"latency_ms<={limit}", "--lut", str(lut),
              "--budget", str(budget), "--workers", str(args.workers), "--seed", str(args.seed),
              # exact BN statistics per path: a supernet's shared running statistics belong to no single path
              "--bn-policy", "exact", "--out", str(search_dir)]
    search += ["--param", "pop_size=8", "--calib-images", "128"] if fast else ["--calib-images", "512"]
    if (search_dir / "search.json").exists():
        search.append("--resume")
    _step(3, 4, f"NSGA-II search: accuracy vs latency, latency <= {limit} ms, {args.workers} workers",
          search + quiet)
    return search_dir


def _summary(out, search_dir, ckpt, lut, limit: float, model_dir, minutes: float) -> None:
    import csv

    with open(search_dir / "pareto.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    print(f"\nquickstart finished in {minutes:.1f} min. Pareto front ({len(rows)} architectures, "
          f"latency <= {limit} ms):")
    cols = [c for c in ("rank", "key", "accuracy", "latency_ms", "macs", "params") if rows and c in rows[0]]
    print("  " + "".join(f"{c:>12}" for c in cols))
    for row in rows[:8]:
        print("  " + "".join(f"{row[c] if c in ('rank', 'key') else _short(row[c]):>12}" for c in cols))
    if len(rows) > 8:
        print(f"  ... {len(rows) - 8} more in {search_dir / 'pareto.csv'}")
    print("\nwhere everything is:")
    for what, path in [("supernet", ckpt), ("training log", ckpt.parent / "train_log.jsonl"), ("latency table", lut),
                       ("search history", search_dir / "history.csv"), ("Pareto front", search_dir / "pareto.csv"),
                       ("exported model", model_dir), ("Pareto plot", search_dir / "pareto.png")]:
        print(f"  {what:<16}{path}")
    print(f"\nload the model: python -c \"import oneshot; print(oneshot.load_model('{model_dir}'))\"")


def _short(value: str) -> str:
    try:
        v = float(value)
    except ValueError:
        return value
    if abs(v) >= 1e6:
        return f"{v / 1e6:.2f}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:.1f}K"
    return f"{v:.3g}" if v != int(v) else str(int(v))
