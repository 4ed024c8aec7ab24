"""The allocator pin used by latency timing, searches and Ray evaluator workers."""
from __future__ import annotations

import json
import platform

import pytest

from oneshot.allocator import ENV, pin_allocator, pin_for_evaluation

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt pinning is glibc-only")
def test_pin_succeeds_on_glibc_and_env_opts_out(monkeypatch):
    assert pin_allocator() is True
    monkeypatch.delenv(ENV, raising=False)
    assert pin_for_evaluation() == "pinned"
    monkeypatch.setenv(ENV, "default")
    assert pin_for_evaluation() == "default"


def test_search_records_the_allocator(tmp_path, monkeypatch):
    from oneshot.evaluation import EvaluatorSpec
    from oneshot.search import SearchConfig, SearchRun

    monkeypatch.setenv(ENV, "default")
    out = tmp_path / "s"
    SearchRun(SearchConfig(EvaluatorSpec("nas-bench-macro"), str(out), strategy="random", budget=5,
                           progress=False)).run()
    assert json.loads((out / "search.json").read_text())["allocator"] == "default"
