"""In-memory image splits: uint8 NCHW tensors plus labels, batched and normalised on demand.

Everything a supernet run touches (training, BN calibration, validation) fits in memory for the
datasets this project targets, so a split is two tensors, not a DataLoader: iterating it builds no
worker processes and no per-batch Python objects, and the same split object can be handed to every
evaluator (the slow "rebuild a DataLoader iterator per calibration batch" pattern cannot happen).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import torch

from .trivial_augment import trivial_augment_batch


@dataclass
class TensorSplit:
    """Images ``x`` (uint8, N x C x H x W) and labels ``y`` (int64, N).

    ``mean`` / ``std`` (per channel, on the 0..1 scale) are the training split's statistics, shared by
    every split of one ``DataSplits`` so validation and test see the same normalisation. ``hflip``
    says whether horizontal flips are a label-preserving augmentation (not for digits).
    """

    x: torch.Tensor
    y: torch.Tensor
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    hflip: bool = True

    def __post_init__(self) -> None:
        if self.x.dtype != torch.uint8 or self.x.dim() != 4:
            raise ValueError(f"TensorSplit.x must be a uint8 N x C x H x W tensor, got {self.x.dtype} "
                             f"with shape {tuple(self.x.shape)}")
        if self.y.dtype != torch.int64 or self.y.shape != (self.x.shape[0],):
            raise ValueError(f"TensorSplit.y must be int64 of shape ({self.x.shape[0]},), got "
                             f"{self.y.dtype} {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def resolution(self) -> int:
        return int(self.x.shape[-1])

    def subset(self, indices: torch.Tensor) -> "TensorSplit":
        """The images at ``indices`` (same normalisation)."""
        return TensorSplit(self.x[indices], self.y[indices], self.mean, self.std, self.hflip)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float32 ``(x / 255 - mean) / std`` on x's device."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
        return (x.float().div_(255.0) - mean) / std

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                device: str | torch.device = "cpu", augment: bool = False, cutout: int = 0,
                trivial_augment: bool = False, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield normalised float32 ``(x, y)`` batches on ``device``.

        ``shuffle`` and ``augment`` draw only from ``generator`` (a CPU ``torch.Generator``), so a
        seeded generator gives the same batches and crops every time, and resuming a run means
        restoring the generator's state. ``augment`` is a random crop from a zero-padded image
        (padding = resolution / 8) plus, where ``hflip`` allows, a horizontal flip. ``cutout`` > 0
        also zeroes one random ``cutout`` x ``cutout`` square of each normalised image (DeVries &
        Taylor 2017; the square may hang over the border), drawn from the same generator.
        ``trivial_augment`` applies one TrivialAugment operation per image after the crop and flip
        (``oneshot.data.trivial_augment``), from the same generator too.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if (shuffle or augment or cutout or trivial_augment) and generator is None:
            raise ValueError("shuffle/augment/cutout/trivial_augment need a seeded torch.Generator (generator=...) for reproducibility")
        if cutout < 0:
            raise ValueError(f"cutout must be >= 0 pixels, got {cutout}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            xb = self.x[idx]
            if augment:
                xb = augment_batch(xb, generator, hflip=self.hflip)
            if trivial_augment:
                xb = trivial_augment_batch(xb, generator)
            mask = cutout_mask(xb.shape[0], xb.shape[-2], xb.shape[-1], cutout, generator) if cutout else None
            xb = self.normalise(xb.to(device, non_blocking=True))
            if mask is not None:
                xb = xb * mask.to(device, non_blocking=True)  # zero = the training mean after normalising
            yield xb, self.y[idx].to(device, non_blocking=True)

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        return len(self) // batch_size if drop_last else -(-len(self) // batch_size)


def augment_batch(x: torch.Tensor, generator: torch.Generator, *, hflip: bool = True) -> torch.Tensor:
    """Random crop of each image from a zero-padded copy (pad = H / 8), optional horizontal flip.

    Vectorised with one gather so augmentation costs a few tensor ops per batch, not a Python loop.
    """
    b, c, h, w = x.shape
    pad = max(1, h // 8)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    rows = (oy[:, None] + torch.arange(h)[None, :])            # b x h
    cols = (ox[:, None] + torch.arange(w)[None, :])            # b x w
    if hflip:
        flip = torch.rand(b, generator=generator) < 0.5
        cols = torch.where(flip[:, None], cols.flip(1), cols)
    bi = torch.arange(b)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # b x h x w x c
    return out.permute(0, 3, 1, 2).contiguous()


def cutout_mask(b: int, h: int, w: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(b, 1, h, w) float mask, 0 inside one ``size`` x ``size`` square per image, 1 elsewhere.

    The square's centre is uniform over the image, so near a border only part of it is cut: the
    original Cutout, which the authors found better than keeping the square inside.
    """
    cy = torch.randint(0, h, (b,), generator=generator)
    cx = torch.randint(0, w, (b,), generator=generator)
    y0, x0 = (cy - size // 2)[:, None], (cx - size // 2)[:, None]
    rows = torch.arange(h)[None, :]
    cols = torch.arange(w)[None, :]
    in_rows = (rows >= y0) & (rows < y0 + size)                  # b x h
    in_cols = (cols >= x0) & (cols < x0 + size)                  # b x w
    cut = in_rows[:, :, None] & in_cols[:, None, :]
    return (~cut).to(torch.float32)[:, None]


@dataclass
class DataSplits:
    """Train / validation / (optional) test splits of one dataset at one resolution.

    ``val`` is carved from the training data with a recorded seed and serves monitoring and search;
    ``test`` is never used for training or search. ``info`` is JSON-able and is what a checkpoint
    stores: ``load_data_from_info(info)`` rebuilds the identical splits (and checks they match).
    """

    train: TensorSplit
    val: TensorSplit
    test: TensorSplit | None
    num_classes: int
    resolution: int
    info: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] | None = None
