"""S3NAS latency folder: one JSON per block, ``<Class>/<block string>_imgsize<H>.json`` -> ``{"latency": ms}``.

Block strings are MnasNet's ``r1_k{k}_s{s}{s}_e{e}_i{Cin}_o{Cout}[_se{ratio}][_noskip]`` (read with
``oneshot.spaces.encodings.BlockString``); only single-layer MBConv blocks (``MBConvBlock`` or any
class whose string parses) are mapped. A ``base.json`` / ``base_latency.json`` with ``{"latency": ms}``
at the top of the folder becomes the constant part. It is one lump for every fixed part the folder
does not time itself (stem, head convs, pool, classifier), so those slots are mapped onto it as the
OSNASLib importer does (0 ms each, the lump in the constant) and the import says so.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from oneshot.errors import LUTError
from oneshot.spaces.encodings import BlockString, EncodingError

from ..table import Entry
from . import FORMATS
from ._common import Imported, Shape, match_shapes, need_space, source_provenance

_FILE = re.compile(r"^(?P<block>.+)_imgsize(?P<hw>\d+)(?:\.json)?$")


@FORMATS.decorator("s3nas", "S3NAS folder: <Class>/<block string>_imgsize<H>.json -> {\"latency\": ms}")
def read(path: str | os.PathLike, space: Any = None, **_: Any) -> Imported:
    """Read an S3NAS latency folder and map its blocks onto ``space``'s MBConvs."""
    space = need_space(space, "S3NAS")
    root = Path(path)
    if not root.is_dir():
        raise LUTError(f"S3NAS table {str(root)!r} is not a folder of <Class>/<block>_imgsize<H>.json files")
    shapes, entries, unknown, constant = {}, {}, [], None
    for f in sorted(root.rglob("*.json")):
        rel = f.relative_to(root).as_posix()
        latency = _latency(f)
        if f.parent == root and f.stem in ("base", "base_latency"):
            constant = latency
            continue
        m = _FILE.match(f.name)
        try:
            if not m:
                raise EncodingError(rel)
            block = BlockString.parse(m.group("block"))
        except EncodingError:
            unknown.append(rel)
            continue
        if block.repeat != 1:
            unknown.append(rel)
            continue
        se = None if not block.se_ratio else True
        shapes[rel] = Shape("mbconv", block.cin, block.cout, int(m.group("hw")), block.stride, block.kernel,
                            int(round(block.cin * block.expand)), se if se else False,
                            residual=None if block.noskip else None)
        entries[rel] = Entry(latency)
    result = match_shapes(space, shapes, entries)
    result.unmatched += unknown
    result.table.provenance = source_provenance(root, "s3nas", statistic="published latency",
                                                space={"name": space.name, "options": dict(space.options)})
    if constant is not None:
        _base_as_fixed_slots(space, result, constant)
    if result.unmatched:
        result.notes.append(f"{len(result.unmatched)} file(s) match no operator of {space.name} "
                            f"(first: {result.unmatched[0]})")
    return result


def _base_as_fixed_slots(space: Any, result: Imported, base_ms: float) -> None:
    """The base entry prices, as one lump, every fixed slot the folder has no block file for."""
    table = result.table
    table.constant_ms = base_ms
    lumped = [slot.name for slot in space.slots
              if slot.dim is None and not slot.ops[0].is_identity and slot.ops[0].signature() not in table.entries]
    for name in lumped:
        table.positional[name] = {"fixed": Entry(0.0)}
    if lumped:
        table.provenance["fixed_parts"] = f"one lump in base ({', '.join(lumped)})"
        result.notes.append(f"base entry {base_ms:.4g} ms is one lump for {', '.join(lumped)}: priced as a "
                            "constant, those slots cost 0 ms each (no per-part split is published)")


def _latency(f: Path) -> float:
    try:
        data = json.loads(f.read_text())
        return float(data["latency"] if isinstance(data, dict) else data)
    except (ValueError, KeyError, TypeError) as exc:
        raise LUTError(f"{f}: expected {{\"latency\": ms}} ({exc})") from exc
