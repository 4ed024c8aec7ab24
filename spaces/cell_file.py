"""The ``cell:`` section of space files: a NAS-Bench-201-style cell space (``CellSpace``).

A file with a top-level ``cell`` mapping (instead of ``stem``, ``stages``, ``head``) is one shared
cell of ``nodes`` nodes, every edge ``dst <- src`` (src < dst) choosing among ``ops``, repeated
``cells_per_stage`` times in each stage of ``network.widths`` with a residual reduction block between
stages (``spaces.builtin.nas_bench_201.cell_space``)::

    name: nas-bench-201
    cell: {nodes: 4, ops: [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]}
    network: {stem: 16, widths: [16, 32, 64], cells_per_stage: 5}

Mistakes are one line each naming their key path, as in ``spec_file``.
"""
from __future__ import annotations

from typing import Any

from .builtin.nas_bench_201 import OPS, CellSpace, cell_space
from .spec_file import OPTIONS, SpecSpace, _Checker, _clean, _options

TOP_KEYS = ("name", "description", "resolution", "num_classes", "options", "cell", "network")
CELL_KEYS = ("nodes", "ops")
NETWORK_KEYS = ("stem", "widths", "cells_per_stage", "note")


class CellSpecSpace(SpecSpace, CellSpace):
    """A cell space built from a space file; ``to_json`` carries the file's description."""


def _ops(c: _Checker, cell: dict[str, Any]) -> list[str] | None:
    ops = cell.get("ops", list(OPS))
    if not isinstance(ops, list) or not ops:
        c.error("cell.ops", f"{ops!r}: expected a non-empty list of operations from {', '.join(OPS)}")
        return None
    ok = True
    for i, op in enumerate(ops):
        if op not in OPS:
            c.error(f"cell.ops[{i}]", f"{op!r} is not an operation; valid: {', '.join(OPS)}")
            ok = False
        elif ops.index(op) < i:
            c.error(f"cell.ops[{i}]", f"{op!r} repeats ops[{ops.index(op)}]")
            ok = False
    return list(ops) if ok else None


def _widths(c: _Checker, network: dict[str, Any]) -> list[int] | None:
    widths = network.get("widths")
    if not isinstance(widths, list) or not widths:
        c.error("network.widths", f"{widths!r}: expected a non-empty list of stage widths, e.g. [16, 32, 64]")
        return None
    out = [c.integer({f"widths[{i}]": w}, f"widths[{i}]", "network") for i, w in enumerate(widths)]
    return None if any(w is None for w in out) else out


def space_from_cell_spec(spec: dict[str, Any], source: str = "space file", **options: Any) -> CellSpace:
    """Check a cell-section space file's mapping and build its space (``options`` as ``space_from_spec``)."""
    c = _Checker()
    c.keys(spec, "", TOP_KEYS, required=("cell", "network"))
    name, allowed, resolution, classes = _options(c, spec, source, options)
    cell, network = spec.get("cell", {}), spec.get("network", {})
    nodes = ops = widths = stem = per_stage = note = None
    if "cell" in spec and c.keys(cell, "cell", CELL_KEYS, required=("nodes",)):
        nodes = c.integer(cell, "nodes", "cell", low=2)
        ops = _ops(c, cell)
    if "network" in spec and c.keys(network, "network", NETWORK_KEYS, required=("widths",)):
        widths = _widths(c, network)
        per_stage = c.integer(network, "cells_per_stage", "network", 5)
        stem = c.integer(network, "stem", "network", widths[0] if widths else None)
        if stem and widths and stem != widths[0]:
            c.error("network.stem", f"{stem} differs from widths[0] ({widths[0]}): the first stage's cells "
                                    "keep the stem's width")
        note = c.text(network, "note", "network") or ""
    if resolution and widths and resolution % 2 ** (len(widths) - 1):
        c.error("resolution", f"{resolution} does not halve evenly {len(widths) - 1} time(s) "
                              f"(the reductions between {len(widths)} stages)")
    c.raise_errors(source)
    opts = {k: v for k, v in (("resolution", resolution), ("num_classes", classes)) if k in allowed}
    space = cell_space(nodes, ops, widths, per_stage, stem, classes, resolution, note, opts,
                       c.text(spec, "description", "", "") or f"space {name} from a file", CellSpecSpace)
    space.name = name
    space.spec = _clean(spec)
    return space


def spec_from_cell_space(space: CellSpace) -> dict[str, Any]:
    """The space file's mapping (a ``cell`` section) that rebuilds ``space``."""
    params = space.cell
    network: dict[str, Any] = {"stem": params["stem"], "widths": list(params["widths"]),
                               "cells_per_stage": params["cells_per_stage"]}
    if params["note"]:
        network["note"] = params["note"]
    return {"name": space.name, "description": getattr(space, "description", "") or space.name,
            "resolution": space.resolution, "num_classes": space.num_classes,
            "options": [k for k in OPTIONS if k in space.options],
            "cell": {"nodes": params["nodes"], "ops": list(params["ops"])}, "network": network}
