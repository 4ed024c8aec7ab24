"""In-place distillation for single-path supernet training (``train-supernet --distill W``).

BigNAS / OFA train each sampled child against the soft predictions of the supernet's largest child
as well as the labels. Here the teacher is the path with the most parameters; it runs forward only
(``no_grad``), so it adds about a sixth of a fair step's compute and, unlike BigNAS's extra teacher
update, leaves strict fairness intact: every operator still gets exactly the gradients its sampler
gives it. A student's loss is ``(1 - W) * label loss + W * KL(teacher || student)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from oneshot.errors import ConfigError
from oneshot.spaces.core import Architecture


def largest_path(space: Any) -> Architecture:
    """The architecture with the most parameters (ties: the most MACs), found by coordinate ascent.

    Ungated dimensions are independent, so one sweep is exact for them; a depth dimension and the
    slots it gates interact, so sweeps repeat until nothing changes (at most once per dimension).
    """
    from oneshot.costs.counting import flops_params_table
    from oneshot.spaces.layout import LayeredSpace

    if not isinstance(space, LayeredSpace):
        raise ConfigError(f"--distill needs a layered space (its operators' sizes name the teacher); "
                          f"{getattr(space, 'name', space)!r} is not one: train without --distill")
    table = flops_params_table(space)
    counts = space.choice_counts
    arch = np.asarray([int(n) - 1 for n in counts], dtype=np.int64)

    def size(matrix: np.ndarray) -> np.ndarray:
        cost = table.price(matrix, validate=False)
        return cost["params"] * 1e6 + cost["macs"] * 1e-9  # params first, MACs break ties

    for _ in range(len(counts) + 1):
        changed = False
        for d, n in enumerate(counts):
            trial = np.repeat(arch[None, :], int(n), axis=0)
            trial[:, d] = np.arange(int(n))
            best = int(np.argmax(size(trial)))
            if best != arch[d] and size(trial[best:best + 1])[0] > size(arch[None, :])[0]:
                arch[d], changed = best, True
        if not changed:
            break
    return space.validate(arch.tolist())


def distill_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, label_loss: torch.Tensor,
                 weight: float) -> torch.Tensor:
    """``(1 - weight) * label_loss + weight * KL(teacher || student)``, batch mean, in float32."""
    log_p = F.log_softmax(student_logits.float(), dim=1)
    kl = F.kl_div(log_p, teacher_probs, reduction="batchmean")
    return (1.0 - weight) * label_loss + weight * kl
