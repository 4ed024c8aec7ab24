"""The ``oneshot eval-ranking`` experiment: frozen-supernet scores vs ground truth on the same architectures.

1. ``n`` architectures stratified over MACs (``sampling.stratified_by_cost``), from the supernet's space.
2. Each is scored by the frozen supernet once per BN policy asked for (the search's evaluator).
3. Each gets a ground-truth accuracy: a short stand-alone training (``standalone`` evaluator, on Ray
   workers when ``workers > 1``) or a tabular benchmark (``nas-bench-macro``).
4. Kendall tau, Spearman rho and top-k precision of every proxy against the truth, with the MACs-only
   and params-only proxies as the baseline a supernet has to beat.

Ground-truth results are appended to ``truth.jsonl`` as each arrives, so an interrupted run resumes
without retraining anything; the report (``ranking.json``, ``ranking.csv``, ``ranking.png``) is
written atomically at the end.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from oneshot.atomic import atomic_savefig, atomic_write_text
from oneshot.evaluation.bn_policies import BN_POLICIES, DEFAULT_BN_POLICY, DEFAULT_CALIB_IMAGES
from oneshot.evaluation.tabular import BENCHMARKS
from oneshot.ranking.metrics import ranking_summary
from oneshot.ranking.sampling import stratified_by_cost

#: MACs budgets where a user decides (30M / 45M / 60M on NAS-Bench-Macro: low, mid and high budgets of its 7.7M-106M range)
DEFAULT_BUDGETS = {"nas-bench-macro": (30e6, 45e6, 60e6)}


@dataclass
class RankingConfig:
    """Everything that determines an eval-ranking run (saved in ``ranking.json``)."""

    supernet: str
    out: str
    n: int = 30
    bn_policies: tuple[str, ...] = (DEFAULT_BN_POLICY,)
    benchmark: str | None = None           # None: stand-alone training gives the truth
    #: options of the benchmark's evaluator (a benchmark file: path, space, column mapping)
    benchmark_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    workers: int = 1
    ray_address: str | None = None
    calib_images: int = DEFAULT_CALIB_IMAGES
    val_images: int | None = None
    device: str = "cpu"
    standalone: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides of stand-alone training
    truth_cache: str | None = None          # JSONL of ground-truth results (default OUT/truth.jsonl); shareable
    top_k: tuple[int, ...] = (5, 10)
    progress: bool = True
    budgets_macs: tuple[float, ...] | None = None  # decision regret under these MACs budgets (None: per benchmark)
    score_cache_mb: float | None = None     # prefix cache of the scoring engine (None: from free memory)
    score_train_images: int = 0             # also score on this many training images (ranking sample)
    score_test: bool = False                # also score supernets on the data's test split (held out)

    def validate(self) -> "RankingConfig":
        from oneshot.errors import ConfigError

        if self.n < 3:
            raise ConfigError(f"--n must be >= 3 to measure a ranking, got {self.n}")
        if self.benchmark == "table":
            if "accuracy" not in self.benchmark_options.get("metrics", {}):
                raise ConfigError("eval-ranking --benchmark PATH ranks against accuracy: map it with "
                                  "--metric accuracy=COLUMN")
        elif self.benchmark is not None:
            BENCHMARKS.check(self.benchmark, "--benchmark")
        for policy in self.bn_policies:
            BN_POLICIES.check(policy, "--bn-policy")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if not self.bn_policies:
            raise ConfigError("give at least one --bn-policy")
        return self


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)


def _score(evaluator: Any, archs: Sequence[Any], desc: str, enabled: bool,
           on_result: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """key -> EvaluationResult, streaming (Ray pools yield in completion order)."""
    from oneshot.evaluation.base import stream_results

    out: dict[str, Any] = {}
    with _progress(len(archs), desc, enabled) as bar:
        for res in stream_results(evaluator, list(archs)):
            out[res.key] = res
            if on_result is not None:
                on_result(res)
            bar.update(1)
    return out


def _truth_spec(cfg: RankingConfig, space: Any, meta: dict[str, Any], workdir: Path):
    """The ground-truth evaluator's spec: a tabular benchmark or short stand-alone training."""
    from oneshot.errors import ConfigError
    from oneshot.evaluation.base import EvaluatorSpec

    if cfg.benchmark:
        spec = EvaluatorSpec(cfg.benchmark, dict(cfg.benchmark_options))
        bench_space = spec.create().space
        if bench_space.fingerprint() != space.fingerprint():
            raise ConfigError(f"--benchmark {cfg.benchmark} covers space {bench_space.name!r} "
                              f"{bench_space.options}, but the supernet is of {space.name!r} {space.options}; "
                              f"train a {cfg.benchmark} supernet or drop --benchmark to train stand-alone")
        return spec
    from oneshot.standalone import standalone_spec

    return standalone_spec(space, meta.get("data") or {}, cfg.standalone, base_config=meta.get("config"),
                           workdir=str(workdir.resolve()))


def _truth_label(cfg: RankingConfig) -> str:
    if cfg.benchmark == "table":
        return f"{Path(cfg.benchmark_options.get('path', 'benchmark')).name} accuracy"
    return "NAS-Bench-Macro accuracy (%)"


def _truth_id(spec: Any) -> str:
    """Fingerprint of how the truth is made (recipe, data, space): cached results of another recipe are not reused."""
    import hashlib

    options = {k: v for k, v in spec.options.items() if k != "workdir"}
    blob = json.dumps({"kind": spec.kind, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _truth_evaluator(cfg: RankingConfig, spec: Any):
    """Build the truth evaluator in-process, or as a Ray pool for stand-alone training with workers."""
    if spec.kind == "standalone" and (cfg.workers > 1 or cfg.ray_address):
        from oneshot.evaluation.ray_pool import RayEvaluatorPool

        threads = max(1, (os.cpu_count() or 1) // cfg.workers)
        spec.options["threads"] = threads
        # one training per actor at a time; a short recipe can still take minutes on a CPU
        return RayEvaluatorPool(spec, cfg.workers, cfg.ray_address, threads_per_worker=threads,
                                batch_size=1, timeout_s=None)
    return spec.create()


def _read_jsonl(path: Path, truth_id: str) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a crash: that architecture is redone
                continue
            if rec.get("metrics") and rec.get("truth_id") == truth_id:
                done[rec["key"]] = rec
    return done


def run_ranking(cfg: RankingConfig) -> dict[str, Any]:
    """Run the whole experiment; returns (and writes) the report dict."""
    import torch

    from oneshot.checkpoint import load_checkpoint
    from oneshot.provenance import file_sha256
    from oneshot.costs.counting import flops_params_table
    from oneshot.spaces.core import space_from_json

    cfg.validate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = load_checkpoint(cfg.supernet)
    space = space_from_json(meta["space"])
    table = flops_params_table(space)
    archs = stratified_by_cost(space, cfg.n, np.random.default_rng(cfg.seed), table=table)
    keys = [space.key(a) for a in archs]
    costs = table.price(np.asarray(archs))
    truth, truth_spec, truth_id = _ground_truth(cfg, space, meta, archs, keys, out)
    supernet_scores = _supernet_scores(cfg, archs)
    supernet_scores.update(_smoothed_scores(space, archs, keys, supernet_scores))
    rows = []
    for i, (arch, key) in enumerate(zip(archs, keys)):
        rec = truth.get(key)
        row = {"key": key, "arch": list(map(int, arch)), "macs": float(costs["macs"][i]),
               "params": float(costs["params"][i]),
               "truth": float(rec["metrics"]["accuracy"]) if rec else float("nan")}
        if rec and "test_accuracy" in rec["metrics"]:
            row["truth_test"] = float(rec["metrics"]["test_accuracy"])
        for policy, scores in supernet_scores.items():
            row[f"supernet_{policy}"] = scores.get(key, float("nan"))
        rows.append(row)
    proxies = [f"supernet_{p}" for p in supernet_scores] + ["macs", "params"]
    summary, summary_test = _summaries(cfg, rows, proxies)
    report = {
        "supernet": str(cfg.supernet), "supernet_sha256": file_sha256(cfg.supernet),
        "space": space.to_json(), "truth": cfg.benchmark or "standalone", "truth_id": truth_id,
        "truth_recipe": {k: v for k, v in truth_spec.options.items() if k != "workdir"},
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "supernet_training": meta.get("config"), "data": meta.get("data"),
        "summary": summary, "summary_vs_test": summary_test, "architectures": rows,
        "versions": {"torch": torch.__version__, **(meta.get("versions") or {})},
    }
    _write_report(out, report, rows, proxies, summary, cfg)
    return report


def _ground_truth(cfg: RankingConfig, space: Any, meta: dict[str, Any], archs: Sequence[Any], keys: Sequence[str],
                  out: Path) -> tuple[dict[str, Any], Any, str]:
    """key -> truth record, the truth evaluator's spec and its fingerprint. A table's truth is instant;
    stand-alone training is the long part: appended to truth.jsonl as it finishes (resumable)."""
    truth_log = Path(cfg.truth_cache) if cfg.truth_cache else out / "truth.jsonl"
    truth_log.parent.mkdir(parents=True, exist_ok=True)
    spec = _truth_spec(cfg, space, meta, truth_log.parent / "standalone")
    truth_id = _truth_id(spec)
    truth = _read_jsonl(truth_log, truth_id)
    todo = [a for a, k in zip(archs, keys) if k not in truth]
    if not todo:
        return truth, spec, truth_id
    evaluator = _truth_evaluator(cfg, spec)
    try:
        with open(truth_log, "a") as fh:
            def record(res: Any) -> None:
                rec = {"key": res.key, "arch": list(map(int, res.arch)), "metrics": res.metrics,
                       "seconds": res.seconds, "error": res.error, "truth_id": truth_id}
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                if res.ok:
                    truth[res.key] = rec

            _score(evaluator, todo, "ground truth" if cfg.benchmark else "stand-alone training", cfg.progress, record)
    finally:
        evaluator.close()
    return truth, spec, truth_id


def _supernet_scores(cfg: RankingConfig, archs: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Per BN policy two proxies: ``POLICY`` (validation accuracy) and ``POLICY_loss`` (minus the loss)."""
    from oneshot.evaluation.base import supernet_spec

    scores: dict[str, dict[str, float]] = {}
    for policy in cfg.bn_policies:
        spec = supernet_spec(cfg.supernet, bn_policy=policy, calib_images=cfg.calib_images,
                             val_images=cfg.val_images, device=cfg.device, seed=cfg.seed,
                             score_cache_mb=cfg.score_cache_mb, score_train_images=cfg.score_train_images,
                             score_test=cfg.score_test or None)
        evaluator = spec.create()
        try:
            results = _score(evaluator, archs, f"supernet ({policy})", cfg.progress)
        finally:
            evaluator.close()
        scores[policy] = {k: r.metrics.get("accuracy", float("nan")) for k, r in results.items() if r.ok}
        # the loss is a continuous score (no ties at 466 images): lower loss ranks higher
        scores[f"{policy}_loss"] = {k: -r.metrics.get("loss", float("nan")) for k, r in results.items() if r.ok}
    return scores


def _smoothed_scores(space: Any, archs: Sequence[Any], keys: Sequence[str],
                     scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """``POLICY_loss_smoothed``: each policy's loss score replaced by the additive fit to all of the
    ranked architectures' loss scores (what a search ranks its front by; ``oneshot.search.smoothing``)."""
    from oneshot.search.smoothing import smooth

    out = {}
    for name in [n for n in scores if n.endswith("_loss")]:
        values = np.array([scores[name].get(k, float("nan")) for k in keys])
        smoothed, fit = smooth(space, archs, values)
        if fit is not None:
            out[f"{name}_smoothed"] = {k: float(v) for k, v, raw in zip(keys, smoothed, values) if np.isfinite(raw)}
    return out


def _summaries(cfg: RankingConfig, rows: list[dict[str, Any]], proxies: Sequence[str]):
    """Every proxy against the truth; with stand-alone truth also against its test accuracy."""
    budgets = cfg.budgets_macs if cfg.budgets_macs is not None else DEFAULT_BUDGETS.get(cfg.benchmark or "", ())
    summary = {}
    for proxy in proxies:
        ok = [r for r in rows if np.isfinite(r[proxy]) and np.isfinite(r["truth"])]
        summary[proxy] = (_proxy_summary(ok, proxy, cfg.top_k, budgets)
                          if len(ok) >= 3 else {"n": len(ok), "error": "fewer than 3 architectures scored"})
    summary_test: dict[str, Any] = {}
    if any("truth_test" in r for r in rows):
        # the stand-alone test accuracy is a second, larger-sample truth: how a proxy ranks against it,
        # and how well the stand-alone validation ranking itself agrees with it (the noise ceiling)
        ok = [r for r in rows if "truth_test" in r and np.isfinite(r["truth"])]
        summary["standalone_val_vs_test"] = ranking_summary([r["truth"] for r in ok],
                                                            [r["truth_test"] for r in ok], cfg.top_k)
        for proxy in proxies:
            good = [r for r in ok if np.isfinite(r[proxy])]
            if len(good) >= 3:
                summary_test[proxy] = ranking_summary([r[proxy] for r in good], [r["truth_test"] for r in good],
                                                      cfg.top_k)
    return summary, summary_test


def _write_report(out: Path, report: dict[str, Any], rows: list[dict[str, Any]], proxies: Sequence[str],
                  summary: dict[str, Any], cfg: RankingConfig) -> None:
    atomic_write_text(out / "ranking.json", json.dumps(report, indent=2, default=str))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[c for c in rows[0] if c != "arch"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "ranking.csv", buf.getvalue())
    scatter_plot(rows, proxies, summary, out / "ranking.png",
                 truth_label=_truth_label(cfg) if cfg.benchmark else "stand-alone val accuracy (%)")


def _proxy_summary(rows: list[dict[str, Any]], proxy: str, top_k: Sequence[int],
                   budgets: Sequence[float]) -> dict[str, Any]:
    """tau, rho, top-k, tau within MACs quintiles and, per MACs budget, the regret of trusting the proxy:
    true accuracy of the best ranked architecture that fits minus the truly best ranked one that fits."""
    from oneshot.ranking.metrics import pick_under_budget, within_cost_quantiles

    p = [r[proxy] for r in rows]
    t = [r["truth"] for r in rows]
    out: dict[str, Any] = ranking_summary(p, t, top_k)
    if len(rows) >= 10:
        out["tau_in_macs_quintiles"] = within_cost_quantiles(p, t, [r["macs"] for r in rows], 5)
    macs = [r["macs"] for r in rows]
    regret = {}
    for b in budgets:
        i, best = pick_under_budget(p, macs, b), pick_under_budget(t, macs, b)
        if i is not None:
            regret[f"{b / 1e6:g}M"] = float(t[best] - t[i])
    if regret:
        out["regret_within_ranked"] = regret
    return out


def scatter_plot(rows: list[dict[str, Any]], proxies: Sequence[str], summary: dict[str, Any], path: Path,
                 truth_label: str = "ground-truth accuracy (%)") -> Path:
    """One panel per proxy: proxy score (y) against ground truth (x), tau in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(proxies), figsize=(3.6 * len(proxies), 3.4), squeeze=False)
    truth = np.array([r["truth"] for r in rows])
    for ax, proxy in zip(axes[0], proxies):
        y = np.array([r[proxy] for r in rows])
        if proxy in ("macs", "params"):
            y = y / 1e6
        ax.scatter(truth, y, s=14, alpha=0.8)
        tau = summary.get(proxy, {}).get("kendall_tau", float("nan"))
        ax.set_title(f"{proxy}: tau = {tau:.2f}", fontsize=9)
        ax.set_xlabel(truth_label, fontsize=8)
        ax.set_ylabel({"macs": "MACs (M)", "params": "params (M)"}.get(proxy, "supernet accuracy (%)"), fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        atomic_savefig(fig, path, dpi=110)
    finally:
        plt.close(fig)
    return path
