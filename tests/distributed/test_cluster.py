"""The cluster recipe for real on this machine: a head node bound to 127.0.0.1, a search submitted
to it with `ray job submit`, another joining it with --ray-address, results collected, the cluster
stopped (only its own processes; `ray stop` would also stop other Ray instances on a shared host)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oneshot.distributed.local_cluster import LocalCluster, ray_executable
from tests.distributed._procnet import is_loopback, listening, live_pids

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# Ray >= 2.5x enables token auth when ~/.ray/auth_token exists; this cluster listens on 127.0.0.1
# only, so the test pins the mode instead of depending on the files of whoever runs it.
ENV = {"RAY_AUTH_MODE": "disabled"}


def _history(out: Path) -> list[dict]:
    with open(out / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _search_args(out: Path, budget: int) -> list[str]:
    return ["search", "--benchmark", "nas-bench-macro", "--strategy", "random", "--workers", "2",
            "--budget", str(budget), "--no-progress", "--out", str(out)]


def test_job_submitted_to_a_local_cluster(tmp_path):
    workdir = tmp_path / "job"
    workdir.mkdir()
    (workdir / "README.txt").write_text("working dir uploaded by `ray job submit`\n")
    out_job, out_join = tmp_path / "out-job", tmp_path / "out-join"
    cluster = LocalCluster(num_cpus=2, dashboard=True, env=ENV)
    try:
        try:
            cluster.start()
            dashboard = True
        except RuntimeError as exc:  # no dashboard here: fall back to joining by address only
            if "dashboard" not in str(exc).lower():
                raise
            cluster = LocalCluster(num_cpus=2, dashboard=False, env=ENV).start()
            dashboard = False
        # what actually listens, not what the flags say: `--node-ip-address 127.0.0.1` alone still
        # left the GCS, raylet and workers on every interface
        sockets = listening(set(live_pids(cluster.pgid)))
        assert len(sockets) >= 5, sockets
        wide = [(comm, str(addr), port) for _, comm, addr, port in sockets if not is_loopback(addr)]
        assert wide == [], f"the head listens beyond loopback: {wide}"
        if dashboard:
            # right after `ray start` the node's job agent may not have registered yet; Ray then
            # refuses the submission ("No available agent ... try again later"), so retry a while
            deadline = time.monotonic() + 120
            while True:
                job = subprocess.run(
                    [ray_executable(), "job", "submit", "--address", cluster.dashboard_url,
                     "--working-dir", str(workdir), "--", "oneshot", *_search_args(out_job, 16)],
                    env=cluster.env, capture_output=True, text=True, timeout=300)
                if "No available agent" not in job.stdout + job.stderr or time.monotonic() > deadline:
                    break
                time.sleep(3)
            assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
            assert "succeeded" in job.stdout + job.stderr
            rows = _history(out_job)
            assert len(rows) == 16 and len({r["key"] for r in rows}) == 16
            info = json.loads((out_job / "search.json").read_text())["evaluator_info"]
            assert info["pool"] == "ray" and info["local_ray"] is False  # it joined the cluster
            assert (out_job / "pareto.csv").exists()
        # the same cluster joined from outside with --ray-address HOST:PORT
        joined = subprocess.run(
            [sys.executable, "-m", "oneshot", *_search_args(out_join, 12), "--ray-address", cluster.address],
            env={**cluster.env, "RAY_ADDRESS": ""}, capture_output=True, text=True, timeout=300)
        assert joined.returncode == 0, joined.stderr[-2000:]
        assert len(_history(out_join)) == 12
        assert json.loads((out_join / "search.json").read_text())["evaluator_info"]["local_ray"] is False
    finally:
        cluster.stop()
