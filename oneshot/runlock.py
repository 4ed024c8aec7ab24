"""One run per directory: an exclusive, self-releasing lock on a run directory.

``RunLock(dir)`` takes an ``flock`` on ``dir/.oneshot.lock`` and writes the holder's pid, host and
command into it. The kernel drops an ``flock`` when its process dies, however it dies, so a lock
left by a killed run is simply taken over; a live holder is refused with a one-line error naming
it. (Locks on network file systems that do not support ``flock`` are as good as those systems.)
"""
from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from oneshot.errors import ConfigError

LOCK_NAME = ".oneshot.lock"


class RunLock:
    """Context manager (or ``acquire``/``release``) holding ``directory``'s lock."""

    def __init__(self, directory: str | os.PathLike, what: str = "run"):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.what = what
        self._fh = None

    def acquire(self) -> "RunLock":
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                holder = json.loads(fh.read() or "{}")
            except ValueError:
                holder = {}
            fh.close()
            raise ConfigError(f"{self.directory} is in use by another {self.what} (pid {holder.get('pid', '?')} "
                              f"on {holder.get('host', '?')}); wait for it to finish or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)}))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
