"""The measurement protocol shared by ``lut profile`` and ``lut validate`` (same protocol, comparable numbers).

Protocol: eval mode, ``torch.inference_mode``, BN folded into the preceding conv by default (what a
deployed model runs), a stated number of intra-op threads, a warm-up of every module first, then
*interleaved rounds*: each round visits every module in a shuffled order and times ``per_round``
consecutive calls after one untimed call. A noise burst on a shared machine therefore hits all modules a
little instead of a few modules a lot. End-to-end times are summarised by the median over all rounds;
per-operator table entries by the *mean* (``summarise``), because a network's time is a sum of its
operators' times and the mean of a sum is the sum of the means, while per-operator timings are
right-skewed (occasional slow calls) and a sum of medians under-predicts the median network by 5-10 %. CPU times use ``time.perf_counter`` or the thread's
CPU time (below); CUDA times use
CUDA events around each call with a device synchronisation, so queued kernels are not mistaken for done.
On CPU with one thread the default clock is the thread's own CPU time (``time.thread_time``): on a
shared machine other processes preempting ours inflate wall-clock times of long calls far more than
short ones (measured here: a 34 ms network read 92 ms by wall clock under load, 36 ms by thread
time), which would bias a sum of short per-operator times against one long end-to-end time.

The memory allocator is pinned by default (``allocator="pinned"``, glibc only): large activation
buffers stay in the process heap instead of going back to the kernel. With glibc's adaptive defaults,
whether a 1-10 MB activation is mmapped (and page-faulted in again on every call) or reused from
the heap depends on the process's allocation history; measured here that moved whole-network times
by up to 20 % between processes and made networks differ from the sum of their operators by -11 to
+10 %. Pinned (a long-running inference process's steady state), the same validation gave 1.8 %
median error instead of 6.8 %.
"""
from __future__ import annotations

import contextlib
import gc
import platform
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from oneshot.allocator import pin_allocator

#: ``auto`` | ``wall`` (perf_counter) | ``thread-cpu`` (time.thread_time: immune to other processes
#: preempting ours on a shared machine; exact for single-threaded CPU inference, where CPU time and
#: latency coincide on a quiet machine)
TIMERS = ("auto", "wall", "thread-cpu")
#: ``pinned``: glibc keeps large buffers in the heap (see the module docstring); ``default``: as is
ALLOCATORS = ("pinned", "default")


@dataclass(frozen=True)
class Protocol:
    """How every module is timed (recorded in the table's provenance)."""

    device: str = "cpu"
    threads: int = 1
    batch: int = 1
    warmup: int = 10
    repeats: int = 50
    per_round: int = 1
    rewarm: bool = False
    fold_bn: bool = True
    timer: str = "auto"
    allocator: str = "pinned"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device {self.device!r} is not supported; use 'cpu' or 'cuda[:N]'")
        for name in ("threads", "batch", "repeats", "per_round"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.timer not in TIMERS:
            raise ValueError(f"timer {self.timer!r} is not one of {', '.join(TIMERS)}")
        if self.allocator not in ALLOCATORS:
            raise ValueError(f"allocator {self.allocator!r} is not one of {', '.join(ALLOCATORS)}")
        if self.resolved_timer == "thread-cpu" and (self.threads != 1 or self.device != "cpu"):
            raise ValueError("timer 'thread-cpu' counts only the calling thread's CPU time: it needs "
                             "--device cpu --threads 1; use --timer wall otherwise")

    @property
    def resolved_timer(self) -> str:
        """``auto``: the calling thread's CPU time for 1-thread CPU runs, else wall clock (CUDA: events)."""
        if self.device.startswith("cuda"):
            return "cuda-events"
        if self.timer == "auto":
            return "thread-cpu" if self.threads == 1 else "wall"
        return self.timer

    @property
    def rounds(self) -> int:
        return -(-self.repeats // self.per_round)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["statistic"] = "per-operator mean of in-context samples; end-to-end median over interleaved rounds"
        data["clock"] = {"thread-cpu": "time.thread_time (CPU time of the calling thread)",
                         "wall": "time.perf_counter (wall clock)",
                         "cuda-events": "CUDA events + synchronize"}[self.resolved_timer]
        return data


def device_name(device: str) -> str:
    """Human name of the timing device (CPU model or CUDA device name)."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def setup_torch(protocol: Protocol) -> None:
    """Apply the thread count (intra-op; inter-op once, before any parallel work) and pin the
    allocator when the protocol says so (a warning where that is not possible)."""
    import torch

    if protocol.allocator == "pinned" and not pin_allocator():
        import warnings

        warnings.warn("could not pin the memory allocator (not glibc): times may depend on the process's "
                      "allocation history; pass --allocator default to record that", stacklevel=2)

    torch.set_num_threads(protocol.threads)
    if protocol.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {protocol.device!r} requested but CUDA is not available here; use --device cpu")


def fold_batchnorm(module: Any) -> Any:
    """Fold every (Conv2d, BatchNorm2d) pair inside ``nn.Sequential`` containers, in eval mode.

    The building blocks always put BN right after its conv in a Sequential, so this finds every pair.
    Returns the same module (modified in place).
    """
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    module.eval()
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
                seq[i + 1] = nn.Identity()
    return module


def prepare(module: Any, protocol: Protocol) -> Any:
    """Eval mode, BN folded when the protocol says so, moved to the timing device."""
    module.eval()
    if protocol.fold_bn:
        fold_batchnorm(module)
    return module.to(protocol.device)


def clock(protocol: Protocol) -> Callable[[], float]:
    """The CPU clock (seconds) the protocol times with (CUDA uses events instead)."""
    return time.thread_time if protocol.resolved_timer == "thread-cpu" else time.perf_counter


def call_timer(protocol: Protocol) -> Callable[[Callable[[], Any]], float]:
    """A function that times one call (ms) by the protocol's clock (CUDA: events + synchronise)."""
    time_calls = _timer(protocol)
    return lambda call: time_calls(call, 1)[0]


def _timer(protocol: Protocol) -> Callable[[Callable[[], Any], int], list[float]]:
    import torch

    device = protocol.device
    now = clock(protocol)
    if device.startswith("cuda"):
        def time_calls(call: Callable[[], Any], n: int) -> list[float]:
            out = []
            for _ in range(n):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda.synchronize(device)
                start.record()
                call()
                end.record()
                torch.cuda.synchronize(device)
                out.append(float(start.elapsed_time(end)))
            return out
    else:
        def time_calls(call: Callable[[], Any], n: int) -> list[float]:
            out = []
            for _ in range(n):
                t0 = now()
                call()
                out.append((now() - t0) * 1e3)
            return out
    return time_calls


def measure_interleaved(calls: dict[str, Callable[[], Any]], protocol: Protocol,
                        done: dict[str, list[float]] | None = None,
                        on_round: Callable[[dict[str, list[float]]], None] | None = None,
                        progress: Callable[[int], None] | None = None) -> dict[str, list[float]]:
    """Time every call by the protocol; returns key -> all timed samples (ms).

    ``done`` holds samples from an interrupted run: keys already at ``repeats`` samples are not timed
    again and the others continue from where they stopped. ``on_round`` is called with all samples
    after each round (the caller saves them atomically); ``progress`` gets the number of samples added.
    """
    import torch

    samples = {k: list(v) for k, v in (done or {}).items()}
    todo = [k for k in calls if len(samples.get(k, [])) < protocol.repeats]
    time_calls = _timer(protocol)
    rng = np.random.default_rng(protocol.seed)
    with torch.inference_mode(), gc_paused():
        for key in todo:  # warm-up: allocator, kernel selection, caches
            for _ in range(protocol.warmup):
                calls[key]()
        if protocol.device.startswith("cuda"):
            torch.cuda.synchronize(protocol.device)
        while todo:
            for i in rng.permutation(len(todo)):
                key = todo[i]
                if protocol.rewarm:
                    calls[key]()  # one untimed call after switching modules (hot-cache timing)
                n = min(protocol.per_round, protocol.repeats - len(samples.get(key, [])))
                samples.setdefault(key, []).extend(time_calls(calls[key], n))
                if progress is not None:
                    progress(n)
            todo = [k for k in todo if len(samples[k]) < protocol.repeats]
            if on_round is not None:
                on_round(samples)
    return samples


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Collect once, then keep Python's garbage collector off while timing (as ``timeit`` does):
    a collection inside a timed call charges that call for objects it did not create."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def summarise(values: Sequence[float]) -> dict[str, float]:
    """A table entry's value ``ms`` (the mean: sums of means predict networks, see the module
    docstring) plus median, std, p10, p90 and count of timed samples (ms)."""
    arr = np.asarray(values, dtype=np.float64)
    return {"ms": float(arr.mean()), "median": float(np.median(arr)), "mean": float(arr.mean()), "std": float(arr.std()),
            "p10": float(np.percentile(arr, 10)), "p90": float(np.percentile(arr, 90)), "count": int(arr.size)}


def environment(protocol: Protocol) -> dict[str, Any]:
    """Device name, versions and thread count for provenance."""
    import torch

    return {"device": protocol.device, "device_name": device_name(protocol.device),
            "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "platform": platform.platform(), "cpu_count": _cpu_count()}


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def unique(seq: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(seq))
