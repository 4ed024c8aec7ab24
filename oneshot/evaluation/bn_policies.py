"""BN policies: how a frozen supernet's BatchNorm statistics are set before a subnet is scored.

The registry ``BN_POLICIES`` names them (CLI choices, help and validation read it); the scoring
code (``supernet_evaluator``, ``prefix_engine``) acts on the two properties of a policy below.
Framework-free, so the CLI can list policies without importing torch.
"""
from __future__ import annotations

from dataclasses import dataclass

from oneshot.registry import Registry


@dataclass(frozen=True)
class BNPolicy:
    """``calibrates``: statistics are recomputed on calibration images, as running averages with the
    modules' own momentum or, with ``exact_average``, as the exact cumulative average
    (``momentum=None``); ``batch_stats``: scoring uses each validation batch's own statistics
    (train mode) instead of stored ones."""

    calibrates: bool
    exact_average: bool = False
    batch_stats: bool = False


BN_POLICIES: Registry[BNPolicy] = Registry("bn_policies", "BN policy")
BN_POLICIES.register("ema", BNPolicy(True),
                     "SPOS: reset, then running averages (the BN momentum, 0.1 by default) over the calibration batches")
BN_POLICIES.register("exact", BNPolicy(True, exact_average=True),
                     "OFA: reset, then the exact average over the calibration subset (the default)")
BN_POLICIES.register("train-mode", BNPolicy(False, batch_stats=True),
                     "statistics of each validation batch (stored statistics untouched)")
BN_POLICIES.register("none", BNPolicy(False), "the statistics inherited from supernet training")

#: the one default of every command and library entry point: ``ema`` with a few calibration batches
#: gave near-chance, tied scores in our runs (docs/ranking.md)
DEFAULT_BN_POLICY = "exact"
#: training images (a seeded subset) the calibrating policies recompute statistics on, and their batch
DEFAULT_CALIB_IMAGES = 1024
DEFAULT_CALIB_BATCH = 128


def calibrates(policy: str) -> bool:
    """Whether ``policy`` recomputes BN statistics on calibration images (raises for an unknown one)."""
    return BN_POLICIES.get(policy).calibrates
