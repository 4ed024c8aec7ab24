"""Prefix-sharing scoring engine: score many architectures of a frozen supernet as one trie walk.

With per-path BN recalibration, what the module at depth ``d`` of a path computes (its calibration
statistics, its outputs on the calibration and validation images) depends only on the path's first
``d + 1`` modules. Architectures that share a prefix of modules share all of that work, so a batch of
architectures is scored as a walk over the trie of their module paths, one image batch at a time:

1. **calibration pass** (``ema`` / ``exact``): for every calibration batch, a depth-first walk runs
   each trie node's module in train mode on its parent's output. Each node owns its own BN running
   statistics (swapped into the shared module while it runs), so two nodes that use the same module
   under different prefixes never mix statistics;
2. **scoring pass**: for every validation batch, the same walk in eval mode (with the node's
   statistics; ``train-mode`` uses batch statistics, ``none`` the supernet's own), and each leaf adds
   its batch loss and correct count to its architectures.

Every node runs exactly the operations the per-architecture evaluator runs for that module on the
same tensors in the same order, so scores are bitwise identical on CPU in float32 (tested).

A bounded LRU cache keeps the outputs (on every calibration and validation batch) of recently
computed prefixes, so a later call, e.g. a search's next generation whose children differ from their
parents in a gene or two, starts each architecture at its first uncached module. Its size is counted
in tensor bytes and kept under ``cache_mb``.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
from torch import nn

from .bn_policies import BN_POLICIES

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
#: a module on a path: (slot index, choice index); a prefix is a tuple of these
Step = tuple[int, int]
Prefix = tuple[Step, ...]


def default_cache_mb() -> int:
    """A quarter of the memory available now, at most 4 GiB (0 when it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: line.split()[1] for line in f}
        available_kb = int(info.get("MemAvailable", info.get("MemFree", "0")))
    except (OSError, ValueError, IndexError):
        return 0
    return int(min(4096, available_kb / 1024 / 4))


@dataclass(eq=False)
class _Node:
    step: Step
    module: nn.Module
    depth: int
    children: dict[Step, "_Node"] = field(default_factory=dict)
    leaves: list[int] = field(default_factory=list)  # indices of the architectures ending here
    prefix: Prefix = ()
    cached: "_Entry | None" = None   # outputs from an earlier call (then nothing is recomputed)
    compute: bool = False            # this call must run the module
    keep: bool = False               # retain this call's outputs in the cache afterwards
    stats: list[list[torch.Tensor]] = field(default_factory=list)  # per BN: mean, var, count
    calib_out: list[torch.Tensor] = field(default_factory=list)
    val_out: list[torch.Tensor] = field(default_factory=list)


@dataclass
class _Entry:
    calib: list[torch.Tensor]
    val: list[torch.Tensor]
    nbytes: int


def _nbytes(tensors: Iterable[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


class PrefixCache:
    """LRU map prefix -> outputs on every calibration and validation batch, bounded in bytes."""

    def __init__(self, budget_mb: float):
        self.budget = int(budget_mb * 2**20)
        self._entries: "OrderedDict[Prefix, _Entry]" = OrderedDict()
        self.nbytes = 0
        self.peak_nbytes = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, prefix: Prefix) -> _Entry | None:
        entry = self._entries.get(prefix)
        if entry is not None:
            self._entries.move_to_end(prefix)
            self.hits += 1
        return entry

    def put(self, prefix: Prefix, calib: list[torch.Tensor], val: list[torch.Tensor]) -> None:
        size = _nbytes(calib) + _nbytes(val)
        if size > self.budget or prefix in self._entries:
            return
        while self.nbytes + size > self.budget:
            _, old = self._entries.popitem(last=False)
            self.nbytes -= old.nbytes
        self._entries[prefix] = _Entry(calib, val, size)
        self.nbytes += size
        self.peak_nbytes = max(self.peak_nbytes, self.nbytes)

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0


class PrefixEngine:
    """Scores module paths of a supernet on fixed calibration and validation batches, sharing prefixes.

    ``calib`` and ``val`` are prepared batches (already normalised, on the device); ``policy`` is a
    BN policy name (``ema``, ``exact``, ``train-mode``, ``none``). ``cache_mb`` = 0 turns the
    cross-call cache off (prefixes are still shared within a call).
    """

    def __init__(self, supernet: nn.Module, calib: Sequence[torch.Tensor],
                 val: Sequence[tuple[torch.Tensor, torch.Tensor]], policy: str, cache_mb: float = 0,
                 groups: Sequence[str | None] | None = None):
        self.supernet = supernet
        self._policy = BN_POLICIES.get(policy)
        self.calib = list(calib) if self._policy.calibrates else []
        self.val = list(val)
        self.policy = policy
        self.n_val = sum(int(y.numel()) for _, y in self.val)
        # optional name per scoring batch: batches of group g also give g_accuracy / g_loss
        self.groups = list(groups) if groups is not None else [None] * len(self.val)
        if len(self.groups) != len(self.val):
            raise ValueError(f"groups names {len(self.groups)} batches, there are {len(self.val)}")
        self.group_sizes: dict[str, int] = {}
        for g, (_, y) in zip(self.groups, self.val):
            if g is not None:
                self.group_sizes[g] = self.group_sizes.get(g, 0) + int(y.numel())
        self.cache = PrefixCache(cache_mb) if cache_mb > 0 else None
        self.module_runs = 0  # module forwards on one image batch, for the benchmark's accounting

    # ------------------------------------------------------------ paths and the trie
    def path(self, arch: Sequence[int]) -> list[tuple[Step, nn.Module]]:
        """The (slot, choice) steps and modules of ``arch``'s path (gated-off slots left out)."""
        space, slots = self.supernet.space, self.supernet.slots
        out = []
        for i, (slot, candidates) in enumerate(zip(space.slots, slots)):
            if slot.gate is not None and arch[slot.gate[0]] < slot.gate[1]:
                continue
            choice = 0 if slot.dim is None else int(arch[slot.dim])
            out.append(((i, choice), candidates[choice]))
        return out

    def _build(self, archs: Sequence[Sequence[int]]) -> _Node:
        root = _Node((-1, -1), nn.Identity(), -1)
        for index, arch in enumerate(archs):
            node = root
            for step, module in self.path(arch):
                child = node.children.get(step)
                if child is None:
                    child = _Node(step, module, node.depth + 1, prefix=node.prefix + (step,))
                    node.children[step] = child
                node = child
            node.leaves.append(index)
        return root

    def _plan(self, root: _Node) -> None:
        """Mark the nodes whose module must run: uncached nodes that a leaf or an uncached child needs."""
        def visit(node: _Node) -> bool:  # returns: node is cached (its outputs exist already)
            if self.cache is not None and node.depth >= 0:
                node.cached = self.cache.get(node.prefix)
            child_cached = [visit(c) for c in node.children.values()]
            if node.depth >= 0 and node.cached is None:
                node.compute = bool(node.leaves) or not all(child_cached)
            return node.cached is not None

        visit(root)
        if self.cache is not None:
            self._choose_kept(root)

    def _choose_kept(self, root: _Node) -> None:
        # Keep what a later call can start from: inner nodes (a leaf's own output is its logits,
        # and whole architectures are cached by key upstream), smallest outputs first (deep
        # prefixes: they save the most work per byte), within the budget.
        # Only prefixes that end before the last searchable slot can be shared by another architecture.
        last_choice = max((i for i, s in enumerate(self.supernet.space.slots) if s.dim is not None), default=-1)
        candidates: list[_Node] = []
        stack = [root]
        while stack:
            node = stack.pop()
            stack.extend(node.children.values())
            if node.compute and node.step[0] < last_choice:
                candidates.append(node)
        if not candidates or not (self.calib or self.val):
            return
        sizes = self._output_sizes(candidates)
        room = self.cache.budget
        for node in sorted(candidates, key=lambda n: (sizes[n], -n.depth)):
            if sizes[node] <= room:
                node.keep = True
                room -= sizes[node]

    def _output_sizes(self, nodes: list[_Node]) -> dict[_Node, int]:
        """Bytes of each node's outputs on all batches, from the space's shapes (no forward)."""
        space = self.supernet.space
        images = sum(int(x.shape[0]) for x in self.calib) + sum(int(x.shape[0]) for x, _ in self.val)
        element = (self.val[0][0] if self.val else self.calib[0]).element_size()
        out = {}
        for node in nodes:
            op = space.slots[node.step[0]].ops[node.step[1]]
            hw = op.out_hw if op.kind not in ("pool", "linear") else 1
            out[node] = images * int(op.cout) * hw * hw * element
        return out

    # ------------------------------------------------------------ BN state per node
    @staticmethod
    def _bns(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
        return [m for m in module.modules() if isinstance(m, _BN)]

    @staticmethod
    def _fresh_stats(bns) -> list[list[torch.Tensor]]:
        # what reset_running_stats() leaves: mean 0, var 1, no batches tracked
        return [[torch.zeros_like(bn.running_mean), torch.ones_like(bn.running_var),
                 torch.zeros_like(bn.num_batches_tracked)] for bn in bns]

    @staticmethod
    def _swap_in(bns, stats) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        saved = [(bn.running_mean, bn.running_var, bn.num_batches_tracked) for bn in bns]
        for bn, (mean, var, count) in zip(bns, stats):
            bn.running_mean, bn.running_var, bn.num_batches_tracked = mean, var, count
        return saved

    # ------------------------------------------------------------ the walk
    @torch.no_grad()
    def score(self, archs: Sequence[Sequence[int]]) -> list[dict[str, float]]:
        """``{"accuracy": %, "loss": mean CE}`` for every architecture (validated, any order)."""
        if not archs:
            return []
        root = self._build(archs)
        self._plan(root)
        nodes = self._computed(root)
        bn_of = {node: self._bns(node.module) for node in nodes}
        momenta = {bn: bn.momentum for bns in bn_of.values() for bn in bns}
        try:
            if self.calib:
                for node in nodes:
                    node.stats = self._fresh_stats(bn_of[node])
                for bns in bn_of.values():
                    for bn in bns:
                        if self._policy.exact_average:
                            bn.momentum = None  # cumulative average: the exact mean over the batches
                for b, x in enumerate(self.calib):
                    for _ in self._walk(root, x, b, bn_of, calib=True):  # a generator: drive it
                        pass
            correct = [0] * len(archs)
            loss = [0.0] * len(archs)
            by_group = {g: ([0] * len(archs), [0.0] * len(archs)) for g in self.group_sizes}
            for b, (x, y) in enumerate(self.val):
                group = by_group.get(self.groups[b])
                for node, logits in self._walk(root, x, b, bn_of, calib=False):
                    batch_loss = float(nn.functional.cross_entropy(logits, y, reduction="sum"))
                    batch_correct = int((logits.argmax(dim=1) == y).sum())
                    for i in node.leaves:
                        loss[i] += batch_loss
                        correct[i] += batch_correct
                        if group is not None:
                            group[0][i] += batch_correct
                            group[1][i] += batch_loss
        finally:
            for bn, m in momenta.items():
                bn.momentum = m
        self._retain(nodes)
        n = max(self.n_val, 1)
        out = [{"accuracy": 100.0 * c / n, "loss": s / n} for c, s in zip(correct, loss)]
        for g, (g_correct, g_loss) in by_group.items():
            size = self.group_sizes[g]
            for i, metrics in enumerate(out):
                metrics[f"{g}_accuracy"] = 100.0 * g_correct[i] / size
                metrics[f"{g}_loss"] = g_loss[i] / size
        return out

    @staticmethod
    def _computed(root: _Node) -> list[_Node]:
        out, stack = [], [root]
        while stack:
            node = stack.pop()
            stack.extend(node.children.values())
            if node.compute:
                out.append(node)
        return out

    def _walk(self, root: _Node, x: torch.Tensor, b: int, bn_of, calib: bool):
        """Depth-first over the trie on image batch ``b``; yields (leaf node, its output)."""
        stack: list[tuple[_Node, torch.Tensor | None]] = [(c, x) for c in reversed(root.children.values())]
        while stack:
            node, inp = stack.pop()
            if node.cached is not None:
                out = (node.cached.calib if calib else node.cached.val)[b]
            elif node.compute:
                out = self._run(node, inp, bn_of[node], calib)
                if node.keep:
                    (node.calib_out if calib else node.val_out).append(out)
            else:
                out = None  # every child is cached: this module need not run
            if node.leaves and not calib:
                yield node, out
            stack.extend((c, out) for c in reversed(node.children.values()))

    def _run(self, node: _Node, x: torch.Tensor, bns, calib: bool) -> torch.Tensor:
        self.module_runs += 1
        if calib:  # train-mode BN accumulating into this node's own statistics
            return self._forward(node.module, x, bns, node.stats, train_bn=True)
        if self._policy.batch_stats:
            # batch statistics; updates go to throwaway copies so the supernet's stay untouched
            throwaway = [[bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()]
                         for bn in bns]
            return self._forward(node.module, x, bns, throwaway, train_bn=True)
        if not self.calib:  # none: the supernet's own statistics
            return node.module(x)
        return self._forward(node.module, x, bns, node.stats, train_bn=False)

    def _forward(self, module: nn.Module, x: torch.Tensor, bns, stats, train_bn: bool) -> torch.Tensor:
        """``module(x)`` with ``stats`` swapped into its BNs (and only BN in train mode if asked),
        as in the per-architecture evaluator; the module is left as it was."""
        saved = self._swap_in(bns, stats)
        if train_bn:
            for bn in bns:
                bn.train()
        try:
            return module(x)
        finally:
            self._swap_in(bns, [list(s) for s in saved])
            if train_bn:
                for bn in bns:
                    bn.eval()

    def _retain(self, nodes: list[_Node]) -> None:
        for node in nodes:
            if node.keep and self.cache is not None:
                expected_calib = len(self.calib)
                if len(node.calib_out) == expected_calib and len(node.val_out) == len(self.val):
                    self.cache.put(node.prefix, node.calib_out, node.val_out)
            node.calib_out, node.val_out, node.stats = [], [], []
