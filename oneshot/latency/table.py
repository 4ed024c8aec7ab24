"""``LatencyTable``: the one internal form of every latency lookup table, and its JSON file.

A table maps an operator's ``OpSpec.signature()`` to a measured time (``ms``: the mean for tables
profiled here, with the median next to it; the published value for imported ones), its spread and
the number of timed runs. Some
published models are keyed by *position* instead of by operator (TuNAS's linear model, Single-Path
NAS's per-layer model, OSNASLib): those go in ``positional`` (slot name -> choice label -> entry) and
win over the signature entry for that slot. ``constant_ms`` holds fixed costs that no operator
carries (TF-NAS's ``base``, OSNASLib's ``base_latency``, a linear model's bias). ``provenance`` says
where the numbers come from (device, torch version, threads, batch, resolution, date, protocol, BN
folded or not); ``correction`` is an optional per-device fit written by ``oneshot lut validate``.

Framework-free (standard library + numpy): reading a table never imports torch.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from oneshot.atomic import atomic_write_json
from oneshot.errors import LUTError

FORMAT = "oneshot-lut"
VERSION = 1


@dataclass(frozen=True)
class Entry:
    """One timed operator: ``ms`` (the value priced: the mean for tables profiled here, the published
    value for imported ones), ``std`` (spread), ``count`` (runs) and, when profiled here, ``median``."""

    ms: float
    std: float = 0.0
    count: int = 0
    median: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"ms": self.ms, "std": self.std, "count": self.count}
        if self.median is not None:
            data["median"] = self.median
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> "Entry":
        if isinstance(data, (int, float)):
            return cls(float(data))
        if not isinstance(data, Mapping) or "ms" not in data:
            raise LUTError(f"latency entry {where!r} must be a number or {{'ms': ..}}, got {data!r}")
        try:
            median = data.get("median")
            return cls(float(data["ms"]), float(data.get("std", 0.0)), int(data.get("count", 0)),
                       None if median is None else float(median))
        except (TypeError, ValueError) as exc:
            raise LUTError(f"latency entry {where!r} has a non-numeric field: {data!r}") from exc


@dataclass
class LatencyTable:
    """Per-operator (and optionally per-position) latencies in milliseconds, with provenance."""

    entries: dict[str, Entry] = field(default_factory=dict)
    positional: dict[str, dict[str, Entry]] = field(default_factory=dict)
    constant_ms: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)
    correction: dict[str, float] | None = None

    def __len__(self) -> int:
        return len(self.entries) + sum(len(v) for v in self.positional.values())

    def lookup(self, signature: str, slot: str | None = None, label: str | None = None) -> Entry | None:
        """The entry for an operator at a slot: the positional entry if any, else the signature's."""
        if slot is not None and label is not None:
            pos = self.positional.get(slot)
            if pos is not None and label in pos:
                return pos[label]
        return self.entries.get(signature)

    def profiled_space(self, fingerprint: str) -> dict[str, Any] | None:
        """The provenance record of the space with this fingerprint, for tables profiled here."""
        for rec in self.provenance.get("spaces", []):
            if rec.get("fingerprint") == fingerprint:
                return rec
        return None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "provenance": self.provenance,
                                "constant_ms": self.constant_ms,
                                "entries": {k: v.to_json() for k, v in sorted(self.entries.items())}}
        if self.positional:
            data["positional"] = {s: {lab: e.to_json() for lab, e in row.items()}
                                  for s, row in self.positional.items()}
        if self.correction:
            data["correction"] = dict(self.correction)
        return data

    @classmethod
    def from_json(cls, data: Any, source: str = "<table>") -> "LatencyTable":
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise LUTError(f"{source} is not a oneshot latency table (no \"format\": \"{FORMAT}\"); "
                           "convert a published table with `oneshot lut import --format ...`")
        if int(data.get("version", 0)) > VERSION:
            raise LUTError(f"{source} has table version {data['version']}, newer than this oneshot "
                           f"({VERSION}); upgrade oneshot")
        entries = {str(k): Entry.from_json(v, k) for k, v in (data.get("entries") or {}).items()}
        positional = {str(s): {str(lab): Entry.from_json(e, f"{s}/{lab}") for lab, e in row.items()}
                      for s, row in (data.get("positional") or {}).items()}
        correction = data.get("correction")
        table = cls(entries, positional, float(data.get("constant_ms", 0.0)),
                    dict(data.get("provenance") or {}), dict(correction) if correction else None)
        table.check_values(source)
        return table

    def check_values(self, source: str = "<table>") -> None:
        """Refuse a value no measurement can have (``check_latency``). Positional entries may be
        negative (TuNAS's linear model has negative coefficients), but must be finite."""
        for key, entry in self.entries.items():
            check_latency(source, key, entry.ms)
        for slot, row in self.positional.items():
            for label, entry in row.items():
                check_latency(source, f"{slot}/{label}", entry.ms, allow_negative=True)
        check_latency(source, "the constant part", self.constant_ms)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the table as JSON atomically (a crash never leaves a half-written table)."""
        return atomic_write_json(path, self.to_json(), end="\n", mode=0o644, parents=True)  # a table is meant to be shared

    def digest(self) -> str:
        """sha256 of the canonical JSON (recorded by searches as the table's identity)."""
        blob = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def check_latency(source: str, where: str, value: float, allow_negative: bool = False) -> None:
    """LUTError naming ``where`` in ``source`` for a NaN / infinite time, or a negative one."""
    import math

    if not math.isfinite(value):
        raise LUTError(f"{source}: latency of {where} is {value}; every entry must be a finite number "
                       f"of ms (re-profile or fix the table)")
    if value < 0 and not allow_negative:
        raise LUTError(f"{source}: latency of {where} is negative ({value} ms); an operator cannot "
                       f"take negative time (re-profile or fix the table)")


def load_table(path: str | os.PathLike) -> LatencyTable:
    """Read a oneshot latency table JSON; malformed files raise ``LUTError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise LUTError(f"latency table {str(path)!r} does not exist; create one with `oneshot lut profile` "
                       "or `oneshot lut import`")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LUTError(f"latency table {str(path)!r} is not valid JSON ({exc})") from exc
    return LatencyTable.from_json(data, str(path))
