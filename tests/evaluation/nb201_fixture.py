"""Small NAS-Bench-201-format benchmark files for tests: the published architecture strings with
accuracy / flops (MFLOPs) / params (MB) columns, as NAS-Bench-201's CSV and JSON exports have them."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from oneshot.spaces import create_space


def synthetic_accuracy(arch) -> float:
    """A deterministic accuracy that favours convolutions (so the front is non-trivial)."""
    w = np.asarray([0.0, 1.0, 2.0, 4.0, 1.5])
    return round(60.0 + 5.0 * float(w[np.asarray(arch)].mean()) + 0.1 * (sum(arch) % 7), 4)


def nb201_rows(n: int | None = None, seed: int = 0) -> list[dict]:
    """Rows for ``n`` random cells (all 15,625 when None) with exact flops (M) and params (M)."""
    from oneshot.costs.counting import flops_params_table

    space = create_space("nas-bench-201")
    table = flops_params_table(space)
    archs = list(space.enumerate()) if n is None else \
        [tuple(a) for a in np.unique(space.sample_matrix(np.random.default_rng(seed), n), axis=0)]
    priced = table.price(np.asarray(archs))
    return [{"arch_str": space.format(a), "cifar10_test_acc": synthetic_accuracy(a),
             "flops": priced["macs"][i] / 1e6, "params": priced["params"][i] / 1e6}
            for i, a in enumerate(archs)]


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def write_json(path: Path, rows: list[dict]) -> Path:
    """The JSON form keyed by architecture string: ``{arch_str: {column: value}}``."""
    path.write_text(json.dumps({r["arch_str"]: {k: v for k, v in r.items() if k != "arch_str"} for r in rows}))
    return path
