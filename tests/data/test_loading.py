"""load_data: real digits, npz files, seeded validation carving, batching and augmentation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from oneshot.data import DataSplits, TensorSplit, augment_batch, carve_validation, load_data, load_data_from_info
from oneshot.errors import ConfigError


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return load_data("digits", 16)


def test_digits_splits_are_disjoint_real_and_recorded(digits):
    assert digits.num_classes == 10 and digits.resolution == 16
    assert digits.train.x.shape[1:] == (3, 16, 16) and digits.train.x.dtype == torch.uint8
    sizes = digits.info["sizes"]
    assert sizes == {"train": len(digits.train), "val": len(digits.val), "test": len(digits.test)}
    assert sizes["train"] + sizes["val"] + sizes["test"] == 1797  # sklearn's digits, all of them
    assert abs(sizes["val"] - 150) <= 10  # 10 % of the 1500 non-test images, stratified
    assert set(digits.val.y.tolist()) == set(range(10))
    # no image of val is in train (raw digits have few exact duplicates; compare by content)
    tr = {bytes(x.numpy()) for x in digits.train.x}
    dup = sum(bytes(x.numpy()) in tr for x in digits.val.x)
    assert dup <= 2


def test_same_info_reproduces_identical_split_and_other_seed_does_not(digits):
    again = load_data_from_info(digits.info)
    assert torch.equal(again.val.x, digits.val.x) and torch.equal(again.train.y, digits.train.y)
    other = load_data("digits", 16, seed=1)
    assert not torch.equal(other.val.y, digits.val.y)
    assert other.info["val_digest"] != digits.info["val_digest"]
    tampered = dict(digits.info, val_digest="0" * 16)
    with pytest.raises(ConfigError, match="differs"):
        load_data_from_info(tampered)


def test_carve_validation_is_stratified_and_seeded():
    labels = np.repeat(np.arange(4), [10, 20, 30, 1])
    tr, va = carve_validation(labels, 0.1, seed=3)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(len(labels)))
    assert np.bincount(labels[va], minlength=4).tolist() == [1, 2, 3, 0]
    assert np.array_equal(va, carve_validation(labels, 0.1, seed=3)[1])


def test_batches_normalise_and_follow_the_generator(digits):
    x, y = next(digits.train.batches(256))
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape == (256, 3, 16, 16)
    full = digits.train.normalise(digits.train.x)
    assert abs(float(full.mean())) < 1e-3 and abs(float(full.std()) - 1) < 0.05
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = [b for b in digits.train.batches(100, shuffle=True, generator=g1, augment=True)]
    b = [b for b in digits.train.batches(100, shuffle=True, generator=g2, augment=True)]
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))
    assert sum(len(p[1]) for p in a) == len(digits.train)
    assert sorted(torch.cat([p[1] for p in a]).tolist()) == sorted(digits.train.y.tolist())
    with pytest.raises(ValueError, match="Generator"):
        next(digits.train.batches(10, shuffle=True))


def test_augment_is_a_shifted_crop_and_flip():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.int64).remainder(251).to(torch.uint8).view(2, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    out = augment_batch(x, g, hflip=False)
    assert out.shape == x.shape
    # every output is a window of the zero-padded input (pad 1): find its offset
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for i in range(2):
        assert any(torch.equal(out[i], padded[i, :, dy:dy + 8, dx:dx + 8]) for dy in range(3) for dx in range(3))
    flips = augment_batch(x.repeat(32, 1, 1, 1), torch.Generator().manual_seed(1), hflip=True)
    padded = torch.nn.functional.pad(x.repeat(32, 1, 1, 1), (1, 1, 1, 1))
    n_flipped = sum(any(torch.equal(flips[i], padded[i, :, dy:dy + 8, dx:dx + 8].flip(-1))
                        for dy in range(3) for dx in range(3)) for i in range(64))
    assert 10 < n_flipped < 54


def test_cutout_zeroes_one_square_per_image_after_normalising():
    from oneshot.data.splits import cutout_mask

    mask = cutout_mask(256, 8, 8, 4, torch.Generator().manual_seed(0))
    assert mask.shape == (256, 1, 8, 8) and set(mask.unique().tolist()) <= {0.0, 1.0}
    cut = (mask[:, 0] == 0)
    # the cut region of each image is one axis-aligned rectangle of at most 4 x 4 (clipped at borders)
    rows, cols = cut.any(2).sum(1), cut.any(1).sum(1)
    assert torch.equal(cut.sum((1, 2)), rows * cols) and rows.max() == 4 and cols.max() == 4
    assert (rows < 4).any() and (rows >= 2).all()  # centres near a border are clipped, never emptied
    split = TensorSplit(torch.full((6, 3, 8, 8), 200, dtype=torch.uint8), torch.zeros(6, dtype=torch.int64))
    plain = next(split.batches(6, generator=torch.Generator().manual_seed(3)))[0]
    x = next(split.batches(6, generator=torch.Generator().manual_seed(3), cutout=4))[0]
    zeroed = (x == 0).all(1)
    assert (zeroed.sum((1, 2)) >= 4).all() and torch.equal(x[~zeroed.unsqueeze(1).expand_as(x)],
                                                          plain[~zeroed.unsqueeze(1).expand_as(x)])
    with pytest.raises(ValueError, match="Generator"):
        next(split.batches(6, cutout=4))
    with pytest.raises(ValueError, match="cutout"):
        next(split.batches(6, generator=torch.Generator(), cutout=-1))


def test_npz_spec_reads_hwc_arrays_and_resizes(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, train_x=rng.integers(0, 255, (40, 12, 12, 3), dtype=np.uint8), train_y=np.arange(40) % 4,
             test_x=rng.integers(0, 255, (8, 12, 12, 3), dtype=np.uint8), test_y=np.arange(8) % 4)
    d = load_data(f"npz:{path}", 16, val_fraction=0.25, seed=2)
    assert d.train.x.shape[1:] == (3, 16, 16) and len(d.val) == 8 and len(d.test) == 8 and d.num_classes == 4
    same = load_data(f"npz:{path}", 12)
    raw = np.load(path)["test_x"].transpose(0, 3, 1, 2)
    assert np.array_equal(same.test.x.numpy(), raw)  # no resize at native size


def test_shared_cifar_subset(shared_data):
    d = load_data(f"npz:{shared_data / 'cifar10-subset' / 'cifar10_subset.npz'}", 32)
    assert d.info["sizes"] == {"train": 4194, "val": 466, "test": 846}
    assert d.class_names[0] == "airplane"


def test_imagefolder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 2)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(
                    tmp_path / split / cls / f"{i}.png")
    d = load_data(f"imagefolder:{tmp_path}", 16, val_fraction=0.34)
    assert d.class_names == ["cat", "dog"] and d.train.x.shape[1:] == (3, 16, 16)
    assert len(d.train) + len(d.val) == 12 and len(d.test) == 4


@pytest.mark.parametrize("spec, match", [
    ("mnist", "unknown data spec"),
    ("npz:/nonexistent/x.npz", "file not found"),
    ("cifar10:/nonexistent/root", "data_batch_1"),
    ("imagefolder:/nonexistent", "train"),
])
def test_bad_specs_name_the_fix(spec, match):
    with pytest.raises(ConfigError, match=match):
        load_data(spec, 32)


def test_num_classes_must_cover_labels():
    with pytest.raises(ConfigError, match="num_classes"):
        load_data("digits", 16, num_classes=5)
    assert load_data("digits", 16, num_classes=12).num_classes == 12


def test_tensor_split_validates_types():
    with pytest.raises(ValueError, match="uint8"):
        TensorSplit(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.int64))


def test_npz_with_unequal_image_and_label_counts_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, train_x=np.zeros((10, 8, 8, 3), np.uint8), train_y=np.zeros(9, np.int64))
    with pytest.raises(ConfigError, match="train_x has 10 images but train_y has 9 labels"):
        load_data(f"npz:{path}", 8)


def test_train_fraction_keeps_a_stratified_share_and_the_same_validation():
    """A data-budget run (``--train-fraction``) trains on fewer images but is validated on the same ones."""
    spec = f"npz:{Path(__file__).resolve().parents[2] / 'benchmarks' / 'data' / 'cifar10_subset.npz'}"
    full = load_data(spec, 32)
    half = load_data(spec, 32, train_fraction=0.5)
    assert torch.equal(half.val.x, full.val.x) and half.info["val_digest"] == full.info["val_digest"]
    assert abs(len(half.train) - len(full.train) / 2) <= 10  # rounded per class
    per_class_full = torch.bincount(full.train.y, minlength=10)
    per_class_half = torch.bincount(half.train.y, minlength=10)
    assert torch.all((per_class_half - per_class_full / 2).abs() <= 1)  # stratified
    kept = {bytes(x.numpy()) for x in full.train.x}
    assert all(bytes(x.numpy()) in kept for x in half.train.x[:50])  # a subset of the training split
    assert half.info["train_fraction"] == 0.5 and half.info["sizes"]["train"] == len(half.train)
    again = load_data_from_info(half.info)  # a checkpoint's data description rebuilds the same subset
    assert torch.equal(again.train.x, half.train.x)
    old = {k: v for k, v in full.info.items() if k != "train_fraction"}  # written before the option
    assert len(load_data_from_info(old).train) == len(full.train)
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ConfigError, match="train_fraction must be in"):
            load_data(spec, 32, train_fraction=bad)
