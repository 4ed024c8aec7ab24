"""Exports of a finished (or interrupted) search: pareto.csv, best.json, pareto.png.

All derived from ``history.csv`` alone, so they can be rewritten at any time (``write_outputs``).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from oneshot.atomic import atomic_savefig, atomic_write_json, atomic_write_text
from oneshot.costs.budgets import Constraint
from oneshot.spaces.core import SearchSpace

from .history import Row, header
from .objectives import Objective
from .front import front_and_hv, objective_matrix


def sorted_front(front: Sequence[Row], objectives: Sequence[Objective]) -> list[Row]:
    """Front rows best-first by the first objective, ties broken by the following ones, then key."""
    F = objective_matrix(front, objectives)
    order = np.lexsort(tuple(F[:, j] for j in reversed(range(F.shape[1]))))
    return [front[i] for i in order]


def row_record(space: SearchSpace, row: Row, metric_names: Sequence[str]) -> dict[str, Any]:
    return {"key": row.key, "encoding": space.encoding_key(row.arch), "arch": list(row.arch),
            "readable": space.format(row.arch), "eval_index": row.eval_index, "generation": row.generation,
            "metrics": {m: row.metrics[m] for m in metric_names if m in row.metrics}}


def smoothed_view(space: SearchSpace, rows: Sequence[Row], objectives: Sequence[Objective],
                  metric_names: Sequence[str], ranges, smoothed: Sequence[str], smoother: str = "additive",
                  landmarks: tuple[Any, Any] | None = None):
    """Rows with a ``METRIC_smoothed`` column per metric in ``smoothed`` (the additive fit to every
    evaluated architecture's score) and the objectives, names and ranges that rank by it; the rows
    themselves are not changed (history.csv keeps the raw scores). Also returns each fit's description.

    ``landmarks`` (architectures, measured accuracies): the fit's layers are reweighted by the
    landmarks' depth trend (``oneshot.search.landmarks``) before it ranks anything."""
    from dataclasses import replace

    from .smoothing import SMOOTHERS

    smoother_fn = SMOOTHERS.get(smoother)
    directions = {o.metric: o.direction for o in objectives}

    def fitted(metric: str, archs, scores):
        if landmarks is None:
            return smoother_fn(space, archs, scores)
        from .landmarks import depth_corrected

        return depth_corrected(space, archs, scores, directions[metric] == "max", *landmarks)

    ok = [r for r in rows if not r.error]
    view = {id(r): replace(r, metrics=dict(r.metrics)) for r in ok}
    fits: dict[str, Any] = {}
    for metric in smoothed:
        scores = [r.metrics.get(metric, float("nan")) for r in ok]
        values, fits[metric] = fitted(metric, [r.arch for r in ok], scores)
        for r, v in zip(ok, values):
            view[id(r)].metrics[f"{metric}_smoothed"] = float(v)
    new_rows = [view.get(id(r), r) for r in rows]
    new_objectives = [Objective(f"{o.metric}_smoothed", o.direction) if o.metric in smoothed else o
                      for o in objectives]
    new_ranges = [None if o.metric in smoothed else r for o, r in zip(objectives, ranges)]
    return new_rows, new_objectives, [*metric_names, *(f"{m}_smoothed" for m in smoothed)], new_ranges, fits


def write_outputs(out: str | os.PathLike, space: SearchSpace, rows: Sequence[Row], objectives: Sequence[Objective],
                  constraints: Sequence[Constraint], metric_names: Sequence[str], ranges,
                  smoothed: Sequence[str] = (), smoother: str = "additive",
                  landmarks: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Write pareto.csv, best.json and pareto.png; return the summary for search.json.

    ``smoothed``: objective metrics ranked by ``smoother``'s fit (``smoothed_view``) instead of raw,
    corrected by ``landmarks`` when given."""
    out = Path(out)
    fits: dict[str, Any] = {}
    if smoothed:
        rows, objectives, metric_names, ranges, fits = smoothed_view(space, rows, objectives, metric_names,
                                                                     ranges, smoothed, smoother, landmarks)
    front, hv = front_and_hv(rows, objectives, ranges)
    front = sorted_front(front, objectives) if front else []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["rank", *header(space, metric_names)]
    w.writerow(cols)
    for rank, r in enumerate(front):
        labels = [d.choices[i] for d, i in zip(space.dimensions, r.arch)]
        w.writerow([rank, r.eval_index, r.key, space.encoding_key(r.arch), r.generation, *labels,
                    *[repr(r.metrics[m]) if m in r.metrics else "" for m in metric_names],
                    int(r.feasible), f"{r.seconds:.6f}", r.error])
    atomic_write_text(out / "pareto.csv", buf.getvalue(), newline="")
    best = front[0] if front else None
    best_json = {"objectives": [str(o) for o in objectives], "constraints": [str(c) for c in constraints],
                 "best": row_record(space, best, metric_names) if best else None,
                 "note": "best = the feasible architecture best on the first objective (ties: next objectives)"}
    atomic_write_json(out / "best.json", best_json)
    rejected = read_rejected(out / "rejected.csv")
    plot_front(out / "pareto.png", rows, front, objectives, constraints, rejected)
    return {"evaluations": len(rows), "failed": sum(1 for r in rows if r.error),
            "rejected_over_budget": len(rejected), "front_size": len(front),
            "hypervolume": hv, "hypervolume_reference": "objectives normalised to [0, 1] (accuracy by 0-100, "
            "costs by the space's exact min/max, other metrics by the observed range); reference point 1",
            "best": best_json["best"],
            "smoothing": ({"method": smoother + (" + landmark depth trend" if landmarks is not None else ""), **{m: fit if fit else "too few evaluations: raw scores"
                                                  for m, fit in fits.items()}} if smoothed else "none")}


def read_rejected(path: Path) -> dict[str, dict[str, float]]:
    """Over-budget candidates (never evaluated) by key, with their costs; {} when there were none."""
    if not path.exists():
        return {}
    out: dict[str, dict[str, float]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            try:
                out[rec["key"]] = {k: float(v) for k, v in rec.items() if k not in ("key", "generation")}
            except (TypeError, ValueError):
                continue  # a torn last line after a kill
    return out


def plot_front(path: Path, rows: Sequence[Row], front: Sequence[Row], objectives: Sequence[Objective],
               constraints: Sequence[Constraint], rejected: dict[str, dict[str, float]] | None = None) -> None:
    """Scatter of the first two objectives (or objective vs. MACs when there is one): dominated points,
    infeasible/failed ones, over-budget candidates (priced, never evaluated: drawn as a rug along the
    bottom at their cost), the front as a step line, and budget lines on the plotted axes."""
    # a bare Figure (no pyplot): no GUI backend or global figure state, and half the import time,
    # which is most of a tabular search's start-up
    from matplotlib.figure import Figure

    if len(objectives) >= 2:
        xm, ym = objectives[1].metric, objectives[0].metric
    else:
        ym = objectives[0].metric
        xm = "macs" if any("macs" in r.metrics for r in rows) else ym
    scale = {"macs": 1e6, "params": 1e6}
    unit = {"macs": " (M)", "params": " (M)"}

    def xy(rs):
        pts = [(r.metrics[xm] / scale.get(xm, 1), r.metrics[ym] / scale.get(ym, 1)) for r in rs
               if xm in r.metrics and ym in r.metrics]
        return np.asarray(pts, dtype=np.float64).reshape(-1, 2)

    front_keys = {r.key for r in front}
    feasible = [r for r in rows if r.feasible and not r.error and r.key not in front_keys]
    infeasible = [r for r in rows if not r.feasible and not r.error]
    failed = [r for r in rows if r.error and xm in r.metrics]
    fig = Figure(figsize=(7, 5), dpi=120)
    ax = fig.subplots()
    p = xy(feasible)
    ax.scatter(p[:, 0], p[:, 1], s=10, c="0.7", label=f"dominated ({len(p)})")
    p = xy(infeasible)
    if len(p):
        ax.scatter(p[:, 0], p[:, 1], s=14, marker="x", c="tab:orange", label=f"infeasible ({len(p)})")
    if failed:
        xs = [r.metrics[xm] / scale.get(xm, 1) for r in failed]
        ax.scatter(xs, [ax.get_ylim()[0]] * len(xs), s=14, marker="|", c="tab:red", label=f"failed ({len(xs)})")
    rej = [v[xm] / scale.get(xm, 1) for v in (rejected or {}).values() if xm in v]
    if rej:
        y0 = ax.get_ylim()[0]
        ax.scatter(rej, [y0] * len(rej), s=14, marker="x", c="tab:red", alpha=0.5,
                   label=f"over budget, not evaluated ({len(rej)})")
    p = xy(front)
    if len(p):
        order = np.argsort(p[:, 0])
        ax.step(p[order, 0], p[order, 1], where="post" if objectives[0].direction == "max" else "pre",
                c="tab:blue", lw=1)
        ax.scatter(p[:, 0], p[:, 1], s=22, c="tab:blue", label=f"Pareto front ({len(p)})", zorder=3)
    for c in constraints:
        if c.metric == xm:
            ax.axvline(c.value / scale.get(xm, 1), ls="--", c="tab:red", lw=1, label=f"budget {c}")
        elif c.metric == ym:
            ax.axhline(c.value / scale.get(ym, 1), ls="--", c="tab:red", lw=1, label=f"budget {c}")
    ax.set_xlabel(xm + unit.get(xm, ""))
    ax.set_ylabel(ym + unit.get(ym, ""))
    ax.set_title(f"{len(rows)} evaluations, {len(front)} on the front")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    atomic_savefig(fig, path)
