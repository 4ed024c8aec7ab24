"""What the allocator pin (``oneshot/allocator.py``) saves in supernet training on the CPU.

    python benchmarks/allocator_training.py [--steps 8] [--repeats 2] [--batch-size 128]

Each measurement is a fresh child process that builds a ``nas-bench-macro`` supernet, takes three
warm-up steps and then times ``--steps`` single-path training steps (zero_grad, forward, backward,
SGD) on one batch of CIFAR-sized images, with glibc's defaults (``ONESHOT_ALLOCATOR=default``) or
pinned (the training default). It reports CPU seconds per step (user and system) and minor page
faults per step. Children alternate default / pinned ``--repeats`` times, so a shared machine slows
both alike; the ratio is taken within this one run (medians).

Writes benchmarks/results/allocator_training.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_all import machine_info  # noqa: E402

from oneshot.atomic import atomic_write_json  # noqa: E402

PATH = [2, 2, 1, 1, 2, 1, 2, 1]  # a mid-sized network: MBConv 6 and 3 in every stage


def child(steps: int, batch_size: int) -> dict[str, float]:
    """Time ``steps`` training steps in this process (after the pin, if the environment wants it)."""
    import resource

    import torch

    from oneshot.allocator import pin_unless_opted_out
    from oneshot.spaces import create_space
    from oneshot.supernet import Supernet

    mode = pin_unless_opted_out()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = Supernet(create_space("nas-bench-macro"))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch_size, 3, 32, 32), torch.randint(0, 10, (batch_size,))

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x, PATH), y).backward()
        opt.step()

    for _ in range(3):  # the pinned heap grows to its peak in the first steps
        step()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(steps):
        step()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"allocator": mode, "user_s": (after.ru_utime - before.ru_utime) / steps,
            "sys_s": (after.ru_stime - before.ru_stime) / steps,
            "minor_faults": (after.ru_minflt - before.ru_minflt) / steps}


def measure(mode: str, steps: int, batch_size: int) -> dict[str, float]:
    env = {**os.environ, "ONESHOT_ALLOCATOR": mode, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--child", "--steps", str(steps), "--batch-size", str(batch_size)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--results", type=Path, default=HERE / "results" / "allocator_training.json")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.steps, args.batch_size)))
        return 0
    runs: dict[str, list[dict[str, float]]] = {"default": [], "pinned": []}
    for _ in range(args.repeats):
        for mode in runs:
            runs[mode].append(measure(mode, args.steps, args.batch_size))
    rows = {}
    for mode, rs in runs.items():
        rows[mode] = {k: statistics.median(r[k] for r in rs) for k in ("user_s", "sys_s", "minor_faults")}
        rows[mode]["cpu_s"] = rows[mode]["user_s"] + rows[mode]["sys_s"]
        rows[mode]["allocator"] = rs[0]["allocator"]
    ratio = rows["default"]["cpu_s"] / rows["pinned"]["cpu_s"]
    print(f"one training step, nas-bench-macro path {''.join(map(str, PATH))}, batch {args.batch_size}, 1 thread "
          f"(median of {args.repeats} processes x {args.steps} steps)")
    print(f"{'allocator':<22} {'CPU s/step':>10} {'user':>7} {'system':>7} {'page faults/step':>17}")
    for mode, r in rows.items():
        print(f"{r['allocator']:<22} {r['cpu_s']:>10.2f} {r['user_s']:>7.2f} {r['sys_s']:>7.2f} {r['minor_faults']:>17.0f}")
    print(f"default / pinned CPU time: {ratio:.2f}x")
    atomic_write_json(args.results, {"config": {"steps": args.steps, "repeats": args.repeats,
                                                "batch_size": args.batch_size, "path": PATH},
                                     "machine": machine_info(), "runs": runs, "median": rows,
                                     "default_over_pinned_cpu": ratio})
    return 0


if __name__ == "__main__":
    sys.exit(main())
