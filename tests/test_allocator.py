"""The allocator pin used by latency timing, searches and Ray evaluator workers."""
from __future__ import annotations

import json
import platform

import pytest

from oneshot.allocator import ENV, pin_allocator, pin_unless_opted_out

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt pinning is glibc-only")
def test_pin_succeeds_on_glibc_and_env_opts_out(monkeypatch):
    assert pin_allocator() is True
    monkeypatch.delenv(ENV, raising=False)
    assert pin_unless_opted_out() == "pinned"
    monkeypatch.setenv(ENV, "default")
    assert pin_unless_opted_out() == "default"


def test_search_records_the_allocator(tmp_path, monkeypatch):
    from oneshot.evaluation import EvaluatorSpec
    from oneshot.search import SearchConfig, SearchRun

    monkeypatch.setenv(ENV, "default")
    out = tmp_path / "s"
    SearchRun(SearchConfig(EvaluatorSpec("nas-bench-macro"), str(out), strategy="random", budget=5,
                           progress=False)).run()
    assert json.loads((out / "search.json").read_text())["allocator"] == "default"


def test_old_glibc_refusing_a_large_threshold_gets_the_largest_it_accepts(monkeypatch):
    import ctypes

    from oneshot import allocator

    calls = []

    class FakeLibc:
        @staticmethod
        def mallopt(param, value):
            calls.append((param, value))
            return 0 if (param, value) == allocator.MALLOPT["M_MMAP_THRESHOLD"] else 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc)
    assert pin_allocator() is True
    assert (-3, allocator.OLD_GLIBC_MMAP_THRESHOLD) in calls


def test_training_pins_the_allocator_unless_opted_out(tmp_path, monkeypatch):
    from oneshot import allocator
    from oneshot.training import TrainConfig, train_supernet

    modes = []
    real = allocator.pin_unless_opted_out
    monkeypatch.setattr(allocator, "pin_unless_opted_out", lambda: modes.append(real()) or modes[-1])
    monkeypatch.setenv(ENV, "default")
    config = TrainConfig(space="tiny", data="digits", epochs=1, eval_paths=0, bn_calib_images=0, progress=False)
    train_supernet(config, tmp_path / "run", stop_after=1, echo=lambda s: None)
    assert modes == ["default"]
