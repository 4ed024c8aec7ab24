"""``SyntheticEvaluator``: a deterministic, configurable test double for evaluator pools.

It is part of the library (registered as kind ``"synthetic"``) because pools, fault-tolerance tests
and the Ray scaling benchmark need an evaluator whose cost and failures can be dialled in:

- metrics are a pure function of the canonical architecture key (the same in every process), or,
  with ``forward_batch > 0``, come from a real forward pass of a seeded tiny supernet on a fixed
  seeded batch (a realistic, CPU-bound evaluation whose cost contends for cores honestly);
- ``sleep_s`` adds idle time per evaluation; ``spin_iters`` adds a fixed amount of pure-Python work;
- ``slow`` (key -> seconds) makes chosen architectures sleep, e.g. longer than a pool's timeout;
- ``fail`` (key -> n) raises for the first ``n`` attempts at an architecture, ``crash`` (key -> n)
  kills its own process with ``os._exit`` for the first ``n`` attempts. Attempts are counted in
  ``marker_dir`` (one file per attempt, created atomically) so the count survives the crash and is
  shared by every actor of a pool; without ``marker_dir`` they are counted in this process only.

Nothing here is random at run time: the same options give the same metrics everywhere.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Sequence

from oneshot.evaluation.base import EvaluationResult
from oneshot.spaces.core import Architecture, SearchSpace
from oneshot.spaces.registry import create_space


class SyntheticError(RuntimeError):
    """The failure ``SyntheticEvaluator`` raises on purpose (see ``fail``)."""


class SyntheticEvaluator:
    """Deterministic evaluator over a registered space; see the module docstring for the knobs."""

    metric_names: tuple[str, ...] = ("accuracy", "loss")

    def __init__(self, space: str = "tiny", space_options: dict[str, Any] | None = None,
                 sleep_s: float = 0.0, spin_iters: int = 0, forward_batch: int = 0, seed: int = 0,
                 slow: dict[str, float] | None = None, fail: dict[str, int] | None = None,
                 crash: dict[str, int] | None = None, marker_dir: str | None = None,
                 report_cpu: bool = False):
        if sleep_s < 0 or spin_iters < 0 or forward_batch < 0:
            raise ValueError(f"sleep_s, spin_iters and forward_batch must be >= 0, got "
                             f"{sleep_s}, {spin_iters}, {forward_batch}")
        self.space: SearchSpace = create_space(space, **(space_options or {}))
        self.sleep_s = float(sleep_s)
        self.spin_iters = int(spin_iters)
        self.seed = int(seed)
        self.slow = {str(k): float(v) for k, v in (slow or {}).items()}
        self.fail = {str(k): int(v) for k, v in (fail or {}).items()}
        self.crash = {str(k): int(v) for k, v in (crash or {}).items()}
        self.marker_dir = Path(marker_dir) if marker_dir else None
        # benchmarks: also report the CPU seconds each evaluation got, which separates a pool's
        # overhead from cores taken by other processes on a shared machine
        self.report_cpu = bool(report_cpu)
        if self.report_cpu:
            self.metric_names = (*type(self).metric_names, "cpu_s")
        if self.marker_dir is not None:
            self.marker_dir.mkdir(parents=True, exist_ok=True)
        self._local_attempts: dict[str, int] = {}
        self._net = self._inputs = None
        if forward_batch:
            self._build_network(forward_batch)

    # ------------------------------------------------------------------ setup
    def _build_network(self, batch: int) -> None:
        import torch

        from oneshot.supernet import Supernet

        # Supernet's init draws from torch's global RNG: fork it so we neither depend on nor
        # disturb the caller's random state, and every process builds identical weights.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._net = Supernet(self.space).eval()
        gen = torch.Generator().manual_seed(self.seed + 1)
        res = self.space.resolution
        self._inputs = torch.randn(batch, 3, res, res, generator=gen)
        self._labels = torch.randint(0, self.space.num_classes, (batch,), generator=gen)

    # ------------------------------------------------------------ attempts
    def _attempt(self, key: str) -> int:
        """Record one more attempt at ``key`` and return its number (1 = first)."""
        if self.marker_dir is None:
            self._local_attempts[key] = self._local_attempts.get(key, 0) + 1
            return self._local_attempts[key]
        n = 1
        while True:  # O_EXCL makes the claim atomic across processes
            try:
                fd = os.open(self.marker_dir / f"{key}.{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                n += 1
                continue
            os.close(fd)
            return n

    # ------------------------------------------------------------ metrics
    def _metrics(self, arch: Architecture, key: str) -> dict[str, float]:
        if self._net is not None:
            import torch
            import torch.nn.functional as F

            with torch.no_grad():
                logits = self._net(self._inputs, arch)
                loss = F.cross_entropy(logits, self._labels).item()
                acc = (logits.argmax(1) == self._labels).float().mean().item() * 100.0
            return {"accuracy": float(acc), "loss": float(loss)}
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        return {"accuracy": round(50.0 + 50.0 * u, 6), "loss": round(2.0 * (1.0 - u), 6)}

    def _spin(self) -> None:
        acc = 0
        for i in range(self.spin_iters):
            acc = (acc * 1103515245 + i) & 0xFFFFFFFF
        self._spin_sink = acc

    def evaluate_one(self, arch: Sequence[int]) -> EvaluationResult:
        """Score one architecture (raises ``SyntheticError`` or exits, as configured)."""
        start, cpu_start = time.perf_counter(), time.thread_time()
        arch = self.space.validate(arch)
        key = self.space.key(arch)
        attempt = self._attempt(key) if (key in self.fail or key in self.crash) else 1
        if attempt <= self.crash.get(key, 0):
            os._exit(17)  # simulate a worker process dying (OOM kill, segfault, lost node)
        if attempt <= self.fail.get(key, 0):
            raise SyntheticError(f"synthetic failure {attempt} of {self.fail[key]} for {key}")
        delay = self.sleep_s + self.slow.get(key, 0.0)
        if delay:
            time.sleep(delay)
        if self.spin_iters:
            self._spin()
        metrics = self._metrics(arch, key)
        if self.report_cpu:
            metrics["cpu_s"] = time.thread_time() - cpu_start
        return EvaluationResult(arch, key, metrics, time.perf_counter() - start)

    def evaluate(self, archs: Sequence[Sequence[int]]) -> list[EvaluationResult]:
        """Score ``archs`` in order. Configured failures raise, so a pool sees them as attempts."""
        return [self.evaluate_one(a) for a in archs]

    def close(self) -> None:
        self._net = self._inputs = None

