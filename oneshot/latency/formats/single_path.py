"""Single-Path NAS per-layer Pixel-1 runtime model (space ``single-path-nas``).

JSON ``{"0".."21": {"0".."3": ms}}``: one entry per MBConv layer of the network and choice
``0 MBConv(3,3), 1 MBConv(6,3), 2 MBConv(3,5), 3 MBConv(6,5)``. Layers 1-20 are the searchable
ones; layers 0 and 21, the stem, head and classifier are inside the constant 19.5999 ms that the
Single-Path NAS search code starts its runtime sum from (``singlepath_supernet.py``). A skip costs
``skip_ms`` (default 0; the search code uses 0.7 ms as a 'negligible, non-zero' placeholder).
"""
from __future__ import annotations

import json
import os
from typing import Any

from oneshot.errors import LUTError

from ..table import Entry, LatencyTable
from . import FORMATS
from ._common import Imported, fixed_zero, need_space, read_text, source_provenance, space_positions

#: Single-Path NAS's runtime of everything outside the 20 searchable layers (ms)
BASE_MS = 19.5999
CHOICES = {"e3k3": "0", "e6k3": "1", "e3k5": "2", "e6k5": "3"}


@FORMATS.decorator("single-path-nas", "Single-Path NAS per-layer Pixel-1 runtime model (single-path-nas space)")
def read(path: str | os.PathLike, space: Any = None, skip_ms: float = 0.0, **_: Any) -> Imported:
    space = need_space(space, "Single-Path NAS runtime model")
    try:
        data = json.loads(read_text(path, "Single-Path NAS runtime model"))
        layers = {int(k): {str(c): float(v) for c, v in row.items()} for k, row in data.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise LUTError(f"{path}: expected {{layer: {{choice: ms}}}} ({exc})") from exc
    slots = list(space_positions(space))
    if len(slots) != 20 or len(layers) != 22:
        raise LUTError(f"the Single-Path NAS model (22 layers, 20 searchable) does not describe space "
                       f"{space.name!r} ({len(slots)} searchable layers); use --space single-path-nas")
    table = LatencyTable(constant_ms=BASE_MS)
    for i, slot in enumerate(slots, start=1):
        row = {}
        for label in space.dimensions[slot.dim].choices:
            if label == "skip":
                row[label] = Entry(float(skip_ms))
            elif label in CHOICES:
                row[label] = Entry(layers[i][CHOICES[label]])
            else:
                raise LUTError(f"choice {label!r} of {slot.name} is not in the Single-Path NAS model")
        table.positional[slot.name] = row
    fixed_zero(space, table, f"inside the {BASE_MS} ms constant (stem, layers 0 and 21, head)")
    table.provenance.update(source_provenance(path, "single-path-nas", unit="ms (Pixel-1)", skip_ms=skip_ms,
                                              space={"name": space.name, "options": dict(space.options)}))
    return Imported(table, [f"constant {BASE_MS} ms (stem, first and last layers, head) from the Single-Path NAS "
                            f"search code; skip = {skip_ms} ms"])
