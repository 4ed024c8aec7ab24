"""OFA / ProxylessNAS YAML tables: ``key -> {count, mean, std|var}``.

Keys (see ``../shared/data/README.md``): ``Conv-input:RxRx3-output:FxFxC`` (stem),
``expanded_conv-input:HxHxCin-output:H'xH'xCout-expand:E-kernel:k-stride:s-idskip:0|1`` with
``-se:0|1-hs:0|1`` in OFA MobileNetV3 tables, ``Conv_1-...`` (1x1 before the pool),
``AvgPool2D-...``, ``Conv_2-...`` (1x1 after the pool, MobileNetV3) and ``Logits-...``.
The one trap: OFA's ``expand`` is the number of mid channels, ProxylessNAS's is the ratio
(``dialect``: ``ofa`` / ``proxylessnas``; ``auto`` picks OFA when keys carry ``-se:``).
ProxylessNAS tables have no ``AvgPool2D`` key: their ``Logits-input:7x7x1280-output:1000`` times
the global pool and the classifier together, so a Logits key with a spatial input prices the
classifier and the pool before it costs 0 (the import says so).
"""
from __future__ import annotations

import math
import os
import re
from typing import Any

import yaml

from oneshot.errors import LUTError

from ..table import Entry
from . import FORMATS
from ._common import Imported, Shape, match_shapes, need_space, read_text, source_provenance

_HWC = r"(\d+)x(\d+)x(\d+)"
_MB = re.compile(rf"^expanded_conv-input:{_HWC}-output:{_HWC}-expand:([0-9.]+)-kernel:(\d+)-stride:(\d+)"
                 rf"-idskip:([01])(?:-se:([01]))?(?:-hs:([01]))?$")
_PLAIN = re.compile(rf"^(Conv|Conv_1|Conv_2|AvgPool2D|Logits)-input:{_HWC}-output:(?:(\d+)x(\d+)x)?(\d+)$")


def parse_key(key: str, dialect: str) -> Shape | None:
    """The operator a key describes, or None for keys this mapping does not know."""
    m = _MB.match(key)
    if m:
        h, _, cin, ho, _, cout, expand, k, s, idskip, se, hs = m.groups()
        cin, cout, e = int(cin), int(cout), float(expand)
        mid = int(round(e)) if dialect == "ofa" else int(round(cin * e))
        act = None if hs is None else ("hswish" if hs == "1" else "relu")
        return Shape("mbconv", cin, cout, int(h), int(s), int(k), mid, None if se is None else se == "1", act,
                     residual=idskip == "1")
    m = _PLAIN.match(key)
    if not m:
        return None
    name, h, _, cin, ho, _, cout = m.groups()
    h, cin, cout = int(h), int(cin), int(cout)
    if name == "Conv":
        return Shape("conv", cin, cout, h, stride=h // int(ho) if ho and int(ho) < h else 1, kernel=3)
    if name in ("Conv_1", "Conv_2"):
        return Shape("conv", cin, cout, h, stride=1, kernel=1)
    if name == "AvgPool2D":
        return Shape("pool", cin, cout, h)
    return Shape("linear", cin, cout, h)


def read(path: str | os.PathLike, space: Any = None, dialect: str = "auto", **_: Any) -> Imported:
    """Read an OFA/ProxylessNAS YAML table and map it onto ``space``'s operators."""
    space = need_space(space, "OFA/ProxylessNAS YAML")
    try:
        data = yaml.safe_load(read_text(path, "YAML latency table"))
    except yaml.YAMLError as exc:
        raise LUTError(f"{path} is not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or not data:
        raise LUTError(f"{path}: expected a YAML map key -> {{count, mean, std}}, got {type(data).__name__}")
    if dialect == "auto":
        dialect = "ofa" if any("-se:" in str(k) for k in data) else "proxylessnas"
    if dialect not in ("ofa", "proxylessnas"):
        raise LUTError(f"dialect {dialect!r} is not one of ofa, proxylessnas, auto")
    shapes, entries, unknown = {}, {}, []
    for key, rec in data.items():
        key = str(key)
        if not isinstance(rec, dict) or "mean" not in rec:
            raise LUTError(f"{path}: entry {key!r} has no 'mean' (got {rec!r})")
        std = float(rec["std"]) if "std" in rec else math.sqrt(max(float(rec.get("var", 0.0)), 0.0))
        entries[key] = Entry(float(rec["mean"]), std, int(rec.get("count", 0)))
        shape = parse_key(key, dialect)
        if shape is None:
            unknown.append(key)
        else:
            shapes[key] = shape
    lumped = _split_spatial_logits(shapes, entries)
    result = match_shapes(space, shapes, entries)
    result.unmatched = [k for k in result.unmatched if k not in lumped.values()] + unknown
    result.table.provenance = source_provenance(
        path, dialect, statistic="published mean (ms)", expand_means="mid channels" if dialect == "ofa"
        else "expansion ratio", space={"name": space.name, "options": dict(space.options)})
    for key in lumped:
        if key not in result.unmatched:
            result.notes.append(f"{key} times global pool + classifier together (no AvgPool2D key): "
                                "its value prices the classifier, the pool costs 0 ms")
    if lumped:
        result.table.provenance["logits_includes_pool"] = sorted(lumped)
    if result.unmatched:
        result.notes.append(f"{len(result.unmatched)} key(s) of the table match no operator of {space.name} "
                            f"(first: {result.unmatched[0]})")
    return result


def _split_spatial_logits(shapes: dict[str, Shape], entries: dict[str, Entry]) -> dict[str, str]:
    """Rewrite each ``Logits`` key whose input is spatial (HxH, H > 1) as the classifier on the pooled
    1x1 map plus a 0 ms pool, unless the table also times that pool itself (an ``AvgPool2D`` key).
    Returns {Logits key: pseudo-key of its pool}."""
    pools = {(s.cin, s.in_hw) for s in shapes.values() if s.kind == "pool"}
    lumped = {}
    for key, shape in list(shapes.items()):
        if shape.kind != "linear" or shape.in_hw == 1 or (shape.cin, shape.in_hw) in pools:
            continue
        pool_key = f"{key}#pool"
        shapes[key] = Shape("linear", shape.cin, shape.cout, 1)
        shapes[pool_key] = Shape("pool", shape.cin, shape.cin, shape.in_hw)
        entries[pool_key] = Entry(0.0)
        lumped[key] = pool_key
    return lumped


@FORMATS.decorator("ofa", "OFA / ProxylessNAS YAML (`expanded_conv-input:...`); OFA's expand = mid channels")
def read_ofa(path: str | os.PathLike, space: Any = None, **options: Any) -> Imported:
    """Format ``ofa``: ``expand`` is the absolute number of mid channels (unless ``dialect`` says otherwise)."""
    options.setdefault("dialect", "ofa")
    return read(path, space, **options)


@FORMATS.decorator("proxylessnas", "ProxylessNAS YAML (same grammar; expand = expansion ratio, `var` not `std`)")
def read_proxylessnas(path: str | os.PathLike, space: Any = None, **options: Any) -> Imported:
    """Format ``proxylessnas``: ``expand`` is the expansion ratio, ``var`` instead of ``std``."""
    options.setdefault("dialect", "proxylessnas")
    return read(path, space, **options)
