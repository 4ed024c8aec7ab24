"""``RayEvaluatorPool``: long-lived Ray actors that score architectures, with fault tolerance we own.

Each actor rebuilds its evaluator once from a picklable ``EvaluatorSpec`` (for a supernet: loads the
checkpoint from its path and prepares its calibration/validation tensors once), then receives small
batches of architectures. Nothing heavy travels through the object store: architectures go out as
tuples of ints and metrics come back as small dicts.

Fault tolerance is explicit here rather than left to ``ray.util.ActorPool`` or actor restarts:

- every evaluation has a deadline (``timeout_s`` per architecture of a batch); an actor that misses
  it is killed and replaced, and its architectures are retried;
- a dead actor (process killed, node lost) is replaced, its architectures are retried;
- an architecture whose evaluation raised, timed out or killed its worker is retried at most
  ``max_retries`` times, alone in its batch (so a poisonous architecture cannot take innocent batch
  mates down with it); after that it comes back as ``EvaluationResult(error=...)``, never an exception;
- results are keyed by the space's canonical key: duplicates within a call are evaluated once,
  results already computed by this pool are reused, and a late or repeated answer is ignored, so a
  retry is idempotent.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator, Sequence

from oneshot.errors import ConfigError, OneshotError
from oneshot.evaluation import base
from oneshot.evaluation.base import EvaluationResult, EvaluatorSpec
from oneshot.spaces.core import Architecture, SearchSpace

#: (key, metrics, seconds, error, retryable): what an actor sends back per architecture
Packed = tuple[str, dict[str, float], float, "str | None", bool]


class _PoolWorker:
    """Body of one Ray actor: owns one evaluator for its whole life."""

    def __init__(self, kind: str, target: str, options: dict[str, Any], threads: int):
        # Thread caps first: torch and BLAS read these when they are first imported.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
        from oneshot.allocator import pin_unless_opted_out

        self.allocator = pin_unless_opted_out()  # a dedicated process: keep activation buffers mapped
        base.register_evaluator(kind, target)  # the driver's registration may live in a module
        self.evaluator = EvaluatorSpec(kind, options).create()  # this process never imported
        if "torch" in sys.modules:
            import torch

            torch.set_num_threads(threads)

    def describe(self) -> dict[str, Any]:
        import ray

        ev = self.evaluator
        describe = getattr(ev, "describe", None)
        return {"space": ev.space, "metric_names": tuple(ev.metric_names), "pid": os.getpid(),
                "node": ray.util.get_node_ip_address(), "allocator": self.allocator,
                "info": describe() if describe else {}}

    def _one(self, arch: Architecture) -> Packed:
        start = time.perf_counter()
        key = self.evaluator.space.key(arch)
        try:
            (res,) = self.evaluator.evaluate([arch])
        except Exception as exc:  # noqa: BLE001 - any failure is one failed attempt, reported back
            return key, {}, time.perf_counter() - start, f"{type(exc).__name__}: {exc}", True
        return key, _plain(res.metrics), float(res.seconds), res.error, False

    def evaluate(self, archs: list[tuple[int, ...]]) -> list[Packed]:
        archs = [Architecture(a) for a in archs]
        if len(archs) == 1:
            return [self._one(archs[0])]
        try:
            results = self.evaluator.evaluate(archs)
        except Exception:  # noqa: BLE001 - find out which architecture it was, one at a time
            return [self._one(a) for a in archs]
        space = self.evaluator.space
        return [(space.key(r.arch), _plain(r.metrics), float(r.seconds), r.error, False) for r in results]


def _plain(metrics: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in metrics.items()}


@dataclass(eq=False)  # identity, not field equality: two records are never the same actor
class _Worker:
    """Driver-side record of one actor."""

    actor: Any
    ready_ref: Any | None  # set while the actor is starting
    started: float
    pid: int | None = None
    node: str | None = None
    task: Any | None = None  # the in-flight ObjectRef, if any


@dataclass
class _Task:
    worker: _Worker
    keys: list[str]
    deadline: float


@dataclass
class _CallState:
    """Bookkeeping of one ``evaluate_stream`` call."""

    archs: dict[str, Architecture]
    todo: deque = field(default_factory=deque)
    attempts: dict[str, int] = field(default_factory=dict)
    solo: set = field(default_factory=set)
    done: set = field(default_factory=set)


class RayEvaluatorPool:
    """An Evaluator backed by ``workers`` Ray actors, each rebuilt from ``spec``.

    ``ray_address``: ``"auto"`` / ``"HOST:PORT"`` joins a cluster (``$RAY_ADDRESS`` is honoured when
    None); otherwise a quiet local Ray is started and ``close()`` shuts it down. When Ray is already
    initialised in this process (a test fixture, a Tune trial) it is used and left running.
    ``timeout_s`` bounds one evaluation (a batch of n gets n times as long; None = no limit);
    ``start_timeout_s`` bounds an actor's start (loading a supernet, waiting for cluster resources).
    """

    def __init__(self, spec: EvaluatorSpec, workers: int, ray_address: str | None = None,
                 cpus_per_worker: float = 1, gpus_per_worker: float = 0, threads_per_worker: int = 1,
                 batch_size: int = 4, timeout_s: float | None = 600.0, max_retries: int = 2,
                 start_timeout_s: float = 300.0):
        _check_options(spec, workers, cpus_per_worker, gpus_per_worker, threads_per_worker,
                       batch_size, timeout_s, max_retries, start_timeout_s)
        import ray

        from oneshot.distributed.runtime import connect_ray, ray_resources

        self.spec = spec
        self.workers = int(workers)
        self.batch_size = int(batch_size)
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.max_retries = int(max_retries)
        self.start_timeout_s = float(start_timeout_s)
        self.threads_per_worker = int(threads_per_worker)
        self._target = base.EVALUATORS.target_path(spec.kind)  # re-registered in every worker
        self._closed = False
        self._cache: dict[str, EvaluationResult] = {}
        self._pool: list[_Worker] = []
        self._start_failures = 0
        #: counters for logs and tests: how often the pool had to step in
        self.stats = {"evaluated": 0, "retried": 0, "failed": 0, "timeouts": 0, "worker_deaths": 0,
                      "replacements": 0, "cache_hits": 0}
        self._owns_ray = connect_ray(ray_address, num_cpus=workers * cpus_per_worker)
        try:
            total = ray_resources()
            if gpus_per_worker > total.get("GPU", 0.0):
                raise ConfigError(
                    f"gpus_per_worker={gpus_per_worker} but the Ray cluster has "
                    f"{total.get('GPU', 0.0):g} GPU(s); use --gpus-per-worker 0 or join a cluster with GPUs")
            need = workers * cpus_per_worker
            if need > total.get("CPU", 0.0):
                # an autoscaling cluster may still grow, so this is a warning; start_timeout_s bounds the wait
                warnings.warn(f"{workers} workers x {cpus_per_worker:g} CPUs = {need:g} CPUs but the Ray cluster "
                              f"has {total.get('CPU', 0.0):g}; the workers that do not fit wait for resources "
                              f"(up to start_timeout_s={start_timeout_s:g} s)", RuntimeWarning, stacklevel=2)
            self._actor_cls = ray.remote(_PoolWorker).options(
                num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0,
                max_task_retries=0, scheduling_strategy="SPREAD")
            self._pool = [self._spawn() for _ in range(self.workers)]
            info = self._wait_started(self._pool)
            self.space: SearchSpace = info["space"]
            self.metric_names: tuple[str, ...] = info["metric_names"]
            self._evaluator_info = info.get("info", {})
            self._worker_allocator = info.get("allocator")
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ actors
    def _spawn(self) -> _Worker:
        actor = self._actor_cls.remote(self.spec.kind, self._target, dict(self.spec.options),
                                       self.threads_per_worker)
        return _Worker(actor, actor.describe.remote(), time.monotonic())

    def _wait_started(self, workers: list[_Worker]) -> dict[str, Any]:
        """Block until every actor has built its evaluator; errors here are configuration errors."""
        import ray

        info: dict[str, Any] = {}
        deadline = time.monotonic() + self.start_timeout_s
        for w in workers:
            remaining = max(0.0, deadline - time.monotonic())
            ready, _ = ray.wait([w.ready_ref], timeout=remaining)
            if not ready:
                raise ConfigError(
                    f"evaluator workers did not start within {self.start_timeout_s:g} s; the cluster "
                    f"may lack the resources asked for (check `ray status`) or the evaluator is slow "
                    f"to load (raise start_timeout_s)")
            try:
                info = ray.get(w.ready_ref)
            except Exception as exc:  # noqa: BLE001
                raise ConfigError(f"evaluator {self.spec.kind!r} failed to start in a Ray worker: "
                                  f"{_root_cause(exc)}") from exc
            w.ready_ref, w.pid, w.node = None, info["pid"], info["node"]
        return info

    def _replace(self, worker: _Worker) -> None:
        import ray

        try:
            ray.kill(worker.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - it may already be gone
            pass
        if worker in self._pool:  # not yet replaced by an earlier failure
            self._pool[self._pool.index(worker)] = self._spawn()
            self.stats["replacements"] += 1

    # ------------------------------------------------------------ protocol
    def evaluate(self, archs: Sequence[Sequence[int]]) -> list[EvaluationResult]:
        """Score ``archs``; one result per input, in input order (duplicates share one evaluation)."""
        archs = [self.space.validate(a) for a in archs]
        by_key = {r.key: r for r in self.evaluate_stream(archs)}
        return [replace(by_key[self.space.key(a)], arch=a) for a in archs]

    def evaluate_stream(self, archs: Iterable[Sequence[int]]) -> Iterator[EvaluationResult]:
        """Yield one result per distinct canonical architecture of ``archs`` as it completes.

        Failures never raise: an architecture that exhausts its retries is yielded with ``error``.
        Closing the generator early waits for the evaluations in flight and keeps their results.
        """
        if self._closed:
            raise OneshotError("this RayEvaluatorPool is closed; create a new one")
        state = _CallState({})
        for a in archs:
            a = self.space.validate(a)
            state.archs.setdefault(self.space.key(a), a)
        for key, arch in state.archs.items():
            if key in self._cache:
                self.stats["cache_hits"] += 1
                state.done.add(key)
                yield replace(self._cache[key], arch=arch)
            else:
                state.todo.append(key)
        inflight: dict[Any, _Task] = {}
        try:
            while state.todo or inflight:
                self._dispatch(state, inflight)
                yield from self._collect(state, inflight)
        except GeneratorExit:  # the caller stopped reading: keep what is already being computed
            if inflight:
                self._drain(state, inflight)
            raise
        except BaseException:  # Ctrl-C or a failure: never make the user wait for evaluations
            self._abandon(inflight)
            raise

    def describe(self) -> dict[str, Any]:
        """Provenance for ``search.json``: where the evaluations run (pids of the current actors)."""
        import ray

        return {"pool": "ray", "workers": self.workers, "batch_size": self.batch_size,
                "threads_per_worker": self.threads_per_worker, "timeout_s": self.timeout_s,
                "max_retries": self.max_retries, "evaluator": self.spec.to_json(),
                "evaluator_info": self._evaluator_info, "worker_allocator": self._worker_allocator,
                "ray_version": ray.__version__, "local_ray": self._owns_ray,
                "worker_pids": [w.pid for w in self._pool if w.pid is not None],
                "worker_nodes": sorted({w.node for w in self._pool if w.node}),
                "stats": dict(self.stats)}

    def close(self) -> None:
        """Stop the actors, and Ray itself when this pool started it. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            import ray

            if ray.is_initialized():
                for w in self._pool:
                    try:
                        ray.kill(w.actor, no_restart=True)
                    except Exception:  # noqa: BLE001
                        pass
                if self._owns_ray:
                    from oneshot.distributed.runtime import shutdown_ray

                    shutdown_ray()
        finally:
            self._pool = []

    def __enter__(self) -> "RayEvaluatorPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ scheduling
    def _dispatch(self, state: _CallState, inflight: dict[Any, _Task]) -> None:
        idle = [w for w in self._pool if w.ready_ref is None and w.task is None]
        for i, w in enumerate(idle):
            if not state.todo:
                return
            # spread a short tail over the idle actors instead of giving it all to the first one
            share = math.ceil(len(state.todo) / (len(idle) - i))
            batch = [state.todo.popleft()]
            if batch[0] not in state.solo:
                while (state.todo and len(batch) < min(self.batch_size, share)
                       and state.todo[0] not in state.solo):
                    batch.append(state.todo.popleft())
            ref = w.actor.evaluate.remote([tuple(state.archs[k]) for k in batch])
            limit = math.inf if self.timeout_s is None else self.timeout_s * len(batch)
            w.task = ref
            inflight[ref] = _Task(w, batch, time.monotonic() + limit)

    def _collect(self, state: _CallState, inflight: dict[Any, _Task]) -> Iterator[EvaluationResult]:
        """Wait for the next completion (a batch, an actor start, a deadline) and handle it."""
        import ray

        starting = {w.ready_ref: w for w in self._pool if w.ready_ref is not None}
        refs = list(inflight) + list(starting)
        if not refs:
            raise OneshotError("internal error: work left but no evaluator worker running or starting")
        now = time.monotonic()
        deadlines = [t.deadline for t in inflight.values()]
        deadlines += [w.started + self.start_timeout_s for w in starting.values()]
        wait_s = min(1.0, max(0.0, min(deadlines) - now))
        done, _ = ray.wait(refs, num_returns=1, timeout=wait_s)
        for ref in done:
            if ref in starting:
                self._started(starting[ref])
            else:
                yield from self._finished(state, inflight.pop(ref), ref)
        now = time.monotonic()
        for ref, task in list(inflight.items()):
            if now > task.deadline:
                del inflight[ref]
                self.stats["timeouts"] += 1
                limit = self.timeout_s * len(task.keys)
                self._replace(task.worker)  # the only way to stop a hung evaluation
                yield from self._failed_attempt(state, task.keys, f"timed out after {limit:g} s")
        for w in list(self._pool):
            if w.ready_ref is not None and now > w.started + self.start_timeout_s:
                self._start_failed(w, f"did not start within {self.start_timeout_s:g} s")

    def _started(self, worker: _Worker) -> None:
        import ray

        try:
            info = ray.get(worker.ready_ref)
            worker.pid, worker.node, worker.ready_ref = info["pid"], info["node"], None
        except Exception as exc:  # noqa: BLE001
            self._start_failed(worker, _root_cause(exc))

    def _start_failed(self, worker: _Worker, why: str) -> None:
        # A replacement that cannot start is not a per-architecture problem: retry a few times,
        # then stop with the cause rather than spin forever.
        self._start_failures += 1
        if self._start_failures > 2 * self.workers + 2:
            raise OneshotError(f"replacement evaluator workers keep failing to start: {why}")
        self._replace(worker)

    def _finished(self, state: _CallState, task: _Task, ref: Any) -> Iterator[EvaluationResult]:
        import ray
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

        task.worker.task = None
        try:
            packed: list[Packed] = ray.get(ref)
        except (RayActorError, ActorDiedError, ActorUnavailableError) as exc:
            self.stats["worker_deaths"] += 1
            self._replace(task.worker)
            why = f"evaluator worker (pid {task.worker.pid}) died: {_root_cause(exc)}"
            yield from self._failed_attempt(state, task.keys, why)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be deserialised
            yield from self._failed_attempt(state, task.keys, _root_cause(exc))
            return
        for key, metrics, seconds, error, retryable in packed:
            if key not in state.archs or key in state.done:
                continue  # a late or repeated answer: the result is already out
            if retryable:
                yield from self._failed_attempt(state, [key], error or "unknown error")
            else:
                yield self._final(state, key, EvaluationResult(state.archs[key], key, metrics, seconds, error))
        # an evaluator that silently dropped an architecture: count it as a failed attempt
        returned = {p[0] for p in packed}
        lost = [k for k in task.keys if k not in returned and k not in state.done]
        if lost:
            yield from self._failed_attempt(state, lost, "the evaluator returned no result for it")

    def _failed_attempt(self, state: _CallState, keys: list[str], why: str) -> Iterator[EvaluationResult]:
        for key in keys:
            if key in state.done:
                continue
            n = state.attempts.get(key, 0) + 1
            state.attempts[key] = n
            if n <= self.max_retries:
                self.stats["retried"] += 1
                state.solo.add(key)
                state.todo.appendleft(key)  # retry soon, alone in its batch
            else:
                error = f"failed after {n} attempt{'s' if n > 1 else ''}: {why}"
                yield self._final(state, key, EvaluationResult(state.archs[key], key, {}, 0.0, error))

    def _final(self, state: _CallState, key: str, result: EvaluationResult) -> EvaluationResult:
        state.done.add(key)
        if result.ok:
            self._cache[key] = result
            self.stats["evaluated"] += 1
        else:
            self.stats["failed"] += 1
        return result

    def _abandon(self, inflight: dict[Any, _Task]) -> None:
        """Stop the actors that are busy (replacing them keeps the pool usable) without waiting."""
        for task in list(inflight.values()):
            try:
                self._replace(task.worker)
            except Exception:  # noqa: BLE001 - on the way out of an interrupt, best effort
                pass
        inflight.clear()

    def _drain(self, state: _CallState, inflight: dict[Any, _Task]) -> None:
        """The caller stopped early: keep what is in flight (cached for the next call), within the
        deadlines, and replace actors that do not finish in time, so the pool stays usable."""
        while inflight:
            try:
                for _ in self._collect(state, inflight):
                    pass
            except Exception:  # noqa: BLE001 - best effort on the way out
                break
        state.todo.clear()


def _root_cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc.__cause__
    text = str(cause if cause is not None else exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def _check_options(spec: EvaluatorSpec, workers: int, cpus: float, gpus: float, threads: int,
                   batch_size: int, timeout_s: float | None, max_retries: int, start_timeout_s: float) -> None:
    if not isinstance(spec, EvaluatorSpec):
        raise ConfigError(f"RayEvaluatorPool needs an EvaluatorSpec (a picklable recipe), got "
                          f"{type(spec).__name__}; never pass an evaluator or a supernet object")
    base.EVALUATORS.check(spec.kind)
    checks = [(isinstance(workers, int) and workers >= 1, f"workers must be an integer >= 1, got {workers!r}"),
              (cpus >= 0, f"cpus_per_worker must be >= 0, got {cpus!r}"),
              (gpus >= 0, f"gpus_per_worker must be >= 0, got {gpus!r}"),
              (isinstance(threads, int) and threads >= 1, f"threads_per_worker must be an integer >= 1, got {threads!r}"),
              (isinstance(batch_size, int) and batch_size >= 1, f"batch_size must be an integer >= 1, got {batch_size!r}"),
              (timeout_s is None or timeout_s > 0, f"timeout_s must be > 0 seconds or None, got {timeout_s!r}"),
              (isinstance(max_retries, int) and max_retries >= 0, f"max_retries must be an integer >= 0, got {max_retries!r}"),
              (start_timeout_s > 0, f"start_timeout_s must be > 0, got {start_timeout_s!r}")]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
