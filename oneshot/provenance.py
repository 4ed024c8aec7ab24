"""What a result came from: the package versions and file hashes recorded in checkpoints, search
records, exported models and reports (one definition, so every artifact records the same set)."""
from __future__ import annotations

import hashlib
import os
import platform
from functools import lru_cache
from pathlib import Path

#: packages whose versions shape results (read from the installed metadata: no import, no torch)
PACKAGES = ("oneshot", "numpy", "torch", "pymoo", "ray")


def versions() -> dict[str, str]:
    """Python and the installed versions of ``PACKAGES`` (a package not installed is left out)."""
    import importlib.metadata as md

    from oneshot import __version__

    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            if pkg == "oneshot":  # run from a source tree
                out[pkg] = __version__
    return out


def file_sha256(path: str | os.PathLike) -> str:
    """Full SHA-256 (hex) of a file's bytes. Remembered per (path, size, mtime) in this process, so a
    supernet checkpoint of hundreds of MB is read once however many records name it."""
    st = os.stat(path)
    return _hash(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _hash(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
