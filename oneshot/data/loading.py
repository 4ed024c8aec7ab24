"""``load_data``: a ``--data`` spec -> train / val / test ``TensorSplit``s at one resolution.

The validation split is carved from the training data, stratified per class, with a numpy
Generator seeded by ``seed``; ``info`` records everything needed to carve it again, plus a hash of
the chosen indices so a later run (a search reading a checkpoint) can prove it uses the same split.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from oneshot.errors import ConfigError

from .sources import DEFAULT_RESOLUTION, SOURCES, RawData, parse_spec
from .splits import DataSplits, TensorSplit


def _resize(x: np.ndarray, resolution: int) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.shape[-1] == resolution and t.shape[-2] == resolution:
        return t.clone()
    out = []
    for chunk in t.split(2048):  # bounded memory for larger datasets
        f = torch.nn.functional.interpolate(chunk.float(), size=(resolution, resolution), mode="bilinear",
                                            align_corners=False, antialias=chunk.shape[-1] > resolution)
        out.append(f.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def carve_validation(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of ``range(len(labels))``: (train indices, val indices), both sorted.

    Each class gives ``round(n_c * val_fraction)`` images (at least one when it has two or more), so
    small validation splits still see every class.
    """
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = int(round(len(idx) * val_fraction))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        val.append(rng.permutation(idx)[:k])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), val_idx


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def load_data(spec: str, resolution: int | None = None, *, seed: int = 0, val_fraction: float = 0.1,
              num_classes: int | None = None, download: bool = False, train_fraction: float = 1.0) -> DataSplits:
    """Load ``spec`` (``digits``, ``npz:PATH``, ``cifar10:ROOT``, ``cifar100:ROOT``, ``imagefolder:ROOT``).

    Images are resized to ``resolution`` x ``resolution`` (default: per dataset, 16 for digits, 32
    otherwise) and kept as uint8 in memory. ``val_fraction`` of the training data (stratified,
    seeded by ``seed``) becomes ``val`` unless the dataset ships its own validation split
    (imagefolder ``val/``). ``num_classes``, when given, must cover every label (a larger value is
    allowed, e.g. to match a space's classifier). ``download`` lets torchvision fetch CIFAR.
    ``train_fraction`` < 1 keeps only that share of the training split (stratified, seeded by
    ``seed``; validation and test unchanged): data-budget experiments on the same held-out images.
    """
    kind, arg = parse_spec(spec)
    if resolution is None:
        resolution = DEFAULT_RESOLUTION[kind]
    if not isinstance(resolution, int) or resolution < 8:
        raise ConfigError(f"resolution must be an integer >= 8, got {resolution!r}")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if not 0.0 < float(train_fraction) <= 1.0:
        raise ConfigError(f"train_fraction must be in (0, 1], got {train_fraction!r}")
    train_fraction = float(train_fraction)
    if kind == "imagefolder":
        raw: RawData = SOURCES[kind](arg, download, resolution=resolution)
    else:
        raw = SOURCES[kind](arg, download)

    labels_max = int(raw.train_y.max())
    if raw.train_y.min() < 0:
        raise ConfigError(f"--data {spec}: negative labels are not class indices")
    n_cls = max(len(raw.class_names), labels_max + 1)
    if num_classes is not None:
        if num_classes < labels_max + 1:
            raise ConfigError(f"--data {spec} has labels up to {labels_max} but num_classes={num_classes}; "
                              f"use num_classes >= {labels_max + 1}")
        n_cls = int(num_classes)

    if raw.val_x is not None:
        train_x, train_y, val_x, val_y = raw.train_x, raw.train_y, raw.val_x, raw.val_y
        val_source, digest = "shipped", _digest(raw.val_y)
    else:
        tr, va = carve_validation(raw.train_y, float(val_fraction), seed)
        train_x, train_y, val_x, val_y = raw.train_x[tr], raw.train_y[tr], raw.train_x[va], raw.train_y[va]
        val_source, digest = "carved", _digest(va, raw.train_y[va])
    if train_fraction < 1.0:
        # the same stratified carving, with another seed so the kept images do not depend on which
        # went to validation; what it "holds out" here is simply dropped
        keep, _ = carve_validation(train_y, 1.0 - train_fraction, seed + 1)
        train_x, train_y = train_x[keep], train_y[keep]

    xt = _resize(train_x, resolution)
    # normalisation statistics of the training split (0..1 scale), shared by all splits
    xf = xt.float().div_(255.0)
    mean = tuple(float(v) for v in xf.mean(dim=(0, 2, 3)))
    std = tuple(max(float(v), 1e-3) for v in xf.std(dim=(0, 2, 3)))
    del xf

    def split(x: np.ndarray | torch.Tensor, y: np.ndarray) -> TensorSplit:
        xx = x if isinstance(x, torch.Tensor) else _resize(x, resolution)
        return TensorSplit(xx, torch.from_numpy(np.asarray(y, dtype=np.int64)).clone(), mean, std, raw.hflip)

    train = split(xt, train_y)
    val = split(val_x, val_y)
    test = split(raw.test_x, raw.test_y) if raw.test_x is not None else None
    info: dict[str, Any] = {
        "spec": spec,
        "resolution": resolution,
        "seed": int(seed),
        "val_fraction": float(val_fraction),
        "train_fraction": train_fraction,
        "num_classes": n_cls,
        "val_source": val_source,
        "val_digest": digest,
        "sizes": {"train": len(train), "val": len(val), "test": len(test) if test is not None else 0},
        "mean": list(mean),
        "std": list(std),
        "hflip": raw.hflip,
    }
    return DataSplits(train, val, test, n_cls, resolution, info, list(raw.class_names))


def load_data_from_info(info: dict[str, Any], *, download: bool = False, spec: str | None = None) -> DataSplits:
    """Rebuild the splits a checkpoint recorded (``DataSplits.info``) and check they are identical.

    ``spec`` overrides the recorded one when the data moved (e.g. another ``npz:`` path); the
    validation indices must still match, else a ``ConfigError`` says the split differs.
    """
    try:
        data = load_data(spec or info["spec"], int(info["resolution"]), seed=int(info["seed"]),
                         val_fraction=float(info["val_fraction"]), num_classes=info.get("num_classes"),
                         download=download, train_fraction=float(info.get("train_fraction", 1.0)))
    except KeyError as exc:
        raise ConfigError(f"data description {info!r} lacks the field {exc.args[0]!r}") from None
    want = info.get("val_digest")
    if want is not None and data.info["val_digest"] != want:
        raise ConfigError(f"the validation split of {spec or info['spec']} differs from the recorded one "
                          f"(digest {data.info['val_digest']} != {want}); the dataset files changed")
    return data
