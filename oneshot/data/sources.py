"""Dataset sources: each turns a ``--data`` spec into raw uint8 arrays (no splitting, no resizing).

A source returns a ``RawData``; ``oneshot.data.loading`` carves the validation split, resizes and
normalises. Adding a source = one function plus one entry in ``SOURCES``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from oneshot.errors import ConfigError


@dataclass
class RawData:
    """Raw images as uint8 N x C x H x W numpy arrays with int64 labels."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray | None
    test_y: np.ndarray | None
    class_names: list[str]
    hflip: bool                      # horizontal flip preserves labels (not for digits)
    val_x: np.ndarray | None = None  # a validation split that ships with the dataset (imagefolder val/)
    val_y: np.ndarray | None = None


#: images of sklearn's digits kept for the test split: the last ones (written by other people than
#: most training images, so the test is a fair one); fixed, independent of any run seed
DIGITS_TEST_SIZE = 297


def load_digits_raw(_: str, download: bool) -> RawData:
    """sklearn's 1,797 real 8x8 handwritten digits (UCI, 16 grey levels) as 3-channel uint8 images."""
    from sklearn.datasets import load_digits

    d = load_digits()
    img = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)  # N x 8 x 8
    img = np.repeat(img[:, None, :, :], 3, axis=1)
    y = d.target.astype(np.int64)
    cut = len(y) - DIGITS_TEST_SIZE
    return RawData(img[:cut], y[:cut], img[cut:], y[cut:], [str(i) for i in range(10)], hflip=False)


def _hwc_to_chw(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 3:  # grey N x H x W
        a = a[..., None]
    if a.ndim != 4:
        raise ConfigError(f"{what}: expected images of shape N x H x W x C (or N x C x H x W), got {a.shape}")
    if a.shape[-1] in (1, 3) and a.shape[1] not in (1, 3):
        a = a.transpose(0, 3, 1, 2)
    if a.shape[1] == 1:
        a = np.repeat(a, 3, axis=1)
    if a.shape[1] != 3:
        raise ConfigError(f"{what}: expected 1 or 3 channels, got shape {a.shape}")
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.max(initial=0) <= 1.0:
            a = a * 255.0
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def load_npz_raw(path: str, download: bool) -> RawData:
    """``npz:PATH`` with arrays train_x, train_y and optionally test_x, test_y, label_names."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"--data npz:{path}: file not found; give an .npz with arrays train_x (N,H,W,3 "
                          "uint8), train_y (N,) and optionally test_x, test_y")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        raise ConfigError(f"--data npz:{path}: cannot read it without pickle ({exc}); store plain arrays") from None
    missing = [k for k in ("train_x", "train_y") if k not in arrays]
    if missing:
        raise ConfigError(f"--data npz:{path}: missing array(s) {missing}; found {sorted(arrays)}")
    train_x = _hwc_to_chw(arrays["train_x"], f"npz:{path} train_x")
    train_y = arrays["train_y"].astype(np.int64).reshape(-1)
    test_x = test_y = None
    if "test_x" in arrays and "test_y" in arrays:
        test_x = _hwc_to_chw(arrays["test_x"], f"npz:{path} test_x")
        test_y = arrays["test_y"].astype(np.int64).reshape(-1)
    for part, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        if x is not None and y is not None and len(x) != len(y):
            raise ConfigError(f"--data npz:{path}: {part}_x has {len(x)} images but {part}_y has {len(y)} labels; "
                              f"they must match one to one")
    n_cls = int(max(train_y.max(), test_y.max() if test_y is not None else 0)) + 1
    names = [str(s) for s in arrays["label_names"]] if "label_names" in arrays else [str(i) for i in range(n_cls)]
    return RawData(train_x, train_y, test_x, test_y, names, hflip=True)


_CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                        "data_batch_5", "test_batch", "batches.meta"]),
    "cifar100": ("cifar-100-python", ["train", "test", "meta"]),
}


def _load_cifar(kind: str, root: str, download: bool) -> RawData:
    from torchvision import datasets

    cls = datasets.CIFAR10 if kind == "cifar10" else datasets.CIFAR100
    folder, files = _CIFAR_FILES[kind]
    try:
        train = cls(root, train=True, download=download)
        test = cls(root, train=False, download=download)
    except RuntimeError as exc:
        hint = ("add --download to fetch it (needs internet access)" if not download
                else f"the download failed ({exc})")
        raise ConfigError(f"--data {kind}:{root}: dataset not found or corrupted; expected "
                          f"{Path(root) / folder}/{{{','.join(files)}}} (the official python version); "
                          f"{hint}") from None
    except OSError as exc:  # offline download
        raise ConfigError(f"--data {kind}:{root}: download failed ({exc}); put the official python "
                          f"version in {Path(root) / folder}") from None

    def chw(ds) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)), np.asarray(ds.targets, dtype=np.int64)

    tx, ty = chw(train)
    vx, vy = chw(test)
    return RawData(tx, ty, vx, vy, list(train.classes), hflip=True)


def load_cifar10_raw(root: str, download: bool) -> RawData:
    return _load_cifar("cifar10", root, download)


def load_cifar100_raw(root: str, download: bool) -> RawData:
    return _load_cifar("cifar100", root, download)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")


def _read_folder(folder: Path, classes: list[str], resolution: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    xs, ys = [], []
    for label, name in enumerate(classes):
        sub = folder / name
        if not sub.is_dir():
            continue
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            with Image.open(f) as im:
                im = im.convert("RGB")
                # shorter side to `resolution`, then centre crop: keeps the aspect ratio
                w, h = im.size
                s = resolution / min(w, h)
                im = im.resize((max(resolution, round(w * s)), max(resolution, round(h * s))),
                               Image.BILINEAR)
                w, h = im.size
                left, top = (w - resolution) // 2, (h - resolution) // 2
                im = im.crop((left, top, left + resolution, top + resolution))
                xs.append(np.asarray(im, dtype=np.uint8).transpose(2, 0, 1))
                ys.append(label)
    if not xs:
        raise ConfigError(f"imagefolder: no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}/<class>/")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def load_imagefolder_raw(root: str, download: bool, resolution: int = 32) -> RawData:
    """``imagefolder:ROOT``: ROOT/train/<class>/*.png, optional ROOT/val/ and ROOT/test/ (same classes)."""
    base = Path(root).expanduser()
    train_dir = base / "train"
    if not train_dir.is_dir():
        raise ConfigError(f"--data imagefolder:{root}: expected {train_dir}/<class name>/<images> "
                          "(and optionally val/ and test/ with the same class folders)")
    classes = sorted(d.name for d in train_dir.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise ConfigError(f"--data imagefolder:{root}: need at least 2 class folders in {train_dir}, "
                          f"found {classes}")
    tx, ty = _read_folder(train_dir, classes, resolution)
    raw = RawData(tx, ty, None, None, classes, hflip=True)
    if (base / "val").is_dir():
        raw.val_x, raw.val_y = _read_folder(base / "val", classes, resolution)
    if (base / "test").is_dir():
        raw.test_x, raw.test_y = _read_folder(base / "test", classes, resolution)
    return raw


SOURCES: dict[str, Callable[..., RawData]] = {
    "digits": load_digits_raw,
    "npz": load_npz_raw,
    "cifar10": load_cifar10_raw,
    "cifar100": load_cifar100_raw,
    "imagefolder": load_imagefolder_raw,
}

#: resolution used when a command is not told one: the size that trains well and fast on CPU
DEFAULT_RESOLUTION = {"digits": 16, "npz": 32, "cifar10": 32, "cifar100": 32, "imagefolder": 32}


def same_spec(a: str, b: str) -> bool:
    """Whether two data specs name the same data: the same kind and, for file-backed kinds, the same
    path once resolved from here (``npz:data/x.npz`` and its absolute form are one dataset)."""
    if a == b:
        return True
    try:
        (kind_a, arg_a), (kind_b, arg_b) = parse_spec(a), parse_spec(b)
    except ConfigError:
        return False
    if kind_a != kind_b:
        return False
    return Path(arg_a).expanduser().resolve() == Path(arg_b).expanduser().resolve()


def parse_spec(spec: str) -> tuple[str, str]:
    """``"npz:PATH"`` -> ("npz", "PATH"); ``"digits"`` -> ("digits", "")."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in SOURCES:
        raise ConfigError(f"unknown data spec {spec!r}; valid: digits, npz:PATH, cifar10:ROOT, "
                          "cifar100:ROOT, imagefolder:ROOT")
    if kind != "digits" and not arg:
        raise ConfigError(f"data spec {spec!r} needs a path: {kind}:PATH")
    return kind, arg
