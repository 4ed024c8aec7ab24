"""Generic CSV: ``key,latency_ms[,std_ms,count]``, an optional header line.

``key`` is an operator signature (``oneshot arch-info`` and ``oneshot lut check`` print them),
``@SLOT:LABEL`` for a position-specific value, or ``constant`` for the fixed part.
"""
from __future__ import annotations

import csv
import io
import os
from typing import Any

from oneshot.errors import LUTError

from ..table import Entry, LatencyTable, check_latency
from . import FORMATS
from ._common import Imported, read_text, source_provenance


@FORMATS.decorator("csv", "generic CSV: key,latency_ms[,std_ms,count] (key = signature, @slot:label or constant)")
def read(path: str | os.PathLike, space: Any = None, **_: Any) -> Imported:
    table = LatencyTable()
    rows = list(csv.reader(io.StringIO(read_text(path, "CSV latency table"))))
    for n, row in enumerate(rows, start=1):
        row = [c.strip() for c in row]
        if not row or not row[0] or row[0].startswith("#"):
            continue
        if n == 1 and row[0].lower() in ("key", "signature"):
            continue  # header
        if len(row) < 2:
            raise LUTError(f"{path}:{n}: expected key,latency_ms[,std_ms,count], got {row!r}")
        try:
            entry = Entry(float(row[1]), float(row[2]) if len(row) > 2 and row[2] else 0.0,
                          int(float(row[3])) if len(row) > 3 and row[3] else 0)
        except ValueError as exc:
            raise LUTError(f"{path}:{n}: non-numeric value in {row!r}") from exc
        key = row[0]
        # checked row by row, so the error names the line
        check_latency(f"{path}:{n}", key, entry.ms, allow_negative=key.startswith("@"))
        if key == "constant":
            table.constant_ms = entry.ms
        elif key.startswith("@"):
            slot, _, label = key[1:].partition(":")
            if not label:
                raise LUTError(f"{path}:{n}: positional key {key!r} must be @SLOT:LABEL")
            table.positional.setdefault(slot, {})[label] = entry
        else:
            table.entries[key] = entry
    if not len(table) and not table.constant_ms:
        raise LUTError(f"{path} holds no latency rows (expected key,latency_ms[,std_ms,count])")
    table.provenance = source_provenance(path, "csv")
    return Imported(table)
