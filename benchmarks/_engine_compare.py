"""Prefix-sharing scoring engine vs the per-architecture evaluator, as ratios measured in one run.

Used by ``benchmarks/eval_throughput.py --engine``; three workloads, each on one supernet and one
set of images, both evaluators built from the same checkpoint with the same settings:

1. **exhaustive NAS-Bench-Macro**: the engine scores every distinct network (3,969); the plain
   evaluator scores a seeded uniform random sample of them (scoring all would take hours) and its
   rate on the sample stands for its rate on all; the sample's scores must be identical;
2. **NSGA-II search**: ``SearchRun`` with 300 evaluations end to end, engine vs plain (same seed,
   so the same architectures are proposed; identical histories are checked);
3. **proxylessnas at 224 px**: random architectures in batches of 16, engine vs plain, alternating.
"""
from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "cifar10_subset.npz"


def random_checkpoint(path: Path, space_name: str, seed: int, **options: Any) -> str:
    """A seeded random-weight supernet of ``space_name`` on the CIFAR-10 subset split (speed only)."""
    from oneshot.checkpoint import save_checkpoint, versions
    from oneshot.data import load_data
    from oneshot.spaces import create_space
    from oneshot.supernet import Supernet

    torch.manual_seed(seed)
    space = create_space(space_name, **options)
    data = load_data(f"npz:{DATA}", space.resolution, seed=seed)
    save_checkpoint(path, {"space": space.to_json(), "model": Supernet(space).state_dict(), "data": data.info,
                           "config": {"note": "untrained, seeded init: throughput benchmark only"},
                           "versions": versions()})
    return str(path)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def exhaustive(ckpt: str, kw: dict, plain_sample: int, seed: int) -> dict[str, Any]:
    from oneshot.evaluation.supernet_evaluator import SupernetEvaluator
    from oneshot.evaluation.tabular import load_nas_bench_macro

    engine = SupernetEvaluator(ckpt, engine=True, score_cache_mb=0, **kw)
    plain = SupernetEvaluator(ckpt, engine=False, **kw)
    space = engine.space
    distinct: dict[str, list[int]] = {}
    for enc in sorted(load_nas_bench_macro()):
        distinct.setdefault(space.key([int(c) for c in enc]), [int(c) for c in enc])
    archs = list(distinct.values())
    sample = [archs[i] for i in np.random.default_rng(seed).choice(len(archs), plain_sample, replace=False)]
    plain.evaluate(sample[:1])  # warm-up
    plain._cache.clear()
    got, e_wall, e_cpu = _timed(lambda: engine.evaluate(archs))
    want, p_wall, p_cpu = _timed(lambda: plain.evaluate(sample))
    by_key = {r.key: r.metrics for r in got}
    identical = all(by_key[r.key] == r.metrics for r in want)
    e_rate, p_rate = len(archs) / e_cpu, len(sample) / p_cpu
    return {"workload": "exhaustive NAS-Bench-Macro", "archs_engine": len(archs), "archs_plain": len(sample),
            "engine_archs_per_cpu_s": round(e_rate, 3), "plain_archs_per_cpu_s": round(p_rate, 3),
            "engine_wall_s": round(e_wall, 1), "plain_wall_s": round(p_wall, 1),
            "speedup_cpu": round(e_rate / p_rate, 2), "target": 3.0, "identical_scores": identical,
            "module_runs_engine": engine._engine.module_runs}


def search(ckpt: str, kw: dict, budget: int, seed: int) -> dict[str, Any]:
    from oneshot.evaluation import EvaluatorSpec
    from oneshot.search import SearchConfig, SearchRun, parse_objective

    out: dict[str, Any] = {"workload": f"NSGA-II search, {budget} evaluations", "target": 1.5}
    histories = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, engine in (("plain", False), ("engine", True)):
            spec = EvaluatorSpec("supernet", {"checkpoint": ckpt, "engine": engine, **kw})
            cfg = SearchConfig(evaluator=spec, out=str(Path(tmp) / name), strategy="nsga2",
                               objectives=[parse_objective("accuracy:max"), parse_objective("macs:min")],
                               budget=budget, seed=seed, supernet=ckpt, progress=False)
            _, wall, cpu = _timed(lambda: SearchRun(cfg).run())
            out[f"{name}_wall_s"], out[f"{name}_cpu_s"] = round(wall, 1), round(cpu, 1)
            with open(Path(tmp) / name / "history.csv", newline="") as fh:
                histories[name] = [(r["key"], r["accuracy"], r["loss"]) for r in csv.DictReader(fh)]
    out["speedup_cpu"] = round(out["plain_cpu_s"] / out["engine_cpu_s"], 2)
    out["speedup_wall"] = round(out["plain_wall_s"] / out["engine_wall_s"], 2)
    # results arrive in prefix order, not proposal order: the same evaluations with the same scores
    out["identical_histories"] = sorted(histories["plain"]) == sorted(histories["engine"])
    out["evaluations"] = len(histories["engine"])
    return out


def proxyless(ckpt: str, kw: dict, batches: int, batch: int, seed: int) -> dict[str, Any]:
    from oneshot.evaluation.supernet_evaluator import SupernetEvaluator

    engine = SupernetEvaluator(ckpt, engine=True, score_cache_mb=0, **kw)
    plain = SupernetEvaluator(ckpt, engine=False, **kw)
    rng = np.random.default_rng(seed)
    plain.evaluate([engine.space.sample(rng)])  # warm-up
    e_cpu = p_cpu = 0.0
    identical = True
    for b in range(batches):
        archs = [engine.space.sample(rng) for _ in range(batch)]
        order = [("engine", engine), ("plain", plain)] if b % 2 == 0 else [("plain", plain), ("engine", engine)]
        results = {}
        for name, ev in order:
            ev._cache.clear()
            results[name], _, cpu = _timed(lambda: ev.evaluate(archs))
            if name == "engine":
                e_cpu += cpu
            else:
                p_cpu += cpu
        identical &= [r.metrics for r in results["engine"]] == [r.metrics for r in results["plain"]]
    n = batches * batch
    return {"workload": f"proxylessnas 224 px, {batches} batches of {batch} random architectures",
            "engine_archs_per_cpu_s": round(n / e_cpu, 3), "plain_archs_per_cpu_s": round(n / p_cpu, 3),
            "speedup_cpu": round(p_cpu / e_cpu, 2), "target": 1.2, "identical_scores": identical}


def run(args) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    kw = {"bn_policy": args.bn_policy, "calib_images": args.calib_images, "calib_batch": args.calib_batch,
          "val_images": args.val_images, "eval_batch": args.eval_batch, "seed": args.seed}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        nbm = args.supernet or random_checkpoint(Path(tmp) / "nbm.pt", "nas-bench-macro", args.seed)
        rows.append(exhaustive(nbm, kw, args.plain_sample, args.seed))
        print(rows[-1], flush=True)
        rows.append(search(nbm, kw, args.search_budget, args.seed))
        print(rows[-1], flush=True)
        pl = random_checkpoint(Path(tmp) / "pl.pt", "proxylessnas", args.seed)
        pkw = dict(kw, calib_images=args.proxyless_images, val_images=args.proxyless_images)
        rows.append(proxyless(pl, pkw, args.proxyless_batches, 16, args.seed))
        print(rows[-1], flush=True)
    for r in rows:
        r["met"] = bool(r["speedup_cpu"] >= r["target"])
    return {"rows": rows, "settings": kw}
