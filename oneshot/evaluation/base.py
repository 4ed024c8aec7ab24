"""The evaluator contract shared by the in-process evaluators, the Ray pool and the search loop.

An evaluator scores architectures; everything it needs to be rebuilt in another process (a Ray
actor) is a small picklable ``EvaluatorSpec`` (a registered kind plus plain keyword options such as
a checkpoint *path*), never the supernet itself: each worker loads the supernet once from disk.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, Sequence

from oneshot.registry import Registry
from oneshot.spaces.core import Architecture, SearchSpace


@dataclass
class EvaluationResult:
    """Outcome of scoring one architecture.

    ``metrics`` holds finite floats (e.g. ``accuracy`` in %, ``loss``); ``error`` is set instead when
    the evaluation failed for good, so a search records the failure and goes on.
    """

    arch: Architecture
    key: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Evaluator(Protocol):
    """Anything with a space, the metric names it produces, and ``evaluate``."""

    space: SearchSpace
    metric_names: tuple[str, ...]

    def evaluate(self, archs: Sequence[Architecture]) -> list[EvaluationResult]:
        """Score ``archs`` (results in the same order); must not raise for one bad architecture."""
        ...

    def close(self) -> None:
        ...


def evaluate_one(space: SearchSpace, arch: Sequence[int],
                 score: Callable[[Architecture, str], dict[str, float]]) -> EvaluationResult:
    """Validate ``arch``, key it and ``score(arch, key)`` it, timed. Any exception becomes the
    result's ``error`` instead: one bad architecture must not stop a search."""
    start = time.perf_counter()
    try:
        arch = space.validate(arch)
        key = space.key(arch)
        return EvaluationResult(arch, key, score(arch, key), time.perf_counter() - start)
    except Exception as exc:
        return EvaluationResult(Architecture(arch), "", {}, time.perf_counter() - start,
                                error=f"{type(exc).__name__}: {exc}")


def stream_results(evaluator: Evaluator, archs: Sequence[Architecture]) -> Iterator[EvaluationResult]:
    """Yield results as they complete (any order) when the evaluator can stream (the Ray pool
    implements ``evaluate_stream``), else one architecture at a time, so a caller can append each
    result to its history the moment it exists and a crash loses at most the evaluations in flight."""
    stream = getattr(evaluator, "evaluate_stream", None)
    if stream is not None:
        yield from stream(archs)
        return
    for arch in archs:
        yield from evaluator.evaluate([arch])


#: kind -> evaluator class or factory; called with the spec's options as keyword arguments.
#: Built-in kinds are lazy "module:attribute" targets, so a spec stays cheap to build and to send.
EVALUATORS: Registry[Callable[..., Evaluator]] = Registry("evaluators", "evaluator")
EVALUATORS.register("supernet", "oneshot.evaluation.supernet_evaluator:SupernetEvaluator",
                    "a frozen supernet: BN recalibrated by a policy, accuracy and loss on its validation split")
EVALUATORS.register("nas-bench-macro", "oneshot.evaluation.tabular:NASBenchMacroEvaluator",
                    "NAS-Bench-Macro ground truth (mean test accuracy of 3 CIFAR-10 trainings)")
EVALUATORS.register("table", "oneshot.evaluation.table_file:TableEvaluator",
                    "a user's benchmark file (CSV/JSON) with a column mapping: `--benchmark PATH --metric ...`")
EVALUATORS.register("standalone", "oneshot.standalone:StandaloneEvaluator",
                    "train each architecture from scratch (the `train-arch` recipe), validation + test accuracy")
EVALUATORS.register("synthetic", "oneshot.evaluation.testing:SyntheticEvaluator",
                    "a deterministic synthetic score with optional delays and failures (tests, demos)")


def register_evaluator(kind: str, target: str | Callable[..., Evaluator], description: str = "") -> None:
    """Register evaluator ``kind``: a class/factory or ``"package.module:attribute"``."""
    EVALUATORS.register(kind, target, description)


@dataclass(frozen=True)
class EvaluatorSpec:
    """A picklable recipe for an evaluator: ``kind`` plus JSON-able options (paths, sizes, seeds)."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def cost_lookup(self) -> dict[str, dict[str, float]]:
        """``{cost metric: {key: value}}`` the evaluator kind prices per architecture (a benchmark
        file's cost columns), read in the driver so a search prices and bounds by it; {} if none."""
        lookup = getattr(EVALUATORS.get(self.kind), "cost_lookup", None)
        return lookup(**self.options) if callable(lookup) else {}

    def scores_are_estimates(self) -> bool:
        """Whether the kind's scores are noisy estimates (a supernet's) rather than measured truth (a
        benchmark table's): a search smooths only estimates."""
        return bool(getattr(EVALUATORS.get(self.kind), "scores_are_estimates", False))

    def create(self) -> Evaluator:
        return EVALUATORS.get(self.kind)(**self.options)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "options": dict(self.options)}


def supernet_spec(checkpoint: str, **options: Any) -> EvaluatorSpec:
    """The ``supernet`` evaluator's spec for ``checkpoint`` (made absolute, so Ray workers find it from
    any directory). Options left at None are not passed: their defaults live in one place, the
    evaluator's signature."""
    from pathlib import Path

    return EvaluatorSpec("supernet", {"checkpoint": str(Path(checkpoint).resolve()),
                                      **{k: v for k, v in options.items() if v is not None}})
