"""The private Ray instance behind --workers N: loopback only, gone with its driver, and never
confused with a cluster that `ray start` left running on the same host."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from oneshot.distributed.local_cluster import LocalCluster
from tests.distributed._procnet import is_loopback, listening, live_pids

pytestmark = [pytest.mark.ray,
              pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")]

ROOT = Path(__file__).resolve().parents[2]

#: a driver the way the pool starts Ray: connect_ray(num_cpus=...), then a task on each worker
DRIVER = """
import json, os, sys
import ray
from oneshot.distributed import runtime
owns = runtime.connect_ray(num_cpus=2)
@ray.remote
def pid():
    import time; time.sleep(0.5); return os.getpid()
workers = sorted(set(ray.get([pid.remote() for _ in range(4)])))
print(json.dumps({"owns": owns, "pgid": runtime._PRIVATE.pgid, "guard": runtime._PRIVATE._guard.pid,
                  "workers": workers}), flush=True)
sys.stdin.readline()
runtime.shutdown_ray()
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "ONESHOT_RAY_HOST")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return {**env, **extra}


def _start_driver(env: dict[str, str]) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail(f"driver failed: {proc.stderr.read()[-2000:]}")
    return proc, json.loads(line)


def _session_pids(driver: subprocess.Popen, info: dict) -> set[int]:
    return {driver.pid, info["guard"], *info["workers"], *live_pids(info["pgid"])}


def _wait_gone(pids: set[int], timeout_s: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = {p: c for p, c in live_pids().items() if p in pids}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def _kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_private_instance_listens_on_loopback_only():
    driver, info = _start_driver(_env())
    pids = _session_pids(driver, info)
    try:
        assert info["owns"] is True
        sockets = listening(pids)
        names = {comm for _, comm, _, _ in sockets}
        # not vacuous: GCS, raylet, the driver's and workers' gRPC servers and the agents all listen
        assert {"gcs_server", "raylet"} <= names and len(sockets) >= 8, sockets
        wide = [(comm, str(addr), port) for _, comm, addr, port in sockets if not is_loopback(addr)]
        assert wide == [], f"listening beyond loopback: {wide}"
        driver.stdin.write("\n")
        driver.stdin.flush()
        assert driver.wait(timeout=60) == 0
        assert _wait_gone(pids, 15) == {}, "processes of the instance left after a clean close"
    finally:
        driver.kill()
        _kill(pids)


def test_sigkill_of_the_driver_leaves_no_ray_process():
    driver, info = _start_driver(_env())
    pids = _session_pids(driver, info)
    try:
        names = set(live_pids(info["pgid"]).values())
        # the agents that used to outlive the driver by minutes are part of it
        assert any("DashboardA" in n or "RuntimeEnv" in n for n in names), names
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        left = _wait_gone(pids, 10)
        assert left == {}, f"still running 10 s after SIGKILL of the driver: {left}"
    finally:
        _kill(pids)


@pytest.mark.slow
def test_workers_with_a_cluster_already_running_start_a_private_instance(tmp_path):
    """`ray start --head` recorded in <RAY_TMPDIR>/ray/ray_current_cluster used to be auto-joined by
    ray.init(num_cpus=...), which Ray refuses; --workers now starts its own, and --ray-address auto
    joins the running one, each saying so."""
    tmp = tempfile.mkdtemp(prefix="os-", dir="/tmp")  # short: Ray's unix socket paths are limited
    head = LocalCluster(num_cpus=2, dashboard=False, env={"RAY_AUTH_MODE": "disabled"})
    os.rmdir(head.temp_dir)
    head.temp_dir = os.path.join(tmp, "ray")  # the default temp dir of drivers with RAY_TMPDIR=tmp
    try:
        head.start()
        assert Path(tmp, "ray", "ray_current_cluster").exists()
        env = _env(RAY_TMPDIR=tmp, RAY_AUTH_MODE="disabled")
        args = [sys.executable, "-m", "oneshot", "search", "--benchmark", "nas-bench-macro", "--strategy",
                "random", "--workers", "2", "--budget", "8", "--no-progress"]
        private = subprocess.run([*args, "--out", str(tmp_path / "private")], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert private.returncode == 0, private.stderr[-2000:]
        assert "starting a private Ray instance on 127.0.0.1" in private.stderr
        meta = json.loads((tmp_path / "private" / "search.json").read_text())["evaluator_info"]
        assert meta["local_ray"] is True
        joined = subprocess.run([*args, "--ray-address", "auto", "--out", str(tmp_path / "joined")],
                                env=env, capture_output=True, text=True, timeout=300)
        assert joined.returncode == 0, joined.stderr[-2000:]
        assert "joining the Ray cluster at auto" in joined.stderr
        meta = json.loads((tmp_path / "joined" / "search.json").read_text())["evaluator_info"]
        assert meta["local_ray"] is False
    finally:
        head.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("value, host", [("", "127.0.0.1"), ("::1", "::1"), ("[::1]", "::1"),
                                         ("10.1.2.3", "10.1.2.3")])
def test_ray_host_option(monkeypatch, value, host):
    from oneshot.distributed.private_ray import private_host

    monkeypatch.setenv("ONESHOT_RAY_HOST", value)
    assert private_host() == host


def test_ray_host_option_refuses_a_name(monkeypatch):
    from oneshot.distributed.private_ray import private_host
    from oneshot.errors import ConfigError

    monkeypatch.setenv("ONESHOT_RAY_HOST", "example.org")
    with pytest.raises(ConfigError, match="ONESHOT_RAY_HOST='example.org' is not an IP address"):
        private_host()
