"""``oneshot lut validate``: measure real networks end-to-end and report how well the table predicts them.

N random architectures (seeded, distinct canonical keys) are built as standalone networks and timed
with the same protocol as the profile (threads, batch, BN folding, interleaved rounds, median). The
report gives the median and P90 absolute relative error, the worst case, Spearman's rank correlation,
and a fitted per-device correction: an additive constant (the median residual, robust to outliers)
and optionally a least-squares scale. The correction is stored in the table (applied only when asked:
``cost_model(..., apply_correction=True)`` / ``--apply-correction``), the report as JSON and a
predicted-vs-measured scatter PNG next to the table.

When the table was profiled here it names a reference network (``profile.reference_architecture``)
and its time then. That network is timed again among the validated ones; the ratio now / then is
the machine's *speed drift* since profiling (CPU frequency, neighbours on a shared host, cache
regime), and the report adds the errors after dividing it out, next to the raw ones. Raw errors say
how well the table predicts this machine now; drift-normalised errors say how good the table is.
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

import numpy as np

from oneshot.atomic import atomic_savefig, atomic_write_json
from oneshot.spaces.layout import LayeredSpace

from .pricing import latency_table
from .profile import REFERENCE, build_timed, space_reference
from .table import LatencyTable, load_table
from .timing import Protocol, environment, measure_interleaved, setup_torch


def protocol_from_table(table: LatencyTable, **overrides: Any) -> Protocol:
    """The table's own protocol (so validation measures the way the table was measured)."""
    saved = dict(table.provenance.get("protocol", {}))
    fields = {k: saved[k] for k in Protocol.__dataclass_fields__ if k in saved}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return Protocol(**fields)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=np.float64)
        for v in np.unique(x):  # average ties
            tie = x == v
            if tie.sum() > 1:
                r[tie] = r[tie].mean()
        return r

    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def error_stats(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    rel = np.abs(predicted - measured) / measured
    return {"median_abs_rel_error": float(np.median(rel)), "p90_abs_rel_error": float(np.percentile(rel, 90)),
            "max_abs_rel_error": float(rel.max()), "mean_signed_rel_error": float(np.mean((predicted - measured) / measured))}


def fit_correction(predicted: np.ndarray, measured: np.ndarray, fit_scale: bool) -> dict[str, float]:
    """measured ~ scale * predicted + offset_ms (scale = 1 unless ``fit_scale``)."""
    if fit_scale and len(predicted) >= 3 and np.ptp(predicted) > 0:
        scale, offset = np.polyfit(predicted, measured, 1)
        return {"scale": float(scale), "offset_ms": float(offset)}
    return {"scale": 1.0, "offset_ms": float(np.median(measured - predicted))}


def report_paths(lut_path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(lut_path)
    stem = p.name[:-5] if p.name.endswith(".json") else p.name
    return p.with_name(stem + ".validate.json"), p.with_name(stem + ".validate.png")


def validate_table(space: LayeredSpace, lut_path: str | os.PathLike, n: int = 30, seed: int = 0,
                   protocol: Protocol | None = None, fit_scale: bool = False, save_correction: bool = True,
                   plot: bool = True, progress: bool = True) -> dict[str, Any]:
    """Measure ``n`` random architectures and compare with the table; write report (+ PNG) next to it."""
    import torch

    lut = load_table(lut_path)
    protocol = protocol or protocol_from_table(lut)
    setup_torch(protocol)
    prices = latency_table(space, lut)  # raises LUTError if the table does not cover the space
    rng = np.random.default_rng(seed)
    archs, keys = [], set()
    for _ in range(50 * n):  # distinct networks only (small spaces have few)
        arch = space.sample(rng)
        if space.key(arch) not in keys:
            keys.add(space.key(arch))
            archs.append(arch)
        if len(archs) == n:
            break
    matrix = np.asarray(archs, dtype=np.int64)
    predicted = prices.price(matrix)["latency_ms"]

    gen = torch.Generator().manual_seed(protocol.seed)
    x = torch.randn((protocol.batch, 3, space.resolution, space.resolution), generator=gen).to(protocol.device)
    nets = {space.key(a): build_timed(space, a, protocol) for a in archs}
    reference = space_reference(lut, space)
    if reference is not None:
        nets[REFERENCE] = build_timed(space, reference["arch"], protocol)
    calls = {k: (lambda m=m: m(x)) for k, m in nets.items()}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(calls) * protocol.repeats, desc=f"validate {space.name}", unit="run", leave=False)
    try:
        samples = measure_interleaved(calls, protocol, progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    measured = np.array([np.median(samples[space.key(a)]) for a in archs])
    drift = None
    if reference is not None:
        now_ms = float(np.median(samples[REFERENCE]))
        drift = {"reference_ms_at_profile": float(reference["ms"]), "reference_ms_now": now_ms,
                 "speed_ratio": now_ms / float(reference["ms"])}

    correction = fit_correction(predicted, measured, fit_scale)
    corrected = correction["scale"] * predicted + correction["offset_ms"]
    report = {
        "space": {"name": space.name, "options": dict(space.options), "fingerprint": space.fingerprint()},
        "table": {"path": Path(lut_path).name, "sha256": lut.digest(), "provenance": lut.provenance},
        "protocol": protocol.to_json(), "environment": environment(protocol),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "n": len(archs), "seed": seed,
        "raw": error_stats(predicted, measured), "spearman": spearman(predicted, measured),
        "correction": correction, "corrected": error_stats(corrected, measured),
        "drift": drift,
        "drift_normalised": error_stats(predicted, measured / drift["speed_ratio"]) if drift else None,
        "architectures": [{"key": space.key(a), "arch": [int(v) for v in a], "predicted_ms": float(p),
                           "measured_ms": float(m)} for a, p, m in zip(archs, predicted, measured)],
    }
    json_path, png_path = report_paths(lut_path)
    if plot:
        scatter_plot(predicted, measured, corrected, png_path, f"{space.name} @ {space.resolution}px, "
                     f"{protocol.device}, {protocol.threads} thread(s), batch {protocol.batch}",
                     measured / drift["speed_ratio"] if drift else None)
        report["plot"] = png_path.name
    atomic_write_json(json_path, report, end="\n", mode=0o644, parents=True)
    if save_correction:
        lut.correction = {**correction, "fitted_on": json_path.name, "n": len(archs)}
        lut.save(lut_path)
    return report


def scatter_plot(predicted: np.ndarray, measured: np.ndarray, corrected: np.ndarray, path: Path, title: str,
                 normalised: np.ndarray | None = None) -> None:
    """Predicted (raw and corrected) vs measured (and drift-normalised measured), with y = x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    shown = [predicted, measured, corrected] + ([normalised] if normalised is not None else [])
    lo = float(min(a.min() for a in shown)) * 0.95
    hi = float(max(a.max() for a in shown)) * 1.05
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = x")
    ax.scatter(measured, predicted, s=16, label="table (raw)")
    if normalised is not None:
        ax.scatter(normalised, predicted, s=16, marker="^", facecolors="none", edgecolors="C2",
                   label="table vs drift-normalised measurement")
    if not np.allclose(corrected, predicted):
        ax.scatter(measured, corrected, s=16, marker="x", label="table + correction")
    ax.set_xlabel("measured end-to-end (ms)")
    ax.set_ylabel("predicted by the table (ms)")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        atomic_savefig(fig, path)
    finally:
        plt.close(fig)
