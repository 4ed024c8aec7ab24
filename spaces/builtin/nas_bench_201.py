"""``nas-bench-201``: the NAS-Bench-201 / NATS-Bench topology space (CIFAR form), 5^6 = 15,625 cells.

One cell of 4 nodes and 6 edges ``j <- i`` (i < j), each edge one of ``none, skip_connect,
nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``; node ``j`` is the sum of its incoming edges and node 3 is
the cell output. The same cell is used by all 15 cells of the network: a 3x3 conv (16) + BN stem, 3
stages of 5 cells at 16/32/64 channels (32/16/8 px) with a residual reduction block between stages,
then BN-ReLU, global pool and a linear classifier. ``nor_conv`` is ReLU-conv-BN, ``none`` the zero
tensor, ``avg_pool_3x3`` stride 1 padding 1 (padding not counted).

Encoding: one dimension per edge in the published order (1<-0), (2<-0), (2<-1), (3<-0), (3<-1),
(3<-2); ``format``/``parse`` read and write the published strings
``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``.
The key is the encoding itself: the benchmark records every one of the 15,625 cells (isomorphic
cells were trained separately and have their own accuracies), so no cells are merged.

``cell_space`` builds the same kind of space from parameters (node count, a subset of the 5 ops, stage
widths, cells per stage, stem width, classes); the space file's ``cell:`` section calls it
(``spaces/cell_file.py``) and ``nas_bench_201`` is it with the published values.

The network is a chain of slots: each cell is 6 edge slots (``spaces.blocks.CellEdge``) passing the
tuple of cell nodes along, so costs are a sum over slots (exact MACs/params from the usual cost
table) and the supernet shares weights per edge and operator. The prefix-sharing scoring engine
needs tensors between slots, so this space is scored by the plain path of the supernet evaluator.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from ..core import Architecture, Dimension, InvalidArchitectureError
from ..layout import LayeredSpace, OpSpec, ResolutionPolicy, Slot
from ..registry import register_space

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (dst, src) of the 6 edges, in the published order
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
WIDTHS = (16, 32, 64)
_NODE_RE = re.compile(r"^\|(.+)\|$")
#: operation name -> (OpSpec kind, kernel) of an edge operator
_OP_KINDS = {"none": ("zero", None), "skip_connect": ("skip", None), "nor_conv_1x1": ("relu_conv", 1),
             "nor_conv_3x3": ("relu_conv", 3), "avg_pool_3x3": ("avgpool", 3)}


def cell_edges(nodes: int) -> tuple[tuple[int, int], ...]:
    """(dst, src) of every edge of a ``nodes``-node cell in the published order: by dst, then src."""
    return tuple((dst, src) for dst in range(1, nodes) for src in range(dst))


def edge_ops(width: int, hw: int, ops: Sequence[str] = OPS) -> tuple[OpSpec, ...]:
    """The candidate operators of an edge at ``width`` channels and ``hw`` pixels, in ``ops`` order."""
    out = []
    for name in ops:
        kind, kernel = _OP_KINDS[name]
        out.append(OpSpec(kind, width, width, hw, **({"kernel": kernel} if kernel else {})))
    return tuple(out)


class CellSpace(LayeredSpace):
    """A layered space whose searchable slots are the edges of one shared cell.

    ``cell`` holds the parameters ``cell_space`` built it from (nodes, ops, widths, ...)."""

    prefix_engine = False

    def __init__(self, *args: Any, edges: dict[str, tuple[int, int, bool]], cell: dict[str, Any], **kwargs: Any):
        self.edges = dict(edges)  # slot name -> (src, dst, last edge of its cell)
        self.cell = dict(cell)
        super().__init__(*args, **kwargs)

    def _find_identity_runs(self) -> list:
        return []  # edges are not interchangeable positions: no reordering

    def module_for(self, slot: Slot, op: OpSpec) -> Any:
        module = super().module_for(slot, op)
        if slot.name not in self.edges:
            return module
        from ..blocks import CellEdge

        src, dst, last = self.edges[slot.name]
        return CellEdge(module, src, dst, last)

    def format(self, arch: Sequence[int]) -> str:
        """The published NAS-Bench-201 string of ``arch``."""
        arch = self.validate(arch)
        ops, edges = self.cell["ops"], cell_edges(self.cell["nodes"])
        return "+".join("|" + "|".join(f"{ops[arch[e]]}~{src}" for e, (dst, src) in enumerate(edges) if dst == node)
                        + "|" for node in range(1, self.cell["nodes"]))

    def parse(self, text: str) -> Architecture:
        """The published string, or anything ``SearchSpace.parse`` reads (key, index list, pairs)."""
        s = text.strip()
        if not s.startswith("|"):
            return super().parse(s)
        ops, nodes = list(self.cell["ops"]), self.cell["nodes"]
        parts = s.split("+")
        if len(parts) != nodes - 1:
            template = "+".join("|" + "|".join(f"op~{i}" for i in range(n)) + "|" for n in range(1, nodes))
            raise InvalidArchitectureError(f"cannot read {text!r} as a NAS-Bench-201 cell: expected {nodes - 1} "
                                           f"nodes '{template}', got {len(parts)}")
        choice: dict[tuple[int, int], int] = {}
        for node, part in enumerate(parts, start=1):
            m = _NODE_RE.match(part.strip())
            inputs = m.group(1).split("|") if m else []
            if len(inputs) != node:
                raise InvalidArchitectureError(f"cannot read {text!r}: node {node} needs {node} input(s) "
                                               f"'|op~i|', got {part!r}")
            for token in inputs:
                op, _, src = token.partition("~")
                if op not in ops:
                    raise InvalidArchitectureError(f"cannot read {text!r}: unknown operation {op!r}; "
                                                   f"valid: {', '.join(ops)}")
                if not src.isdigit() or int(src) >= node or (node, int(src)) in choice:
                    raise InvalidArchitectureError(f"cannot read {text!r}: node {node} input {token!r} must "
                                                   f"name each earlier node 0..{node - 1} once")
                choice[(node, int(src))] = ops.index(op)
        return Architecture(choice[e] for e in cell_edges(nodes))


def _reductions(cells_per_stage: int, stages: int) -> str:
    cells = [str(s * cells_per_stage + 1) for s in range(1, stages)]
    if not cells:
        return "no reduction"
    return f"reduction at cell {cells[0]}" if len(cells) == 1 else \
        f"reductions at cells {', '.join(cells[:-1])} and {cells[-1]}"


def cell_space(nodes: int = 4, ops: Sequence[str] = OPS, widths: Sequence[int] = WIDTHS, cells_per_stage: int = 5,
               stem: int | None = None, num_classes: int = 10, resolution: int = 32, note: str = "",
               options: dict[str, Any] | None = None, description: str = "", cls: type = CellSpace) -> CellSpace:
    """A NAS-Bench-201-style space: one shared ``nodes``-node cell, every edge ``dst <- src`` (src < dst)
    one of ``ops``, ``cells_per_stage`` cells per stage at ``widths`` channels with a residual
    reduction block between stages, after a 3x3 conv stem of ``stem`` (= ``widths[0]``) channels.

    Values are assumed checked (``spaces.cell_file`` checks a file's); ``note`` replaces the resolution
    policy's generated note; ``cls`` is the space class."""
    if nodes < 2 or not ops or len(set(ops)) != len(ops) or not set(ops) <= set(OPS):
        raise ValueError(f"a cell needs >= 2 nodes and distinct ops from {', '.join(OPS)}, got {nodes}, {ops!r}")
    stem = widths[0] if stem is None else stem
    if stem != widths[0]:
        raise ValueError(f"the stem width {stem} must equal the first stage's width {widths[0]}")
    edge_list = cell_edges(nodes)
    dims = [Dimension(f"{dst}<-{src}", tuple(ops)) for dst, src in edge_list]
    slots = [Slot("stem", (OpSpec("conv", 3, stem, resolution, kernel=3, act="none"),))]
    edges: dict[str, tuple[int, int, bool]] = {}
    hw, cin, cell = resolution, stem, 0
    for stage, width in enumerate(widths):
        if stage:
            slots.append(Slot(f"reduce{stage}", (OpSpec("resblock", cin, width, hw, stride=2, kernel=3),),
                              stage=f"stage{stage + 1}"))
            hw //= 2
        candidates = edge_ops(width, hw, ops)
        for _ in range(cells_per_stage):
            cell += 1
            for e, (dst, src) in enumerate(edge_list):
                name = f"cell{cell}.{dst}<-{src}"
                edges[name] = (src, dst, e == len(edge_list) - 1)
                slots.append(Slot(name, candidates, dim=e, stage=f"stage{stage + 1}"))
        cin = width
    slots += [Slot("lastact", (OpSpec("bn", cin, cin, hw, act="relu"),)),
              Slot("pool", (OpSpec("pool", cin, cin, hw),)),
              Slot("classifier", (OpSpec("linear", cin, num_classes, 1, bias=True),))]
    policy = ResolutionPolicy(resolution, 1, (), note or f"{resolution} px, stem stride 1, "
                                                         f"{_reductions(cells_per_stage, len(widths))}")
    params = {"nodes": nodes, "ops": list(ops), "stem": stem, "widths": list(widths),
              "cells_per_stage": cells_per_stage, "note": note}
    return cls(dims, slots, policy, options if options is not None else {"num_classes": num_classes},
               description, edges=edges, cell=params)


@register_space("nas-bench-201", "NAS-Bench-201 / NATS-Bench topology: one 4-node cell (6 edges x 5 ops) "
                                 "in 15 CIFAR cells; published arch strings")
def nas_bench_201(num_classes: int = 10, cells_per_stage: int = 5) -> CellSpace:
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"space 'nas-bench-201': num_classes must be an integer >= 2, got {num_classes!r}")
    if not isinstance(cells_per_stage, int) or cells_per_stage < 1:
        raise ValueError(f"space 'nas-bench-201': cells_per_stage must be >= 1, got {cells_per_stage!r}")
    return cell_space(4, OPS, WIDTHS, cells_per_stage, WIDTHS[0], num_classes, 32,
                      "NAS-Bench-201 CIFAR form: 32 px, stem stride 1, reductions at cells 6 and 11",
                      {"num_classes": num_classes, "cells_per_stage": cells_per_stage},
                      "NAS-Bench-201 topology space")
