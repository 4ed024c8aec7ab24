"""Joining or starting Ray: one place that decides between a cluster and a quiet local instance."""
from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import sys
from typing import Any, Iterator

from oneshot.errors import ConfigError

#: the private instance this process started (see ``private_ray``), stopped by ``shutdown_ray``
_PRIVATE: Any = None


def resolve_address(address: str | None) -> str | None:
    """The cluster to join: ``address`` if given, else ``$RAY_ADDRESS`` (set by ``ray job submit``
    and by users), else None (start a local instance)."""
    chosen = address if address else os.environ.get("RAY_ADDRESS") or None
    if chosen is not None and not chosen.strip():
        return None
    return chosen


def connect_ray(address: str | None = None, num_cpus: float | None = None,
                num_gpus: float | None = None) -> bool:
    """Make sure this process is connected to Ray; return True when *this call* started a local
    instance (the caller then owns it and ends it with ``shutdown_ray()``), False when Ray was
    already initialised or an existing cluster was joined.

    ``address``: ``"auto"`` or ``"HOST:PORT"`` joins a running cluster (``$RAY_ADDRESS`` is honoured
    when ``address`` is None). Otherwise a private instance is started with ``num_cpus`` logical
    CPUs, never an existing one joined implicitly (Ray's ``ray.init()`` would join the cluster that
    ``ray start`` recorded in Ray's default temp folder and then refuse ``num_cpus``): see ``private_ray``. It binds
    127.0.0.1 unless ``$ONESHOT_RAY_HOST`` names another address. One line on stderr says which.
    """
    import ray

    global _PRIVATE
    if ray.is_initialized():
        return False
    # never phone home from a library call; users who want usage stats can set it themselves
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False,
                             "configure_logging": True}
    target = resolve_address(address)
    if target is not None:
        _probe(target)
        _say(f"joining the Ray cluster at {target}")
        try:
            with _keep_loopback(_target_host(target)):
                ray.init(address=target, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"cannot join the Ray cluster at {target!r} ({exc}); start one with "
                f"`ray start --head`, check the address (HOST:PORT of the head's GCS, or 'auto' on a "
                f"cluster node), or leave out --ray-address / unset RAY_ADDRESS to run locally"
            ) from exc
        return False
    from oneshot.distributed.private_ray import PrivateRay, private_host

    host = private_host()
    cpus = max(1, math.ceil(num_cpus)) if num_cpus is not None else (os.cpu_count() or 1)
    # no CPU count in the line: the docs show it, and it differs from machine to machine
    _say(f"starting a private Ray instance on {host}; "
         f"--ray-address auto|HOST:PORT joins a running cluster instead")
    instance = PrivateRay(cpus, host, None if num_gpus is None else math.ceil(num_gpus))
    gcs = instance.start()
    _PRIVATE = instance
    try:
        with _keep_loopback(host):
            ray.init(address=gcs, **quiet)
    except BaseException:
        shutdown_ray()
        raise
    return True


def shutdown_ray() -> None:
    """Disconnect from Ray and stop the private instance this process started, if any."""
    global _PRIVATE
    import ray

    try:
        if ray.is_initialized():
            ray.shutdown()
    finally:
        instance, _PRIVATE = _PRIVATE, None
        if instance is not None:
            instance.stop()


atexit.register(lambda: _PRIVATE is not None and _PRIVATE.stop())


def _say(message: str) -> None:
    print(f"oneshot: {message}", file=sys.stderr, flush=True)


def _target_host(target: str) -> str:
    """The host of a join target: HOST of HOST:PORT, the recorded head for ``auto``."""
    import re

    if target.strip().lower() == "auto":
        # where `ray start` records the head it started (Ray's own lookup for "auto")
        tmp = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"
        try:
            with open(os.path.join(tmp, "ray", "ray_current_cluster")) as fh:
                target = fh.read().strip()
        except OSError:
            return ""
    m = re.fullmatch(r"(?:ray://)?\[?([^\]]+?)\]?:(\d+)", target.strip())
    return m.group(1) if m else ""


@contextlib.contextmanager
def _keep_loopback(host: str) -> Iterator[None]:
    """While connecting to a node on loopback, stop Ray from rewriting 127.0.0.1 to this machine's
    external address (it then looks for a GCS and raylet that are not there); see
    ``local_cluster.loopback_env``. Ray reads the switch once at import, so the module constant is
    set for the duration of ``ray.init`` and restored after."""
    from oneshot.distributed.local_cluster import is_loopback

    if not host or not is_loopback(host):
        yield
        return
    from ray._private import ray_constants

    if not hasattr(ray_constants, "ENABLE_RAY_CLUSTER"):  # another Ray: tests/distributed checks sockets
        yield
        return
    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


def _probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds on an unreachable HOST:PORT; Ray itself keeps retrying for minutes."""
    import re
    import socket

    m = re.fullmatch(r"(?:ray://)?\[?([^\]]+?)\]?:(\d+)", address.strip())
    if not m:
        return  # "auto", "local" and other forms are Ray's to interpret
    host, port = m.group(1), int(m.group(2))
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); check that its head "
            f"node runs (`ray start --head --port {port}`) and that this machine can reach it, or leave "
            f"out --ray-address / unset RAY_ADDRESS to run locally") from None


def ray_resources() -> dict[str, float]:
    """Total logical resources of the connected cluster (``CPU``, ``GPU``, ...)."""
    import ray

    return {k: float(v) for k, v in ray.cluster_resources().items()}
