"""Landmark directories: propose landmark pairs from a finished search, train them alone, resumably.

A landmarks directory holds ``landmarks.csv`` (the networks, their cost and, once trained, their
held-out accuracy), ``landmarks.json`` (where they came from: the search run, its supernet, the cost
metric) and ``runs/KEY/`` (one ``train-arch`` run per network, checkpointed every epoch). A search
reads the CSV with ``--landmarks`` (``oneshot.search.landmarks``).
"""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from oneshot.atomic import atomic_write_json, atomic_write_text
from oneshot.errors import ConfigError
from oneshot.search.landmarks import COLUMNS, propose_landmark_pairs
from oneshot.search.smoothing import fit_additive

CSV_NAME = "landmarks.csv"
META_NAME = "landmarks.json"
#: stand-alone epochs per landmark when not given (what docs/ranking.md measured)
DEFAULT_EPOCHS = 12
#: cost metrics a pair can be matched on (priced exactly for every space)
PAIR_METRICS = ("macs", "params")


def _read_search(run: Path) -> tuple[Any, dict[str, Any], list[dict[str, str]], str, str]:
    """(space, search.json, evaluated rows, score metric, its direction) of a finished search run."""
    from oneshot.spaces.core import space_from_json

    meta_path, history_path = run / "search.json", run / "history.csv"
    if not meta_path.is_file() or not history_path.is_file():
        raise ConfigError(f"{run} is not a search run (no search.json / history.csv); give the --out of `oneshot search`")
    meta = json.loads(meta_path.read_text())
    identity = meta.get("identity") or {}
    if (identity.get("evaluator") or {}).get("kind") != "supernet":
        raise ConfigError(f"{run} did not score with a supernet; landmarks correct a supernet's ranking")
    space = space_from_json(identity["space"])
    objectives = [o.split(":") for o in identity.get("objectives", [])]
    scored = [(m, d) for m, d in objectives if m in ("loss", "accuracy")]
    if not scored:
        raise ConfigError(f"{run} has no supernet objective (loss or accuracy) to correct")
    metric, direction = scored[0]
    with open(history_path, newline="") as fh:
        # the strategy's rows only: front completion (generation -1) comes after the landmarks, and a
        # proposal must not depend on whether it ran
        rows = [r for r in csv.DictReader(fh) if not r.get("error") and r.get(metric) and r.get("generation") != "-1"]
    return space, meta, rows, metric, direction


def candidate_pool(space: Any, size: int, seed: int, metric: str = "macs") -> tuple[np.ndarray, np.ndarray]:
    """Distinct canonical architectures of a seeded random pool of ``size``, and their ``metric``."""
    from oneshot.costs.counting import flops_params_table

    rng = np.random.default_rng(seed)
    pool = np.unique(space.canonicalize_matrix(space.sample_matrix(rng, size)), axis=0)
    return pool, np.asarray(flops_params_table(space).price(pool)[metric], dtype=float)


def propose(run: str | Path, out: str | Path, *, pairs: int = 8, metric: str = "macs", max_cost: float | None = None,
            tolerance: float = 0.05, pool: int = 20000, seed: int = 0) -> list[dict[str, Any]]:
    """Write ``out/landmarks.csv`` with ``pairs`` pairs proposed from the search ``run``'s scores."""
    run, out = Path(run), Path(out)
    if metric not in PAIR_METRICS:
        raise ConfigError(f"landmark pairs are matched on {' or '.join(PAIR_METRICS)}, not {metric!r}")
    if (out / CSV_NAME).is_file():
        raise ConfigError(f"{out} already holds landmarks ({CSV_NAME}); use another --out (nothing was changed)")
    space, meta, rows, score, direction = _read_search(run)
    if len(rows) < 10:
        raise ConfigError(f"{run} evaluated only {len(rows)} networks; the fit that proposes landmarks needs >= 10")
    sign = 1.0 if direction == "max" else -1.0
    fit = fit_additive(space, [space.parse(r["key"]) for r in rows], [sign * float(r[score]) for r in rows])
    candidates, cost = candidate_pool(space, pool, seed, metric)
    chosen = propose_landmark_pairs(fit, candidates, cost, pairs, max_cost=max_cost, tolerance=tolerance)
    records = [{"pair": k, "key": space.key(candidates[i]), "encoding": space.encoding_key(candidates[i]),
                "cost": float(cost[i]), "accuracy": ""}
               for k, pair in enumerate(chosen) for i in pair]
    out.mkdir(parents=True, exist_ok=True)
    supernet = ((meta.get("identity") or {}).get("files") or {}).get("supernet", {}).get("path")
    atomic_write_json(out / META_NAME, {"search": str(run), "supernet": supernet, "score": f"{score}:{direction}",
                                        "cost_metric": metric, "max_cost": max_cost, "tolerance": tolerance,
                                        "pool": pool, "seed": seed, "pairs": pairs}, indent=2)
    _write_csv(out / CSV_NAME, records)
    return records


def _write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in records:
        w.writerow({k: r.get(k, "") for k in COLUMNS})
    atomic_write_text(path, buf.getvalue(), newline="")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def held_out_accuracy(result: dict[str, Any]) -> float:
    """A trained network's accuracy on validation + test together, each split weighted by its size
    (validation only where the data has no test split)."""
    sizes = (result.get("data") or {}).get("sizes") or {}
    if result.get("test_accuracy") is None or not sizes.get("test"):
        return float(result["val_accuracy"])
    n_val, n_test = sizes["val"], sizes["test"]
    return (result["val_accuracy"] * n_val + result["test_accuracy"] * n_test) / (n_val + n_test)


def train(directory: str | Path, *, epochs: int = DEFAULT_EPOCHS, seed: int = 0, supernet: str | None = None,
          echo: Callable[[str], None] = print) -> list[dict[str, str]]:
    """Train every landmark of ``directory`` that has no accuracy yet (resuming interrupted ones) and
    write each accuracy into ``landmarks.csv`` as soon as it is measured."""
    from oneshot.checkpoint import load_checkpoint
    from oneshot.standalone import ARCH_NAME, config_from_supernet, train_architecture

    directory = Path(directory)
    path = directory / CSV_NAME
    if not path.is_file():
        raise ConfigError(f"{directory} holds no {CSV_NAME}; create it with `oneshot landmarks propose`")
    if epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    meta = json.loads((directory / META_NAME).read_text()) if (directory / META_NAME).is_file() else {}
    supernet = supernet or meta.get("supernet")
    if not supernet or not Path(supernet).is_file():
        raise ConfigError(f"the supernet {supernet!r} whose recipe trains the landmarks is missing; pass --supernet CKPT")
    config = config_from_supernet(load_checkpoint(supernet), {"epochs": epochs, "seed": seed})
    records = _read_csv(path)
    todo = [r for r in records if not (r.get("accuracy") or "").strip()]
    for n, record in enumerate(todo, start=1):
        run_dir = directory / "runs" / record["key"]
        started = time.perf_counter()
        echo(f"landmark {n}/{len(todo)}: {record['encoding']} alone for {epochs} epochs")
        result = train_architecture(config, record["key"], run_dir, resume=(run_dir / ARCH_NAME).is_file(),
                                    monitor=False, export=False, echo=lambda _line: None)
        if not result.get("finished"):
            raise ConfigError(f"landmark {record['key']} stopped early; rerun `oneshot landmarks train {directory}`")
        record["accuracy"] = f"{held_out_accuracy(result):.4f}"
        _write_csv(path, records)  # each measured accuracy is kept, whatever happens next
        echo(f"  held-out accuracy {float(record['accuracy']):.2f}% ({time.perf_counter() - started:.0f} s)")
    return records
