"""TrivialAugment (Müller & Hutter, ICCV 2021), drawn from a seeded generator.

Each training image gets one operation picked uniformly from the "wide" set and one magnitude
picked uniformly from 31 bins; there is nothing to tune. torchvision ships the same policy, but it
draws from torch's global random state, which would make a supernet run depend on everything else
that touched that state and break bit-identical ``--resume``. Here every draw comes from the
epoch's ``torch.Generator`` (like the crops), and torchvision's functional ops do the pixel work.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torchvision.transforms.v2 import functional as F

BINS = 31

#: (name, signed, magnitude of bin i of BINS, op(image, magnitude)) on one uint8 C x H x W image.
#: Magnitude ranges are TrivialAugment's "wide" ones (translations scaled to the image: 32 px at 32).
_Op = tuple[str, bool, Callable[[int, int], float], Callable[[torch.Tensor, float], torch.Tensor]]


def _shear(axis: int) -> Callable[[torch.Tensor, float], torch.Tensor]:
    def op(img: torch.Tensor, m: float) -> torch.Tensor:
        shear = [math.degrees(math.atan(m)), 0.0] if axis == 0 else [0.0, math.degrees(math.atan(m))]
        return F.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=shear, center=[0.0, 0.0])
    return op


def _translate(axis: int) -> Callable[[torch.Tensor, float], torch.Tensor]:
    def op(img: torch.Tensor, m: float) -> torch.Tensor:
        shift = [int(round(m)), 0] if axis == 0 else [0, int(round(m))]
        return F.affine(img, angle=0.0, translate=shift, scale=1.0, shear=[0.0, 0.0])
    return op


def _linear(top: float) -> Callable[[int, int], float]:
    return lambda i, size: top * i / (BINS - 1)


OPS: tuple[_Op, ...] = (
    ("identity", False, _linear(0.0), lambda img, m: img),
    ("shear_x", True, _linear(0.99), _shear(0)),
    ("shear_y", True, _linear(0.99), _shear(1)),
    ("translate_x", True, lambda i, size: size * i / (BINS - 1), _translate(0)),
    ("translate_y", True, lambda i, size: size * i / (BINS - 1), _translate(1)),
    ("rotate", True, _linear(135.0), lambda img, m: F.rotate(img, m)),
    ("brightness", True, _linear(0.99), lambda img, m: F.adjust_brightness(img, 1.0 + m)),
    ("color", True, _linear(0.99), lambda img, m: F.adjust_saturation(img, 1.0 + m)),
    ("contrast", True, _linear(0.99), lambda img, m: F.adjust_contrast(img, 1.0 + m)),
    ("sharpness", True, _linear(0.99), lambda img, m: F.adjust_sharpness(img, 1.0 + m)),
    # bits kept: 8 at bin 0 down to 2 at the last bin
    ("posterize", False, lambda i, size: 8 - round(i * 6 / (BINS - 1)), lambda img, m: F.posterize(img, int(m))),
    ("solarize", False, lambda i, size: 255.0 * (1 - i / (BINS - 1)), lambda img, m: F.solarize(img, m)),
    ("autocontrast", False, _linear(0.0), lambda img, m: F.autocontrast(img)),
    ("equalize", False, _linear(0.0), lambda img, m: F.equalize(img)),
)


def trivial_augment_batch(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random TrivialAugment operation per image of a uint8 N x C x H x W batch.

    Colour operations need three channels; on single-channel images they act on the one channel
    (saturation of a grey image is itself). Images keep their dtype and shape.
    """
    if x.dtype != torch.uint8:
        raise ValueError(f"TrivialAugment works on uint8 images, got {x.dtype}")
    b, size = x.shape[0], x.shape[-1]
    op_index = torch.randint(0, len(OPS), (b,), generator=generator).tolist()
    bins = torch.randint(0, BINS, (b,), generator=generator).tolist()
    signs = (torch.rand(b, generator=generator) < 0.5).tolist()
    out = x.clone()
    for i in range(b):
        name, signed, magnitude, op = OPS[op_index[i]]
        if name == "identity":
            continue
        if name == "color" and x.shape[1] != 3:
            continue
        m = magnitude(bins[i], size)
        if signed and signs[i]:
            m = -m
        out[i] = op(x[i], m)
    return out
