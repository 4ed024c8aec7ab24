"""TFLite ``benchmark_model --enable_op_profiling=true`` text output, for one architecture of a space.

The profile's "Operator-wise Profiling Info for Regular Benchmark Runs" section has a ``Run Order``
table (tab-separated; ``[node type] [start] [first] [avg ms] [%] [cdf%] [mem KB] [times called]
[Name]``, older builds without ``[start]``) listing every executed operator in order. Its rows are
mapped onto the architecture's active slots: each slot expects a sequence of *core* operators
(stem/head conv: ``CONV_2D``; MBConv: [expand ``CONV_2D``], ``DEPTHWISE_CONV_2D``, [SE: ``MEAN``,
``CONV_2D``, ``CONV_2D``, ``MUL``], project ``CONV_2D``, [residual ``ADD``]; pool: ``MEAN`` or ``AVERAGE_POOL_2D``;
classifier: ``FULLY_CONNECTED``). Operators that TFLite emits around them (separate activations,
hard-sigmoid ``ADD``/``MUL``, ``PAD``, ``RESHAPE``, ``SOFTMAX``, ...) are charged to the slot they belong to. A
core operator the architecture does not expect refuses the profile, naming the first mismatch. Only
operator *types* are compared (a log names no shapes), so two blocks of the same kind cannot be told
apart: a skip moved within a stage shows up where the stage's sequence ends.

The result prices that architecture exactly (positional entries for its chosen choices, and the
same times under the operators' signatures); the import reports the operator sum against the log's
end-to-end average (``Inference (avg)``, else the regular runs' ``Timings ... avg``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

from oneshot.errors import LUTError
from oneshot.spaces.layout import LayeredSpace, OpSpec

from ..pricing import slot_labels
from ..table import Entry, LatencyTable
from . import FORMATS
from ._common import Imported, need_space, read_text, source_provenance

POOLS = ("MEAN", "AVERAGE_POOL_2D")
CORE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", *POOLS}
#: emitted next to core operators; charged to the slot before them (PAD/QUANTIZE: the slot after)
AFTER = {"RELU", "RELU6", "RELU_N1_TO_1", "HARD_SWISH", "LOGISTIC", "MUL", "ADD", "RESHAPE", "SQUEEZE",
         "SOFTMAX", "DEQUANTIZE"}
BEFORE = {"PAD", "QUANTIZE"}
_SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"


@dataclass(frozen=True)
class Row:
    """One operator of the run order."""

    index: int
    kind: str
    avg_ms: float
    name: str


def expected_core(op: OpSpec) -> list[tuple[str, ...]]:
    """The core TFLite operators of one of our operators, in order (alternatives in a tuple)."""
    if op.is_identity:
        return []
    if op.kind == "conv" or op.kind == "skip":
        return [("CONV_2D",)]
    if op.kind == "mbconv":
        seq = [("CONV_2D",)] if op.expand_conv else []
        if op.kernels:  # MixConv: split, one depthwise conv per kernel, concatenate
            seq += [("SPLIT_V", "SPLIT")] + [("DEPTHWISE_CONV_2D",)] * len(op.kernels) + [("CONCATENATION",)]
        else:
            seq.append(("DEPTHWISE_CONV_2D",))
        if op.se:
            seq += [POOLS, ("CONV_2D",), ("CONV_2D",), ("MUL",)]
        # the residual ADD marks where a block ends, so a profile shifted by a block is caught early
        return seq + [("CONV_2D",)] + ([("ADD",)] if op.residual else [])
    if op.kind == "pool":
        return [POOLS]
    if op.kind == "linear":
        return [("FULLY_CONNECTED", "CONV_2D")]
    if op.kind == "maxpool":
        return [("MAX_POOL_2D",)]
    raise LUTError(f"tflite-profile cannot map a {op.kind!r} operator (no fixed TFLite operator sequence); "
                   "use a space of conv/MBConv/pool/linear operators")


def parse_profile(text: str, where: str) -> tuple[list[Row], float | None]:
    """The regular runs' run order and the end-to-end average (ms, None when the log has none)."""
    start = text.find(_SECTION)
    if start < 0:
        raise LUTError(f"{where} has no '{_SECTION}' section: run benchmark_model with "
                       "--enable_op_profiling=true and save its whole output")
    body = text[start:]
    lines = body.splitlines()
    try:
        head = next(i for i, line in enumerate(lines) if "[node type]" in line)
    except StopIteration:
        raise LUTError(f"{where}: the profiling section has no '[node type] ... [Name]' header") from None
    columns = [c.strip().strip("[]").lower() for c in lines[head].split("\t") if c.strip()]
    if "avg ms" not in columns or "node type" not in columns:
        raise LUTError(f"{where}: header {lines[head].strip()!r} lacks [node type] / [avg ms]")
    kind_at, avg_at, name_at = columns.index("node type"), columns.index("avg ms"), len(columns) - 1
    rows = []
    for line in lines[head + 1:]:
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if not cells or line.startswith("="):
            break
        if len(cells) < len(columns):
            raise LUTError(f"{where}: run-order row {line.strip()!r} has {len(cells)} columns, expected "
                           f"{len(columns)}")
        try:
            avg = float(cells[avg_at])
        except ValueError:
            raise LUTError(f"{where}: run-order row {line.strip()!r}: avg ms {cells[avg_at]!r} is not a number") from None
        rows.append(Row(len(rows), cells[kind_at].upper(), avg, cells[name_at]))
    if not rows:
        raise LUTError(f"{where}: the run-order table of the regular runs is empty")
    return rows, _end_to_end(text, body)


def _end_to_end(text: str, body: str) -> float | None:
    m = re.search(r"Inference \(avg\):\s*([0-9.eE+]+)", text)
    if m:
        return float(m.group(1)) / 1000.0
    m = re.search(r"Timings \(microseconds\):.*?\bavg=([0-9.eE+]+)", body)
    return float(m.group(1)) / 1000.0 if m else None


def assign(rows: Sequence[Row], ops: Sequence[tuple[str, OpSpec]]) -> list[float]:
    """Per-slot ms: walk the rows against each slot's expected core operators; refuse a mismatch."""
    plan = [(i, alts) for i, (_, op) in enumerate(ops) for alts in expected_core(op)]
    totals = [0.0] * len(ops)
    pos, pending = 0, 0.0  # pending: BEFORE-type ms waiting for the next core operator's slot
    for row in rows:
        if pos < len(plan) and row.kind in plan[pos][1]:
            slot = plan[pos][0]
            totals[slot] += pending + row.avg_ms
            pending, pos = 0.0, pos + 1
        elif row.kind in BEFORE:
            pending += row.avg_ms
        elif row.kind in AFTER:
            totals[plan[pos - 1][0] if pos else 0] += row.avg_ms
        else:
            raise LUTError(_mismatch(row, plan, pos, ops))
    if pos < len(plan):
        i, alts = plan[pos]
        raise LUTError(f"the profile ends after {len(rows)} operators but slot {ops[i][0]} "
                       f"({ops[i][1].signature()}) still expects {'/'.join(alts)}: the profile is of "
                       "another (shorter) network; check --arch")
    totals[plan[-1][0]] += pending
    return totals


def _mismatch(row: Row, plan: list[tuple[int, tuple[str, ...]]], pos: int,
              ops: Sequence[tuple[str, OpSpec]]) -> str:
    where = f"operator {row.index} ({row.kind} {row.name})"
    if pos == len(plan):
        return (f"{where} comes after the architecture's last operator: the profile is of another (longer) "
                "network; check --arch")
    i, alts = plan[pos]
    hint = ("; a delegate node fuses several operators: profile without delegates"
            if "DELEGATE" in row.kind else "; check --arch and the space options")
    return (f"{where} does not match the architecture: slot {ops[i][0]} ({ops[i][1].signature()}) expects "
            f"{'/'.join(alts)} here{hint}")


@FORMATS.decorator("tflite-profile", "TFLite benchmark_model --enable_op_profiling text output of one --arch")
def read(path: str | os.PathLike, space: Any = None, arch: str | None = None, **_: Any) -> Imported:
    """Map a TFLite op profile onto ``arch`` of ``space`` (positional + signature entries)."""
    space = need_space(space, "TFLite profile")
    if not isinstance(space, LayeredSpace):
        raise LUTError(f"space {space.name!r} has no layer structure to map a profile onto")
    if not arch:
        raise LUTError("a TFLite profile times one network: give the architecture it is of with --arch KEY")
    a = space.parse(arch) if isinstance(arch, str) else space.validate(arch)
    rows, e2e = parse_profile(read_text(path, "TFLite profile"), str(path))
    active = [(slot, op) for slot, op in space.active_ops(a)]
    totals = assign(rows, [(slot.name, op) for slot, op in active])
    table = LatencyTable()
    by_sig: dict[str, list[float]] = {}
    for (slot, op), ms in zip(active, totals):
        label = slot_labels(space, slot)[0 if slot.dim is None else a[slot.dim]]
        table.positional[slot.name] = {label: Entry(ms, count=1)}
        by_sig.setdefault(op.signature(), []).append(ms)
    # the same operator at several positions: its signature entry is the mean of its times
    table.entries = {sig: Entry(sum(v) / len(v), count=len(v)) for sig, v in by_sig.items()}
    total = sum(totals)
    key = space.encoding_key(a)
    table.provenance = source_provenance(
        path, "tflite-profile", statistic="benchmark_model avg ms per operator",
        space={"name": space.name, "options": dict(space.options)}, architecture=key,
        operator_sum_ms=total, end_to_end_ms=e2e, operators=len(rows))
    notes = [f"{len(rows)} TFLite operators mapped onto {len(active)} slots of {space.name} architecture {key}"]
    if e2e is None:
        notes.append(f"operator sum {total:.3f} ms (the log states no end-to-end average)")
    else:
        notes.append(f"operator sum {total:.3f} ms vs end-to-end average {e2e:.3f} ms "
                     f"({(total - e2e) / e2e:+.1%}; profiling adds per-operator overhead)")
    return Imported(table, notes)
