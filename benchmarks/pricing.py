"""Pricing speed: latency + MACs + params of batches of architectures, one vectorised gather.

For each (space, latency table) pair: build the combined cost model once (``cost_model``: exact MACs
and params per operator plus the table's latency), then price batches of 100,000 random
architectures (validation of the choice matrix included) and report architectures per second. The
same run times the per-architecture alternative that table-driven searches use (OFA's estimator:
a Python loop over layers with a dictionary lookup per layer) on a smaller sample, and checks that
both give exactly the same numbers. Target: >= 1,000,000 architectures/s on 2 CPUs.

    .venv/bin/python benchmarks/pricing.py
    .venv/bin/python benchmarks/pricing.py --batch 100000 --repeats 5 --loop 2000

Prints a table and writes ``benchmarks/results/pricing.json`` (machine info included).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import with_cpu_model  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
LUTS = ROOT / "oneshot" / "data" / "luts"

#: (label, space, options, importer format, packaged file)
CASES = (
    ("mobilenetv3 w1.2 + OFA Note10 224", "mobilenetv3", {"width": 1.2}, "ofa", "ofa_note10_224_lookup_table.yaml"),
    ("tunas-proxylessnas + TuNAS Pixel-1", "tunas-proxylessnas", {}, "tunas",
     "tunas_proxylessnas_search_pixel1_linear.json"),
    ("single-path-nas + Single-Path NAS Pixel-1", "single-path-nas", {}, "single-path-nas",
     "single_path_nas_pixel1_runtime_model.json"),
)


def machine_info() -> dict:
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "numpy": np.__version__, "torch": torch.__version__,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}
    return with_cpu_model(info)


def loop_price(space, lut, flops: dict, matrix: np.ndarray) -> np.ndarray:
    """The per-architecture way: walk the active layers, look each one up (OFA's estimator style)."""
    from oneshot.latency.pricing import slot_labels

    out = np.zeros((len(matrix), 3))
    for i, arch in enumerate(matrix):
        lat, macs, params = lut.constant_ms, 0.0, 0.0
        for slot, op in space.active_ops(arch):
            label = slot_labels(space, slot)[0 if slot.dim is None else arch[slot.dim]]
            entry = lut.lookup(op.signature(), slot.name, label)
            lat += entry.ms if entry is not None else 0.0
            macs += flops[op]["macs"]
            params += flops[op]["params"]
        out[i] = (macs, params, lat)
    return out


def bench(label: str, name: str, options: dict, fmt: str, file: str, batch: int, repeats: int, loop: int,
          seed: int) -> dict:
    from oneshot.costs.counting import op_cost
    from oneshot.costs import cost_model
    from oneshot.latency.formats import import_table
    from oneshot.spaces import create_space

    space = create_space(name, **options)
    lut = import_table(fmt, LUTS / file, space).table
    t0 = time.perf_counter()
    table = cost_model(space, lut)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    matrix = space.sample_matrix(rng, batch)
    times, times_nv = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        priced = table.price(matrix)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        table.price(matrix, validate=False)
        times_nv.append(time.perf_counter() - t0)
    flops = {op: op_cost(op) for op in space.distinct_ops()}
    sub = matrix[:loop]
    t0 = time.perf_counter()
    ref = loop_price(space, lut, flops, sub)
    loop_s = time.perf_counter() - t0
    exact = bool(np.array_equal(priced["macs"][:loop], ref[:, 0]) and np.array_equal(priced["params"][:loop], ref[:, 1])
                 and np.allclose(priced["latency_ms"][:loop], ref[:, 2], rtol=0, atol=1e-9))
    best = min(times)
    return {"case": label, "space": name, "options": options, "table": file, "batch": batch,
            "metrics": list(table.metrics), "build_s": build_s,
            "price_s_median": float(np.median(times)), "price_s_best": best,
            "archs_per_s": batch / float(np.median(times)), "archs_per_s_best": batch / best,
            "archs_per_s_no_validation": batch / float(np.median(times_nv)),
            "loop_archs": loop, "loop_archs_per_s": loop / loop_s,
            "speedup_vs_loop": (batch / float(np.median(times))) / (loop / loop_s),
            "equal_to_per_arch_sums": exact}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--loop", type=int, default=2000, help="architectures priced by the per-architecture loop")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    info = machine_info()
    rows = [bench(*case, args.batch, args.repeats, args.loop, args.seed) for case in CASES]
    print(f"pricing latency + MACs + params, batches of {args.batch:,} ({info.get('cpu_model')}, "
          f"{info['cpu_count']} CPUs, load {info['loadavg_at_start']})")
    print(f"{'case':<42}{'archs/s':>14}{'no-validate':>14}{'loop archs/s':>14}{'speed-up':>10}{'exact':>7}")
    for r in rows:
        print(f"{r['case']:<42}{r['archs_per_s']:>14,.0f}{r['archs_per_s_no_validation']:>14,.0f}"
              f"{r['loop_archs_per_s']:>14,.0f}{r['speedup_vs_loop']:>9,.0f}x{str(r['equal_to_per_arch_sums']):>7}")
    target = 1_000_000
    ok = all(r["archs_per_s"] >= target for r in rows)
    print(f"target >= {target:,} archs/s (median of {args.repeats}, validation included): "
          f"{'met' if ok else 'NOT met'} on every case")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"benchmark": "pricing", "command": " ".join(["benchmarks/pricing.py"] + (argv or sys.argv[1:])),
           "machine": info, "target_archs_per_s": target, "target_met": ok, "results": rows,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = RESULTS / "pricing.json"
    atomic_write_json(path, out, indent=1, end="\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0 if all(r["equal_to_per_arch_sums"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
