"""Tabular evaluator over NAS-Bench-Macro: ground-truth accuracies in microseconds.

Every one of the 3^8 = 6,561 encodings of the ``nas-bench-macro`` space has a record (mean top-1 of
three CIFAR-10 trainings, its std, params and FLOPs), so strategies are benchmarked against ground
truth in seconds. Reads the packaged copy of the benchmark (Apache-2.0, see ``oneshot/data``).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from oneshot.errors import ConfigError
from oneshot.spaces.core import Architecture

from oneshot.registry import Registry

from .base import EvaluationResult, evaluate_one

#: tabular benchmarks (``--benchmark NAME``): each name is also an evaluator kind of ``EVALUATORS``
BENCHMARKS: Registry[type] = Registry("benchmarks", "tabular benchmark")

PACKAGED = Path(__file__).resolve().parent.parent / "data" / "nas-bench-macro_cifar10.json"


def load_nas_bench_macro(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The benchmark as ``{8-digit encoding: record}``; checks it covers all 6,561 encodings."""
    path = Path(path) if path else PACKAGED
    if not path.is_file():
        raise ConfigError(f"NAS-Bench-Macro file {path} does not exist; omit the path to use the packaged copy")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"NAS-Bench-Macro file {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or len(data) != 3 ** 8 or not all("mean_acc" in v for v in data.values()):
        raise ConfigError(f"{path} is not NAS-Bench-Macro: expected 6561 records with 'mean_acc'")
    return data


class NASBenchMacroEvaluator:
    """Looks up ``mean_acc`` (as ``accuracy``, %) and its std for each architecture.

    ``delay_s`` sleeps per architecture, to imitate a slow evaluator in tests and demos (e.g. to
    kill a search mid-run, or to exercise a worker pool); the scores never change.
    """

    metric_names = ("accuracy", "accuracy_std")

    def __init__(self, path: str | None = None, delay_s: float = 0.0):
        from oneshot.spaces import create_space

        self.space = create_space("nas-bench-macro")
        self.path = str(path) if path else None
        self.delay_s = float(delay_s)
        self._table = load_nas_bench_macro(path)

    def describe(self) -> dict[str, Any]:
        """Provenance for search.json."""
        return {"kind": "nas-bench-macro", "file": str(self.path or PACKAGED), "metric": "mean_acc (3 seeds)"}

    def evaluate(self, archs: Sequence[Architecture]) -> list[EvaluationResult]:
        return [evaluate_one(self.space, arch, self._score) for arch in archs]

    def _score(self, arch: Architecture, key: str) -> dict[str, float]:
        record = self._table[self.space.encoding_key(arch)]
        if self.delay_s:
            time.sleep(self.delay_s)
        return {"accuracy": float(record["mean_acc"]), "accuracy_std": float(record["std"])}

    def close(self) -> None:
        pass


BENCHMARKS.register("nas-bench-macro", NASBenchMacroEvaluator,
                    "NAS-Bench-Macro (CIFAR-10, 6,561 encodings of the nas-bench-macro space, mean of 3 seeds)")
