"""``history.csv``: the append-only record of every evaluation of a search, and its reader.

One row per evaluation, appended and flushed (and fsync'ed) the moment it completes, so a killed
search loses at most the evaluations in flight. A kill can leave a half-written last line; the
reader drops it (and truncates the file to the last complete row) and refuses anything else that
does not parse, naming the line.
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from oneshot.errors import CheckpointError
from oneshot.spaces.core import Architecture, SearchSpace

LEAD = ("eval_index", "key", "encoding", "generation")
TAIL = ("feasible", "seconds", "error")


@dataclass
class Row:
    """One evaluation as stored."""

    eval_index: int
    key: str
    arch: Architecture
    generation: int
    metrics: dict[str, float] = field(default_factory=dict)
    feasible: bool = True
    seconds: float = 0.0
    error: str = ""


def header(space: SearchSpace, metric_names: Sequence[str]) -> list[str]:
    return [*LEAD, *(d.name for d in space.dimensions), *metric_names, *TAIL]


class History:
    """Reader/appender of ``history.csv`` for one space and a fixed list of metric columns."""

    def __init__(self, path: str | os.PathLike, space: SearchSpace, metric_names: Sequence[str]):
        self.path = Path(path)
        self.space = space
        self.metric_names = tuple(metric_names)
        self.columns = header(space, self.metric_names)
        self.rows: list[Row] = []
        self._fh = None

    # ------------------------------------------------------------ reading
    def load(self) -> list[Row]:
        """Read existing rows (dropping a torn last line); CheckpointError on anything else."""
        if not self.path.exists():
            self.rows = []
            return self.rows
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            # a kill mid-write: keep only complete lines, on disk too, so appends start clean
            raw = raw[: raw.rfind(b"\n") + 1]
            with open(self.path, "r+b") as fh:
                fh.truncate(len(raw))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError(f"{self.path} is not a text CSV file; it is corrupt - remove the run "
                                  f"directory or use another --out") from None
        reader = csv.reader(io.StringIO(text))
        lines = list(reader)
        if not lines:
            self.rows = []
            return self.rows
        if lines[0] != self.columns:
            raise CheckpointError(
                f"{self.path} has columns {lines[0][:6]}... but this search writes {self.columns[:6]}...: "
                f"it belongs to another space or evaluator; use another --out or drop --resume")
        dims = self.space.dimensions
        rows = []
        seen: dict[str, int] = {}
        for n, values in enumerate(lines[1:], start=2):
            if len(values) != len(self.columns):
                raise CheckpointError(f"{self.path} line {n} has {len(values)} fields, expected "
                                      f"{len(self.columns)}: the history is corrupt")
            rec = dict(zip(self.columns, values))
            try:
                arch = Architecture(d.choices.index(rec[d.name]) for d in dims)
                metrics = {m: float(rec[m]) for m in self.metric_names if rec[m] != ""}
                row = Row(int(rec["eval_index"]), rec["key"], arch, int(rec["generation"]), metrics,
                          rec["feasible"] == "1", float(rec["seconds"]), rec["error"])
            except ValueError as exc:
                raise CheckpointError(f"{self.path} line {n} does not parse ({exc}): the history is corrupt") from None
            if row.key != self.space.key(arch):
                raise CheckpointError(f"{self.path} line {n}: key {row.key!r} does not match its choices "
                                      f"(canonical {self.space.key(arch)!r}); the history is corrupt")
            if row.key in seen:  # two writers on one run (before run locks existed) or a hand edit
                raise CheckpointError(f"{self.path} line {n}: key {row.key!r} was already recorded on line "
                                      f"{seen[row.key]}; a history holds each network once - remove the "
                                      f"duplicate lines or start a new --out")
            seen[row.key] = n
            rows.append(row)
        self.rows = rows
        return rows

    # ------------------------------------------------------------ writing
    def open(self) -> None:
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh = open(self.path, "a", newline="", encoding="utf-8")
        if new:
            self._write(self.columns)

    def _write(self, values: Sequence[object]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        self._fh.write(buf.getvalue())
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def append(self, row: Row) -> None:
        """Write one row and force it to disk before returning."""
        if self._fh is None:
            self.open()
        labels = [d.choices[i] for d, i in zip(self.space.dimensions, row.arch)]
        metrics = [_fmt(row.metrics.get(m)) for m in self.metric_names]
        self._write([row.eval_index, row.key, self.space.encoding_key(row.arch), row.generation, *labels,
                     *metrics, int(row.feasible), f"{row.seconds:.6f}", row.error])
        self.rows.append(row)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value))
