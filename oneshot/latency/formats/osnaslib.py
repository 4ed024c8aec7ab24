"""OSNASLib position-keyed JSON: ``{"latency": [[ms per choice] per layer], "base_latency": ms}``.

Row i is the i-th searchable layer (the space's searchable slots in dimension order) and column j its
j-th choice, in the space's choice order. ``base_latency`` (stem, head, classifier) is the constant.
"""
from __future__ import annotations

import json
import os
from typing import Any

from oneshot.errors import LUTError

from ..table import Entry, LatencyTable
from . import FORMATS
from ._common import Imported, fixed_zero, need_space, read_text, source_provenance, space_positions


@FORMATS.decorator("osnaslib", "OSNASLib JSON {\"latency\": [[per layer, per choice]], \"base_latency\": ms}")
def read(path: str | os.PathLike, space: Any = None, **_: Any) -> Imported:
    space = need_space(space, "OSNASLib")
    try:
        data = json.loads(read_text(path, "OSNASLib latency table"))
        rows = data["latency"]
    except (ValueError, KeyError, TypeError) as exc:
        raise LUTError(f"{path}: expected {{\"latency\": [[...]], \"base_latency\": ms}} ({exc})") from exc
    slots = list(space_positions(space))
    if len(rows) != len(slots):
        raise LUTError(f"{path} has {len(rows)} layers but space {space.name!r} has {len(slots)} searchable layers")
    table = LatencyTable(constant_ms=float(data.get("base_latency", 0.0)))
    for i, (slot, row) in enumerate(zip(slots, rows)):
        labels = space.dimensions[slot.dim].choices
        if len(row) != len(labels):
            raise LUTError(f"{path}: layer {i} ({slot.name}) has {len(row)} values for {len(labels)} choices "
                           f"({', '.join(labels)})")
        table.positional[slot.name] = {lab: Entry(float(v)) for lab, v in zip(labels, row)}
    fixed_zero(space, table, "inside base_latency")
    table.provenance.update(source_provenance(path, "osnaslib", statistic="published latency",
                                              space={"name": space.name, "options": dict(space.options)}))
    return Imported(table)
