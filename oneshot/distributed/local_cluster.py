"""A Ray head node on this machine: the private instance behind ``--workers N``, and the cluster of
the tests and demos of the cluster recipe.

``LocalCluster`` runs ``ray start --head`` bound to 127.0.0.1 (by default) on free ports, in its own
process session and temp dir, and stops exactly the processes it started (its process group), never
``ray stop``, which would also stop every other Ray instance of this user on the machine.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) names this machine's loopback interface."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_env(host: str) -> dict[str, str]:
    """Environment that keeps a Ray node on ``host`` when ``host`` is loopback.

    On Linux Ray rewrites a node IP of 127.0.0.1 to the machine's external address (and then its
    GCS, raylet and workers listen on every interface); ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` turns
    that rewrite off, which is what Ray does by default on macOS and Windows. With it the C++ daemons
    bind 127.0.0.1 and the Python agents (dashboard, metrics, runtime env) bind 127.0.0.1 as well.
    """
    return {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"} if is_loopback(host) else {}


def ray_executable() -> str:
    """The ``ray`` CLI next to this Python (a virtualenv's bin), else the one on PATH."""
    here = Path(sys.executable).with_name("ray")
    return str(here) if here.exists() else (shutil.which("ray") or "ray")


class LocalCluster:
    """``with LocalCluster(num_cpus=2) as c:`` then ``c.address`` (GCS, for ``--ray-address``) and
    ``c.dashboard_url`` (for ``ray job submit --address``); ``dashboard=False`` skips the dashboard
    (no job API then); ``num_gpus=None`` lets Ray count the GPUs. ``env`` adds variables for the
    head and everything it starts (jobs included).
    ``host``: the node IP; 127.0.0.1 keeps every port on loopback, any other address makes Ray listen
    on all interfaces (Ray's own behaviour) and advertise that address."""

    def __init__(self, num_cpus: int = 2, dashboard: bool = True, env: Mapping[str, str] | None = None,
                 start_timeout_s: float = 180.0, host: str = "127.0.0.1", num_gpus: int | None = 0):
        self.num_cpus = int(num_cpus)
        self.num_gpus = num_gpus  # None: Ray detects the GPUs
        self.dashboard = dashboard
        self.start_timeout_s = start_timeout_s
        # short path: Ray puts unix sockets under it, and socket paths are limited to ~107 bytes
        self.temp_dir = tempfile.mkdtemp(prefix="oneshot-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self.host = host
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **loopback_env(host), **(env or {})}
        # jobs run `oneshot ...` as a shell command: put this interpreter's bin first on PATH
        self.env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), self.env.get("PATH", "")])
        self.port = free_port()
        self.dashboard_port = free_port()
        url_host = f"[{host}]" if ":" in host else host
        self.address = f"{url_host}:{self.port}"
        self.dashboard_url = f"http://{url_host}:{self.dashboard_port}"
        self._proc: subprocess.Popen | None = None
        self.log = ""

    def start(self) -> "LocalCluster":
        """Start the head node; RuntimeError with ``ray start``'s output when it fails."""
        cmd = [ray_executable(), "start", "--head", "--node-ip-address", self.host,
               "--port", str(self.port), "--num-cpus", str(self.num_cpus),
               "--disable-usage-stats", "--temp-dir", self.temp_dir,
               "--ray-client-server-port", str(free_port()),
               "--dashboard-agent-listen-port", str(free_port()),
               "--metrics-export-port", str(free_port()),
               "--include-dashboard", "true" if self.dashboard else "false"]
        if self.num_gpus is not None:
            cmd += ["--num-gpus", str(int(self.num_gpus))]
        if self.dashboard:
            cmd += ["--dashboard-host", self.host, "--dashboard-port", str(self.dashboard_port)]
        # own session: every daemon ray start spawns inherits this process group, which is how
        # stop() finds exactly them
        self._proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True)
        try:
            out, _ = self._proc.communicate(timeout=self.start_timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"`ray start --head` did not finish within {self.start_timeout_s:g} s")
        self.log = out
        returncode = self._proc.returncode  # read before stop(), which forgets the process
        if returncode != 0:
            self.stop()
            tail = "\n".join(out.strip().splitlines()[-5:])
            raise RuntimeError(f"`ray start --head` failed (exit {returncode}):\n{tail}")
        return self

    @property
    def pgid(self) -> int | None:
        """Process group of every daemon of this head (None before start / after stop)."""
        return None if self._proc is None else self._proc.pid

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the cluster's process group, SIGKILL what is left after ``grace_s``."""
        if self._proc is None:
            return
        pgid = self._proc.pid  # start_new_session: the group id is the leader's pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.2)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
