"""RayEvaluatorPool: same answers as in-process, and the fault tolerance we own (crash, timeout,
retries, duplicates). One local Ray (2 CPUs) is shared by the whole module to keep start-up cheap."""
from __future__ import annotations

import json

import numpy as np
import pytest

from oneshot.errors import ConfigError
from oneshot.evaluation.base import EvaluatorSpec
from oneshot.evaluation.testing import SyntheticEvaluator
from oneshot.spaces import create_space

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from oneshot.distributed.runtime import connect_ray

    owned = connect_ray(None, num_cpus=2)
    yield ray
    if owned:
        ray.shutdown()


@pytest.fixture(scope="module")
def space():
    return create_space("tiny")


def _archs(space, n, seed=0):
    return [tuple(a) for a in space.sample_matrix(np.random.default_rng(seed), n)]


def _pool(spec, **kw):
    from oneshot.evaluation.ray_pool import RayEvaluatorPool

    kw.setdefault("workers", 2)
    return RayEvaluatorPool(spec, **kw)


def test_same_results_as_in_process_forward_pass(local_ray, space):
    import torch

    torch.set_num_threads(1)  # the actors run one thread each; same kernels, same sums
    archs = _archs(space, 6)
    options = {"forward_batch": 16, "seed": 3}
    local = SyntheticEvaluator(**options).evaluate(archs)
    with _pool(EvaluatorSpec("synthetic", options), batch_size=2) as pool:
        assert pool.space.fingerprint() == space.fingerprint()
        assert pool.metric_names == ("accuracy", "loss")
        remote = pool.evaluate(archs)
    assert [r.arch for r in remote] == [r.arch for r in local]
    for a, b in zip(local, remote):
        assert b.ok and b.key == a.key
        assert b.metrics["accuracy"] == a.metrics["accuracy"]
        assert b.metrics["loss"] == pytest.approx(a.metrics["loss"], rel=1e-5)
    # different architectures really give different numbers (the comparison above can fail)
    assert len({round(r.metrics["loss"], 6) for r in remote}) > 1


def test_same_results_as_in_process_nas_bench_macro(local_ray):
    spec = EvaluatorSpec("nas-bench-macro", {})
    local = spec.create()
    archs = _archs(local.space, 8, seed=11)
    expected = local.evaluate(archs)
    with _pool(spec, batch_size=3) as pool:
        got = pool.evaluate(archs)
    assert [(r.key, r.metrics) for r in got] == [(r.key, r.metrics) for r in expected]


@pytest.mark.slow
def test_same_results_as_in_process_supernet_evaluator(local_ray, space, tmp_path):
    """The real evaluator kind: each actor loads the checkpoint by path and calibrates BN itself;
    scores equal the in-process evaluator's for the same seed."""
    import torch

    from oneshot.checkpoint import save_checkpoint
    from oneshot.data import load_data
    from oneshot.supernet import Supernet

    torch.set_num_threads(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = Supernet(space)
    data = load_data("digits", space.resolution, seed=0)
    path = tmp_path / "supernet.pt"
    save_checkpoint(path, {"space": space.to_json(), "model": net.state_dict(), "data": data.info,
                           "config": {}, "versions": {}})
    spec = EvaluatorSpec("supernet", {"checkpoint": str(path), "bn_policy": "ema", "calib_images": 128,
                                      "calib_batch": 64, "val_images": 100, "seed": 0})
    archs = _archs(space, 4, seed=12)
    local = spec.create().evaluate(archs)
    with _pool(spec, batch_size=2) as pool:
        remote = pool.evaluate(archs)
    for a, b in zip(local, remote):
        assert b.ok and b.key == a.key
        assert b.metrics["accuracy"] == a.metrics["accuracy"]
        assert b.metrics["loss"] == pytest.approx(a.metrics["loss"], rel=1e-5)


def test_duplicates_evaluated_once_and_known_results_reused(local_ray, space, tmp_path):
    archs = _archs(space, 5, seed=1)
    keys = [space.key(a) for a in archs]
    # every attempt at keys[0] leaves a marker file: count them to see how often it ran
    spec = EvaluatorSpec("synthetic", {"fail": {keys[0]: 0}, "marker_dir": str(tmp_path)})
    with _pool(spec) as pool:
        results = pool.evaluate(archs + [archs[0], archs[0]])
        assert [r.arch for r in results] == [space.validate(a) for a in archs + [archs[0], archs[0]]]
        assert results[-1].metrics == results[0].metrics
        assert len(list(tmp_path.glob(f"{keys[0]}.*"))) == 1
        streamed = list(pool.evaluate_stream(archs))  # all known: answered from the pool's cache
        assert sorted(r.key for r in streamed) == sorted(keys)
        assert pool.stats["cache_hits"] == len(keys)
        assert len(list(tmp_path.glob(f"{keys[0]}.*"))) == 1


def test_killed_worker_every_architecture_gets_exactly_one_result(local_ray, space, tmp_path):
    archs = _archs(space, 10, seed=2)
    keys = [space.key(a) for a in archs]
    spec = EvaluatorSpec("synthetic", {"crash": {keys[4]: 1}, "marker_dir": str(tmp_path),
                                       "sleep_s": 0.02})
    with _pool(spec, batch_size=3) as pool:
        results = list(pool.evaluate_stream(archs))
        assert pool.stats["worker_deaths"] == 1 and pool.stats["replacements"] >= 1
        assert sorted(r.key for r in results) == sorted(set(keys))
        assert all(r.ok for r in results)  # the crash was retried on a fresh worker
        expected = SyntheticEvaluator().evaluate(archs)
        assert {r.key: r.metrics for r in results} == {r.key: r.metrics for r in expected}
        # the replacement worker is usable for the next call
        assert all(r.ok for r in pool.evaluate(_archs(space, 3, seed=9)))


def test_timeout_is_retried_then_recorded_as_failed(local_ray, space):
    archs = _archs(space, 4, seed=3)
    slow_key = space.key(archs[1])
    spec = EvaluatorSpec("synthetic", {"slow": {slow_key: 60.0}})
    with _pool(spec, timeout_s=2.0, max_retries=1, batch_size=1) as pool:
        results = pool.evaluate(archs)
        # first attempt + one retry (>=: a loaded machine may also delay an innocent evaluation,
        # which is then retried and succeeds)
        assert pool.stats["timeouts"] >= 2
    bad = [r for r in results if not r.ok]
    assert [r.key for r in bad] == [slow_key]
    assert "failed after 2 attempts" in bad[0].error and "timed out" in bad[0].error
    assert all(r.ok for r in results if r.key != slow_key)


def test_failures_are_retried_and_persistent_ones_reported(local_ray, space, tmp_path):
    archs = _archs(space, 6, seed=4)
    keys = [space.key(a) for a in archs]
    spec = EvaluatorSpec("synthetic", {"fail": {keys[0]: 2, keys[1]: 99}, "marker_dir": str(tmp_path)})
    with _pool(spec, max_retries=2) as pool:
        results = {r.key: r for r in pool.evaluate(archs)}
    assert results[keys[0]].ok  # failed twice, third attempt succeeded
    assert not results[keys[1]].ok and "SyntheticError" in results[keys[1]].error
    assert len(list(tmp_path.glob(f"{keys[1]}.*"))) == 3  # 1 try + 2 retries, no more
    assert all(results[k].ok for k in keys[2:])


def test_early_close_of_stream_keeps_results_in_flight(local_ray, space):
    archs = _archs(space, 8, seed=5)
    with _pool(EvaluatorSpec("synthetic", {"sleep_s": 0.05}), batch_size=2) as pool:
        stream = pool.evaluate_stream(archs)
        next(stream)
        stream.close()
        assert pool.stats["evaluated"] >= 2  # the other batch in flight finished and was kept
        assert len(pool.evaluate(archs)) == len(archs)


def test_start_failure_is_a_config_error(local_ray):
    spec = EvaluatorSpec("synthetic", {"space": "no-such-space"})
    with pytest.raises(ConfigError, match="no-such-space"):
        _pool(spec, workers=1)


@pytest.mark.parametrize("kw, match", [
    ({"workers": 0}, "workers"), ({"batch_size": 0}, "batch_size"), ({"timeout_s": 0}, "timeout_s"),
    ({"max_retries": -1}, "max_retries"), ({"threads_per_worker": 0}, "threads_per_worker"),
])
def test_bad_options_name_the_option(kw, match):
    from oneshot.evaluation.ray_pool import RayEvaluatorPool

    args = {"workers": 1, **kw}
    with pytest.raises(ConfigError, match=match):
        RayEvaluatorPool(EvaluatorSpec("synthetic"), **args)


def test_unknown_kind_lists_valid_ones():
    from oneshot.evaluation.ray_pool import RayEvaluatorPool

    with pytest.raises(ConfigError, match="synthetic"):
        RayEvaluatorPool(EvaluatorSpec("nope"), workers=1)


def test_worker_killed_from_outside_mid_run(local_ray, space):
    import os
    import signal

    archs = _archs(space, 12, seed=6)
    with _pool(EvaluatorSpec("synthetic", {"sleep_s": 0.15}), batch_size=2) as pool:
        victim = pool._pool[0].pid
        results = []
        for r in pool.evaluate_stream(archs):
            if not results:
                os.kill(victim, signal.SIGKILL)  # as the OOM killer would
            results.append(r)
        assert pool.stats["worker_deaths"] == 1
        assert victim not in {w.pid for w in pool._pool}
    assert sorted(r.key for r in results) == sorted({space.key(a) for a in archs})
    assert all(r.ok for r in results)


def test_search_with_a_worker_killed_records_every_architecture_once(local_ray, tmp_path):
    """The search loop (what `oneshot search --benchmark nas-bench-macro --workers 2` runs) with one
    of its two Ray workers SIGKILLed mid-search: it completes, and history.csv has every
    architecture exactly once, none failed (the lost batch was retried on a fresh worker)."""
    import csv
    import json
    import os
    import signal
    import threading
    import time

    from oneshot.search import SearchConfig, SearchRun

    out = tmp_path / "search"
    budget = 40
    # 30 ms per lookup so the search is still running when the worker is killed
    config = SearchConfig(evaluator=EvaluatorSpec("nas-bench-macro", {"delay_s": 0.03}), out=str(out),
                          strategy="random", budget=budget, workers=2, progress=False)
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                pids = json.loads((out / "search.json").read_text())["evaluator_info"]["worker_pids"]
                rows = (out / "history.csv").read_text().count("\n") - 1
            except (OSError, ValueError, KeyError):
                rows = 0
            if rows >= 8:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    run = SearchRun(config)
    summary = run.run()
    killer.join(5)
    assert killed, "the search ended before a worker could be killed"
    assert run.evaluator.stats["worker_deaths"] == 1
    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == budget == summary["evaluations"]
    assert len({r["key"] for r in rows}) == budget
    assert all(not r["error"] for r in rows)


def test_cli_search_with_workers_uses_the_pool(local_ray, tmp_path, capsys):
    import csv
    import json

    from oneshot.cli.main import main

    out = tmp_path / "cli"
    code = main(["search", "--benchmark", "nas-bench-macro", "--strategy", "random", "--workers", "2",
                 "--budget", "12", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    info = json.loads((out / "search.json").read_text())["evaluator_info"]
    assert info["pool"] == "ray" and info["workers"] == 2 and len(info["worker_pids"]) == 2
    with open(out / "history.csv", newline="") as fh:
        keys = [r["key"] for r in csv.DictReader(fh)]
    assert len(keys) == len(set(keys)) == 12


def test_interrupt_does_not_wait_for_evaluations_in_flight(local_ray, space):
    """Ctrl-C while an evaluation runs returns at once (the busy actor is replaced, not awaited)
    and leaves the pool usable."""
    import _thread
    import signal
    import threading
    import time

    archs = _archs(space, 4, seed=13)
    spec = EvaluatorSpec("synthetic", {"slow": {space.key(archs[0]): 60.0}})
    with _pool(spec, workers=1, batch_size=1) as pool:
        caught = threading.Event()

        def press_ctrl_c():  # what Ctrl-C does; pressed again (after 5 s) if a loaded machine lost it
            wait = 1.5
            while not caught.wait(wait):
                _thread.interrupt_main()
                wait = 5.0

        # Ctrl-C must raise KeyboardInterrupt here: a Ray Tune run earlier in the same test process
        # may have left its own SIGINT handler installed
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        start = time.monotonic()
        threading.Thread(target=press_ctrl_c, daemon=True).start()
        try:
            with pytest.raises(KeyboardInterrupt):
                list(pool.evaluate_stream(archs))
        finally:
            caught.set()
            signal.signal(signal.SIGINT, previous)
        assert time.monotonic() - start < 20
        assert pool.stats["replacements"] == 1
        assert all(r.ok for r in pool.evaluate(archs[1:]))


def test_unreachable_cluster_fails_fast_with_the_fix(monkeypatch):
    import time

    from oneshot.distributed.local_cluster import free_port
    from oneshot.distributed.runtime import _probe, resolve_address

    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert resolve_address(None) == "10.0.0.1:6379" and resolve_address("auto") == "auto"
    monkeypatch.setenv("RAY_ADDRESS", "")
    assert resolve_address(None) is None
    start = time.monotonic()
    with pytest.raises(ConfigError, match="ray start --head"):
        # what connect_ray does before ray.init(address=...) (called directly: this module's Ray is up)
        _probe(f"127.0.0.1:{free_port()}")  # nothing listens there
    assert time.monotonic() - start < 10


def test_search_cli_passes_worker_options_to_the_pool(tmp_path, capsys):
    """`oneshot search --workers 2 --worker-threads/--eval-batch/--eval-timeout/--eval-retries` reach the
    Ray pool and are recorded in search.json."""
    from oneshot.cli.main import main

    out = tmp_path / "s"
    assert main(["search", "--benchmark", "nas-bench-macro", "--strategy", "random", "--budget", "12",
                 "--workers", "2", "--worker-threads", "1", "--eval-batch", "3", "--eval-timeout", "120",
                 "--eval-retries", "1", "--out", str(out), "--no-progress"]) == 0
    meta = json.loads((out / "search.json").read_text())
    assert meta["pool_options"] == {"threads_per_worker": 1, "batch_size": 3, "timeout_s": 120.0, "max_retries": 1}
    info = meta["evaluator_info"]
    assert (info["pool"], info["batch_size"], info["timeout_s"], info["max_retries"]) == ("ray", 3, 120.0, 1)
