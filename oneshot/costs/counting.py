"""Exact MACs (conv + linear) and parameter counts of single operators, and the FLOPs/params table.

Counting convention (stated in every table and in the docs): ``macs`` = multiply-accumulates of
``Conv2d`` and ``Linear`` layers only (no BN, activation, pooling, bias additions or SE gating),
for one image at the space's resolution; ``params`` = every parameter, BN affine (2 per channel)
and biases included. This is NAS-Bench-Macro's and most NAS papers' "FLOPs".
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from oneshot.spaces.cost_table import CostTable
from oneshot.spaces.layout import LayeredSpace, OpSpec

#: signature -> [macs, params] of every operator of the built-in spaces (default options and 32 px),
#: counted by ``op_cost`` and packaged so that pricing a built-in space imports no torch (a tabular
#: search or ``arch-info`` starts in a fraction of a second). Regenerate with
#: ``python -m oneshot.costs.counting``; a test recounts every entry.
PACKAGED_COUNTS = Path(__file__).resolve().parent.parent / "data" / "op_costs.json"

CONVENTION = {
    "macs": "multiply-accumulates of Conv2d and Linear layers only, batch 1 (what NAS papers call FLOPs)",
    "params": "all parameters, BN affine and biases included",
}


def count_macs(module: Any, input_shape: tuple[int, ...]) -> int:
    """Conv2d + Linear multiply-accumulates of one forward pass on a zero tensor of ``input_shape``."""
    import torch
    from torch import nn

    total = 0

    def conv_hook(m: nn.Conv2d, _inp, out) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        total += out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m: nn.Linear, _inp, out) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    handles = []
    for sub in module.modules():
        if isinstance(sub, nn.Conv2d):
            handles.append(sub.register_forward_hook(conv_hook))
        elif isinstance(sub, nn.Linear):
            handles.append(sub.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            module.eval()(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return total


def op_input_shape(op: OpSpec) -> tuple[int, ...]:
    if op.kind == "linear":
        return (1, op.cin)
    return (1, op.cin, op.in_hw, op.in_hw)


@lru_cache(maxsize=4096)
def op_cost(op: OpSpec) -> dict[str, float]:
    """MACs and params of one operator, counted on the built module (cached: identical operators
    are counted once)."""
    from oneshot.spaces.blocks import make_op

    module = make_op(op)
    return {"macs": float(count_macs(module, op_input_shape(op))),
            "params": float(sum(p.numel() for p in module.parameters()))}


@lru_cache(maxsize=1)
def packaged_counts() -> dict[str, list[float]]:
    try:
        return json.loads(PACKAGED_COUNTS.read_text())
    except (OSError, ValueError):
        return {}


def known_op_cost(op: OpSpec) -> dict[str, float]:
    """``op_cost`` from the packaged counts when the operator is there (no torch), else counted."""
    hit = packaged_counts().get(op.signature())
    if hit is not None:
        return {"macs": float(hit[0]), "params": float(hit[1])}
    return op_cost(op)


def flops_params_table(space: LayeredSpace) -> CostTable:
    """The exact MACs/params table of ``space``: each distinct operator is counted once."""
    costs = {op: known_op_cost(op) for op in space.distinct_ops()}
    return CostTable(space, costs, ("macs", "params"), CONVENTION)


def builtin_counts() -> dict[str, list[float]]:
    """Count every operator of every built-in space (default options, and 32 px where it can vary)."""
    from oneshot.spaces import create_space, list_spaces, space_options

    out: dict[str, list[float]] = {}
    for name in list_spaces():
        variants = [{}] + ([{"resolution": 32}] if "resolution" in space_options(name) else [])
        for options in variants:
            for op in create_space(name, **options).distinct_ops():
                c = op_cost(op)
                out[op.signature()] = [c["macs"], c["params"]]
    return dict(sorted(out.items()))


if __name__ == "__main__":  # regenerate the packaged counts
    from oneshot.atomic import atomic_write_text

    counts = builtin_counts()
    atomic_write_text(PACKAGED_COUNTS, json.dumps(counts, indent=0) + "\n")
    print(f"wrote {len(counts)} operator counts to {PACKAGED_COUNTS}")
