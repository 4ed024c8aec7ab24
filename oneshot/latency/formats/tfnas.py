"""TF-NAS pickle: ``OrderedDict`` of ``'base'`` -> ms and
``MBInvertedResBlock_{H}_{Cin}_{SE}_{Cout}_k{k}_s{s}_{relu|swish}`` -> ``{mid_channels: ms}``.

A pickle can run arbitrary code when loaded, so it is read with a *restricted* unpickler that only
constructs ``dict`` / ``OrderedDict`` (numbers, strings and containers need no class lookup) and
refuses everything else, naming what the file asked for. Values are piecewise linear in mid
channels and some small-width entries are negative: they are clamped to 0 and the import says so.
The keys are complete operator descriptions, so no space is needed; given one, only its operators
are kept. Assumption stated: the 1x1 expansion exists iff mid != Cin (our MBConv convention).
"""
from __future__ import annotations

import io
import os
import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from oneshot.errors import LUTError
from oneshot.spaces.layout import OpSpec

from ..table import Entry, LatencyTable
from . import FORMATS
from ._common import Imported, source_provenance

_KEY = re.compile(r"^MBInvertedResBlock_(\d+)_(\d+)_(\d+)_(\d+)_k(\d+)_s(\d+)_(relu|swish)$")
_ALLOWED = {("collections", "OrderedDict"): OrderedDict, ("builtins", "dict"): dict,
            ("__builtin__", "dict"): dict}


class RestrictedUnpickler(pickle.Unpickler):
    """Builds only dicts, OrderedDicts, numbers, strings, lists and tuples; any other class is refused."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise LUTError(f"refusing to unpickle {module}.{name}: a latency-table pickle may only hold "
                           "dict/OrderedDict of numbers (the file may be malicious or not a TF-NAS table)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise LUTError("refusing a pickle with persistent references (not a TF-NAS latency table)")


def restricted_load(data: bytes) -> Any:
    """Unpickle ``data`` allowing only plain containers and numbers."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except LUTError:
        raise
    except Exception as exc:  # truncated or garbled pickles
        raise LUTError(f"cannot read the pickle ({type(exc).__name__}: {exc})") from exc


@FORMATS.decorator("tfnas", "TF-NAS pickle (restricted unpickler; negative entries clamped and reported)")
def read(path: str | os.PathLike, space: Any = None, **_: Any) -> Imported:
    """Read a TF-NAS latency pickle (optionally restricted to ``space``'s operators)."""
    p = Path(path)
    if not p.is_file():
        raise LUTError(f"TF-NAS pickle {str(p)!r} does not exist")
    data = restricted_load(p.read_bytes())
    if not isinstance(data, dict):
        raise LUTError(f"{p}: expected a dict at the top of the pickle, got {type(data).__name__}")
    table = LatencyTable()
    notes, unmatched, clamped = [], [], []
    wanted = None if space is None else {op.signature() for op in space.distinct_ops()}
    for key, value in data.items():
        if key == "base":
            table.constant_ms = _number(value, "base")
            continue
        m = _KEY.match(str(key))
        if not m or not isinstance(value, dict):
            unmatched.append(str(key))
            continue
        h, cin, se, cout, k, s, act = m.groups()
        for mid, ms in value.items():
            ms = _number(ms, f"{key}[{mid}]")
            op = OpSpec("mbconv", int(cin), int(cout), int(h), int(s), int(k), int(mid),
                        expand_conv=int(mid) != int(cin), se=int(se), act=act)
            if wanted is not None and op.signature() not in wanted:
                continue
            if ms < 0:
                clamped.append(f"{key}[mid={mid}]={ms:.4f}")
                ms = 0.0
            table.entries[op.signature()] = Entry(ms)
    if clamped:
        notes.append(f"clamped {len(clamped)} negative entr{'y' if len(clamped) == 1 else 'ies'} to 0 ms "
                     f"(TF-NAS's piecewise-linear fit goes below 0 at small widths), e.g. {clamped[0]}")
    if unmatched:
        notes.append(f"{len(unmatched)} key(s) not understood (first: {unmatched[0]})")
    table.provenance = source_provenance(
        p, "tfnas", statistic="published value (ms)", constant="'base' (stem, head, classifier)",
        clamped_negative=len(clamped), **({"space": {"name": space.name, "options": dict(space.options)}}
                                          if space is not None else {}))
    if space is not None:
        fixed = [slot.name for slot in space.slots if slot.dim is None]
        table.positional.update({name: {"fixed": Entry(0.0)} for name in fixed})
        notes.append(f"fixed parts ({', '.join(fixed)}) are priced by TF-NAS's 'base' constant "
                     f"({table.constant_ms:.3f} ms)")
    return Imported(table, notes, unmatched)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LUTError(f"TF-NAS entry {where} is {type(value).__name__}, expected a number")
    return float(value)
