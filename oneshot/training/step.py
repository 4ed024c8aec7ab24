"""One optimizer step of single-path supernet training (shared by the loop and the benchmark).

All paths of a step see the same mini-batch; each runs forward + backward on its own, so only its
operators build a graph and receive gradients, and gradients accumulate in ``.grad`` (summed, as in
FairNAS's algorithm: with strict fairness each candidate operator gets exactly one contribution,
while the shared stem and head get one per path). Then one optimizer step. Operators no path used
keep ``grad is None``, so SGD leaves them (and their momentum and weight decay) untouched.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from oneshot.training.distill import distill_loss


@dataclass
class StepResult:
    loss: float      # mean over the step's paths
    correct: int     # correct predictions summed over the step's paths
    seen: int        # images x paths


def train_step(model: nn.Module, paths: Sequence[Sequence[int]], x: torch.Tensor, y: torch.Tensor,
               criterion: nn.Module, optimizer: torch.optim.Optimizer, *,
               autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
               scaler: "torch.amp.GradScaler | None" = None, grad_clip: float | None = None,
               reduce_grads: Callable[[nn.Module], None] | None = None,
               teacher: Sequence[int] | None = None, distill: float = 0.0) -> StepResult:
    """Forward/backward every path in ``paths`` on ``(x, y)``, then one optimizer step.

    With ``teacher`` and ``distill > 0`` the teacher path runs forward first without a graph and
    each path's loss becomes ``(1 - distill) * criterion + distill * KL(teacher || path)``
    (``oneshot.training.distill``); the teacher itself receives no gradient.
    ``reduce_grads`` (DDP) averages gradients across ranks after all paths and before clipping; the
    step's statistics are local to this rank. Returns the loss and accuracy of this batch.
    """
    optimizer.zero_grad(set_to_none=True)
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    teacher_probs = None
    if teacher is not None and distill > 0:
        with torch.no_grad(), autocast():
            teacher_probs = torch.softmax(model(x, teacher).float(), dim=1)
    for path in paths:
        with autocast():
            logits = model(x, path)
            loss = criterion(logits, y)
            if teacher_probs is not None:
                loss = distill_loss(logits, teacher_probs, loss, distill)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        # kept on the device: one host sync per step, not one per path
        total_loss += loss.detach().float()
        correct += (logits.detach().argmax(1) == y).sum()
    if reduce_grads is not None:
        reduce_grads(model)
    if scaler is not None:
        scaler.unscale_(optimizer)
    if grad_clip is not None:
        params = [p for p in model.parameters() if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return StepResult(float(total_loss) / max(len(paths), 1), int(correct), len(paths) * int(y.shape[0]))
