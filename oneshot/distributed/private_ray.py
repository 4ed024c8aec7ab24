"""The private Ray instance behind ``--workers N``: a head node owned by a guard process.

``ray.init()`` without an address would start Ray inside the driver, bound to every interface, join
whatever cluster ``ray start`` recorded in Ray's default temp folder, and leave its dashboard and runtime-env agents
running for minutes when the driver is SIGKILLed. Instead the driver starts a small guard process
(``python -m oneshot.distributed.private_ray``) that runs ``ray start --head`` in its own process
group (a ``LocalCluster``: loopback by default, private temp dir, so nothing else auto-joins it),
prints the address, and stops exactly that process group as soon as the driver closes the pipe or
dies, whichever way it dies.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

from oneshot.errors import ConfigError

#: where the private instance binds; any non-loopback value is the explicit "bind wider" choice
HOST_ENV = "ONESHOT_RAY_HOST"
DEFAULT_HOST = "127.0.0.1"


def private_host() -> str:
    """The node IP of the private instance: ``$ONESHOT_RAY_HOST`` or 127.0.0.1."""
    host = os.environ.get(HOST_ENV, "").strip() or DEFAULT_HOST
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ConfigError(f"{HOST_ENV}={host!r} is not an IP address; use 127.0.0.1 (the default, "
                          f"loopback only) or an address of this machine (Ray then listens on all "
                          f"interfaces)") from None
    return host.strip("[]")


class PrivateRay:
    """Driver-side handle: ``start()`` returns the GCS address, ``stop()`` tears the head down."""

    def __init__(self, num_cpus: int, host: str, num_gpus: int | None = None,
                 start_timeout_s: float = 180.0):
        self.num_cpus = int(num_cpus)
        self.num_gpus = num_gpus  # None: Ray counts this machine's GPUs
        self.host = host
        self.start_timeout_s = start_timeout_s
        self._guard: subprocess.Popen | None = None
        self.address: str | None = None
        self.pgid: int | None = None

    def start(self) -> str:
        # own session: Ctrl-C in the terminal reaches the driver (which closes the pool in order),
        # not the guard, which must outlive the driver
        # the guard imports this package from where the driver did (a checkout on sys.path too)
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        self._guard = subprocess.Popen(
            [sys.executable, "-m", "oneshot.distributed.private_ray", str(self.num_cpus), self.host,
             "auto" if self.num_gpus is None else str(int(self.num_gpus))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True, env=env)
        line = _read_line(self._guard, self.start_timeout_s + 30)
        try:
            info = json.loads(line) if line else {"error": "the guard process exited without an answer"}
        except json.JSONDecodeError:
            info = {"error": line.strip()}
        if "address" not in info:
            self.stop()
            raise ConfigError(f"cannot start the local Ray instance: {info.get('error')}")
        self.address, self.pgid = info["address"], info["pgid"]
        return self.address

    def stop(self, timeout_s: float = 60.0) -> None:
        """Close the pipe (the guard's signal to stop the head) and wait for the guard."""
        guard, self._guard = self._guard, None
        if guard is None:
            return
        try:
            if guard.stdin:
                guard.stdin.close()
            guard.wait(timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            guard.kill()
        finally:
            if guard.stdout:
                guard.stdout.close()


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    """The first line ``proc`` prints, or "" if it exits or stays silent for ``timeout_s``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            return ""
    return proc.stdout.readline()


def _driver_gone(driver: int, timeout_s: float) -> bool:
    """Block up to ``timeout_s``; True once stdin reaches EOF (pipe closed, or the driver died and
    the kernel closed it) or this process was re-parented (the driver is dead)."""
    with selectors.DefaultSelector() as sel:
        sel.register(sys.stdin, selectors.EVENT_READ)
        if sel.select(timeout_s) and not sys.stdin.readline():
            return True
    return os.getppid() != driver


def main(argv: list[str]) -> int:
    """Guard: start the head, report its address on stdout, stop it when the driver goes away."""
    from oneshot.distributed.local_cluster import LocalCluster

    num_cpus, host = int(argv[0]), argv[1]
    num_gpus = None if argv[2] == "auto" else int(argv[2])
    driver = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping = False

    def _terminate(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _terminate)
    # same auth mode in head and driver: the driver read RAY_AUTH_MODE from this environment when it
    # imported Ray, and Ray's default (token auth when ~/.ray/auth_token exists) would lock it out
    env = {"RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    cluster = LocalCluster(num_cpus=num_cpus, dashboard=False, env=env, host=host, num_gpus=num_gpus)
    try:
        try:
            cluster.start()
        except RuntimeError as exc:
            print(json.dumps({"error": str(exc).replace("\n", " | ")}), flush=True)
            return 1
        print(json.dumps({"address": cluster.address, "pgid": cluster.pgid}), flush=True)
        while not stopping and not _driver_gone(driver, 0.5):
            pass
    finally:
        # the agents ignore SIGTERM for a while; a short grace keeps "a few seconds" true
        cluster.stop(grace_s=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
