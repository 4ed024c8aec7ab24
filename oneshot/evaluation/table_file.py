"""User-supplied tabular benchmarks: a CSV or JSON file of architectures and their measured metrics.

A *column mapping* says which column holds the architecture (any form the space's ``parse`` reads,
e.g. NAS-Bench-201's ``|nor_conv_3x3~0|+|...|`` strings), which columns are metrics
(``accuracy=CIFAR10TestAccuracy200Epochs``) and which are costs (``macs=FLOPs*1e6``,
``params=Params*M``: the column times a scale). Costs are looked up per architecture before
anything is evaluated (``cost_lookup``), so they are objectives and budgets alike.

Bad input is one line naming the file, row and column; rows with a duplicate architecture (the first
is kept) and rows with missing values (left out) are counted and the first examples named in
``TableReport``, printed by the commands and recorded in ``search.json``.
"""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from oneshot.errors import ConfigError
from oneshot.spaces.core import Architecture, InvalidArchitectureError, SearchSpace

from .base import EvaluationResult, evaluate_one

COST_METRICS = ("macs", "params", "latency_ms")
_SCALES = {"k": 1e3, "m": 1e6, "g": 1e9}
_EXAMPLES = 3


def parse_cost(text: str) -> tuple[str, float]:
    """``'FLOPs*1e6'`` / ``'FLOPs*M'`` / ``'FLOPs'`` -> (column, scale)."""
    column, _, scale = text.rpartition("*") if "*" in text else (text, "", "")
    if not scale:
        return text.strip(), 1.0
    s = scale.strip()
    try:
        return column.strip(), _SCALES[s.lower()] if s.lower() in _SCALES else float(s)
    except ValueError:
        raise ConfigError(f"--cost ...={text}: cannot read the scale {scale!r}; write COLUMN*1e6 or COLUMN*M "
                          f"(K, M, G)") from None


@dataclass
class TableReport:
    """What loading the file found: rows read, kept, duplicates and rows with missing values."""

    rows: int = 0
    kept: int = 0
    duplicates: int = 0
    duplicate_examples: list[str] = field(default_factory=list)
    missing: int = 0
    missing_examples: list[str] = field(default_factory=list)

    def lines(self, path: str) -> list[str]:
        out = [f"{path}: {self.kept} architectures from {self.rows} rows"]
        if self.duplicates:
            out.append(f"{path}: {self.duplicates} row(s) repeat an architecture (first kept): "
                       + "; ".join(self.duplicate_examples))
        if self.missing:
            out.append(f"{path}: {self.missing} row(s) with missing values left out: "
                       + "; ".join(self.missing_examples))
        return out

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows as dicts: CSV with a header, a JSON list of objects, or a JSON object {arch: {column: value}}."""
    if not path.is_file():
        raise ConfigError(f"--benchmark {path}: no such file")
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    if path.suffix.lower() != ".json":
        raise ConfigError(f"--benchmark {path}: give a .csv or .json file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--benchmark {path} is not valid JSON ({exc})") from None
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        return [{"__key__": k, **v} for k, v in data.items()]
    if isinstance(data, list) and all(isinstance(v, dict) for v in data):
        return data
    raise ConfigError(f"--benchmark {path}: expected a list of row objects or an object {{architecture: {{column: "
                      f"value}}}}")


def _number(value: Any) -> float | None:
    """The float of a cell; None when missing (empty, null, NaN)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "nan", "null", "none")):
        return None
    v = float(value)
    return None if math.isnan(v) else v


def load_table(path: str | Path, space: SearchSpace, arch_column: str | None, metrics: dict[str, str],
               costs: dict[str, str]) -> tuple[dict[str, dict[str, float]], TableReport]:
    """``{key: {metric: value}}`` for every usable row, and the report. ``arch_column`` None: the JSON
    object's keys are the architectures."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ConfigError(f"--benchmark {path}: the file has no rows")
    columns = list(rows[0])
    arch_col = arch_column or ("__key__" if "__key__" in columns else None)
    if arch_col is None:
        raise ConfigError(f"--benchmark {path}: give --arch-column (columns: {', '.join(columns)})")
    wanted = {m: (c, 1.0) for m, c in metrics.items()} | {m: parse_cost(c) for m, c in costs.items()}
    for col in [arch_col] + [c for c, _ in wanted.values()]:
        if col not in columns:
            shown = [c for c in columns if c != "__key__"]
            raise ConfigError(f"--benchmark {path}: no column {col!r}; columns: {', '.join(shown)}")
    table: dict[str, dict[str, float]] = {}
    first_row: dict[str, int] = {}
    report = TableReport(rows=len(rows))
    for i, row in enumerate(rows, start=1):
        text = row.get(arch_col)
        values: dict[str, float] = {}
        missing = [] if text not in (None, "") else [arch_col]
        for metric, (col, scale) in wanted.items():
            try:
                v = _number(row.get(col))
            except (TypeError, ValueError):
                raise ConfigError(f"--benchmark {path} row {i}: column {col!r} holds {row.get(col)!r}, not a "
                                  f"number") from None
            if v is None:
                missing.append(col)
            else:
                values[metric] = v * scale
        if missing:
            report.missing += 1
            if len(report.missing_examples) < _EXAMPLES:
                report.missing_examples.append(f"row {i} ({', '.join(missing)})")
            continue
        try:
            key = space.key(space.parse(str(text)))
        except InvalidArchitectureError as exc:
            raise ConfigError(f"--benchmark {path} row {i}: cannot read architecture {text!r} of space "
                              f"{space.name!r} ({exc})") from None
        if key in table:
            report.duplicates += 1
            if len(report.duplicate_examples) < _EXAMPLES:
                report.duplicate_examples.append(f"row {i} repeats row {first_row[key]} ({text})")
            continue
        table[key] = values
        first_row[key] = i
    report.kept = len(table)
    if not table:
        raise ConfigError(f"--benchmark {path}: no usable row ({report.missing} with missing values)")
    return table, report


def infer_space(path: str | Path, arch_column: str | None) -> str:
    """The one registered space that reads the file's first architecture; an error when none or several do."""
    from oneshot.spaces import create_space, list_spaces

    rows = _read_rows(Path(path))
    col = arch_column or "__key__"
    if rows and col not in rows[0]:
        shown = [c for c in rows[0] if c != "__key__"]
        raise ConfigError(f"--benchmark {path}: no column {col!r}; columns: {', '.join(shown)}"
                          if arch_column else f"--benchmark {path}: give --arch-column (columns: {', '.join(shown)})")
    text = str(rows[0].get(col, "")) if rows else ""
    fits = []
    for name in list_spaces():
        try:
            create_space(name).parse(text)
            fits.append(name)
        except (InvalidArchitectureError, ValueError, ConfigError):
            continue
    if len(fits) != 1:
        found = f"spaces {', '.join(fits)} all read it" if fits else "no registered space reads it"
        raise ConfigError(f"--benchmark {path}: cannot tell the space from the first architecture {text!r} "
                          f"({found}); give --space NAME")
    return fits[0]


@lru_cache(maxsize=8)
def _cached(path: str, mtime: int, space_name: str, arch_column: str | None, metrics: tuple, costs: tuple):
    from oneshot.spaces import create_space

    space = create_space(space_name)
    table, report = load_table(path, space, arch_column, dict(metrics), dict(costs))
    return space, table, report


def _load(path: str, space: str, arch_column: str | None, metrics: dict[str, str], costs: dict[str, str]):
    p = Path(path)
    mtime = p.stat().st_mtime_ns if p.is_file() else 0
    return _cached(str(p), mtime, space, arch_column, tuple(sorted(metrics.items())), tuple(sorted(costs.items())))


class TableEvaluator:
    """Looks up the mapped metrics of each architecture in a user's benchmark file.

    Options (all plain, so a Ray worker rebuilds it): ``path``, ``space`` (registered name),
    ``arch_column``, ``metrics`` ``{name: column}``, ``costs`` ``{macs|params|latency_ms: 'COLUMN[*SCALE]'}``.
    An architecture the file does not list is an evaluation error naming it.
    """

    def __init__(self, path: str, space: str, metrics: dict[str, str], arch_column: str | None = None,
                 costs: dict[str, str] | None = None, delay_s: float = 0.0):
        if not metrics:
            raise ConfigError("a benchmark file needs at least one --metric NAME=COLUMN, e.g. accuracy=test_acc")
        bad = [m for m in (costs or {}) if m not in COST_METRICS]
        if bad:
            raise ConfigError(f"--cost {bad[0]}=...: costs are {', '.join(COST_METRICS)} (budgets and objectives "
                              f"on them); map other columns with --metric")
        self.path, self.arch_column = str(path), arch_column
        self.metrics, self.costs = dict(metrics), dict(costs or {})
        self.delay_s = float(delay_s)
        self.space, self._table, self.report = _load(self.path, space, arch_column, self.metrics, self.costs)
        self.metric_names = tuple(self.metrics)

    @classmethod
    def cost_lookup(cls, path: str, space: str, metrics: dict[str, str], arch_column: str | None = None,
                    costs: dict[str, str] | None = None, **_: Any) -> dict[str, dict[str, float]]:
        """``{cost metric: {key: value}}`` of the mapped cost columns (what a search prices and bounds)."""
        if not costs:
            return {}
        _, table, _ = _load(str(path), space, arch_column, dict(metrics), dict(costs))
        return {m: {k: v[m] for k, v in table.items()} for m in costs}

    def describe(self) -> dict[str, Any]:
        return {"kind": "table", "file": self.path, "space": self.space.name, "arch_column": self.arch_column,
                "metrics": self.metrics, "costs": self.costs, "report": self.report.to_json()}

    def evaluate(self, archs: Sequence[Architecture]) -> list[EvaluationResult]:
        return [evaluate_one(self.space, arch, self._score) for arch in archs]

    def _score(self, arch: Architecture, key: str) -> dict[str, float]:
        record = self._table.get(key)
        if record is None:
            raise KeyError(f"{self.space.format(arch)} is not in {self.path}")
        if self.delay_s:
            time.sleep(self.delay_s)
        return {m: record[m] for m in self.metrics}

    def close(self) -> None:
        pass
