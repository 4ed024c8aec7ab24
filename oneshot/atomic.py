"""Atomic file writes: a reader sees the old file or the new one, never a torn one.

Every write goes to a temp file in the target's own folder (so the rename never crosses a file
system), is flushed and fsync'ed, then ``os.replace``-d over the target; the folder is fsync'ed
afterwards (best effort) so the rename itself survives a crash. On any exception the temp file is
removed and the target is left untouched.

The temp file gets the permissions a plain ``open(path, "w")`` would give (``0o666`` less the
umask), not ``tempfile.mkstemp``'s ``0o600``; pass ``mode`` to set them explicitly.

Standard library only, so the framework-free packages (``oneshot.spaces``) may use it too.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any, Callable, Iterator

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_savefig",
           "fsync_dir"]


def fsync_dir(folder: str | os.PathLike) -> None:
    """fsync a folder so a rename inside it is durable; silently does nothing where that is unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new, exclusively created temp file next to ``path``: (fd, temp path)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, binary: bool = False, *, mode: int | None = None,
                encoding: str = "utf-8", newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temp file next to ``path`` for writing; on a clean exit it replaces ``path``.

    For callers that stream into a handle (``np.save``, ``torch.save``, ``csv.writer``,
    ``fig.savefig``). ``binary`` picks bytes or text (``encoding``, ``newline`` as for ``open``);
    ``mode`` (e.g. ``0o644``) sets the file's permissions. If the block raises, the temp file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = _create_temp(path)
    try:
        if binary:
            fh = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:
            # a full disk (or any I/O error) while writing: a write through a file handle names no
            # file, so name the target, which is what the user has to act on (it is left as it was)
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path`` as a ``Path``."""
    with atomic_open(path, binary=True, mode=mode) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, *, mode: int | None = None,
                      encoding: str = "utf-8", newline: str | None = None) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path`` as a ``Path``."""
    with atomic_open(path, mode=mode, encoding=encoding, newline=newline) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, data: Any, *, compact: bool = False, indent: int | None = 1,
                      sort_keys: bool = False, default: Callable[[Any], Any] | None = None, end: str = "",
                      mode: int | None = None, parents: bool = False) -> Path:
    """Write ``data`` as JSON to ``path`` atomically; returns ``path`` as a ``Path``.

    ``compact`` drops all whitespace (large, frequently rewritten state); otherwise ``indent`` (files
    people read). ``sort_keys`` and ``default`` are passed to ``json.dumps``; ``end`` is appended
    (``"\\n"`` for a trailing newline); ``parents`` creates the folder first.
    """
    if parents:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if compact:
        text = json.dumps(data, separators=(",", ":"), sort_keys=sort_keys, default=default)
    else:
        text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=default)
    return atomic_write_text(path, text + end, mode=mode)


def atomic_savefig(fig: Any, path: str | os.PathLike, *, format: str = "png", **kwargs: Any) -> Path:
    """``fig.savefig`` (a matplotlib figure) into ``path`` atomically; ``kwargs`` go to ``savefig``."""
    with atomic_open(path, binary=True) as fh:
        fig.savefig(fh, format=format, **kwargs)
    return Path(path)
