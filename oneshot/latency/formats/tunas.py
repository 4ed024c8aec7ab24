"""TuNAS's linear latency model for ``proxylessnas_search`` (space ``tunas-proxylessnas``).

``cost_ms = bias + sum of the coefficients of the selected one-hot features``. Feature layout (from
the JSON): the sepconv kernel {3,5,7} (3 features), then 21 bottleneck layers in network order; the
first layer of a block has 6 features, the others 7; within a layer kernel-major
``(k3,e3),(k3,e6),(k5,e3),(k5,e6),(k7,e3),(k7,e6)`` then skip. Coefficients depend on the position,
so they go into the table's positional part; the bias is the constant (stem and head are inside it).
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from oneshot.errors import LUTError

from ..table import Entry, LatencyTable
from . import FORMATS
from ._common import Imported, fixed_zero, need_space, read_text, source_provenance, space_positions

KERNELS = (3, 5, 7)
EXPANDS = (3, 6)
_LABEL = re.compile(r"^e(\d+)k(\d+)$")


def feature_index(label: str) -> int:
    """Index of a bottleneck choice inside its layer's features (kernel-major; skip last)."""
    if label == "skip":
        return len(KERNELS) * len(EXPANDS)
    m = _LABEL.match(label)
    if not m or int(m.group(1)) not in EXPANDS or int(m.group(2)) not in KERNELS:
        raise LUTError(f"choice {label!r} is not a TuNAS bottleneck (e{{3,6}}k{{3,5,7}} or skip)")
    return KERNELS.index(int(m.group(2))) * len(EXPANDS) + EXPANDS.index(int(m.group(1)))


@FORMATS.decorator("tunas", "TuNAS linear Pixel-1 model for tunas-proxylessnas (bias + one-hot coefficients)")
def read(path: str | os.PathLike, space: Any = None, **_: Any) -> Imported:
    space = need_space(space, "TuNAS linear model")
    try:
        data = json.loads(read_text(path, "TuNAS cost model"))
        coef = [float(c) for c in data["coefficients"]]
        bias = float(data["bias"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LUTError(f"{path}: expected {{\"bias\": .., \"coefficients\": [...]}} ({exc})") from exc
    slots = list(space_positions(space))
    if not slots or slots[0].name != "b1.sepconv" or len(slots) != 22:
        raise LUTError(f"the TuNAS proxylessnas_search model describes space 'tunas-proxylessnas' "
                       f"(22 searchable layers starting with b1.sepconv), not {space.name!r}")
    table = LatencyTable(constant_ms=bias)
    pos = 0
    for slot in slots:
        labels = space.dimensions[slot.dim].choices
        if slot.name == "b1.sepconv":
            width = len(KERNELS)
            row = {lab: Entry(coef[pos + KERNELS.index(int(lab[1:]))]) for lab in labels}
        else:
            width = len(KERNELS) * len(EXPANDS) + ("skip" in labels)
            row = {lab: Entry(coef[pos + feature_index(lab)]) for lab in labels}
        table.positional[slot.name] = row
        pos += width
    if pos != len(coef):
        raise LUTError(f"{path} has {len(coef)} coefficients but space {space.name!r} needs {pos}")
    fixed_zero(space, table, "inside the model's bias")
    table.provenance.update(source_provenance(path, "tunas", unit=data.get("unit", "ms"),
                                              model="linear: bias + one-hot coefficients",
                                              space={"name": space.name, "options": dict(space.options)}))
    return Imported(table, [f"linear model: bias {bias:.3f} ms + {len(coef)} per-position coefficients "
                            "(some negative: a fitted model, not per-op times)"])
