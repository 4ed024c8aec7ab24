"""TrivialAugment: seeded, shape- and dtype-preserving, every operation valid at every magnitude."""
import pytest
import torch

from oneshot.data.splits import TensorSplit
from oneshot.data.trivial_augment import BINS, OPS, trivial_augment_batch


def _images(n=64, c=3, size=16, seed=0):
    return torch.randint(0, 256, (n, c, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_draws_only_from_the_generator_and_repeats_with_its_seed():
    x = _images()
    state = torch.get_rng_state()
    a = trivial_augment_batch(x, torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is untouched
    assert torch.equal(a, trivial_augment_batch(x, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, trivial_augment_batch(x, torch.Generator().manual_seed(6)))
    assert a.dtype == torch.uint8 and a.shape == x.shape
    changed = (a != x).flatten(1).any(1)
    assert 0.5 < changed.float().mean() < 1.0  # most images change; identity (and no-op draws) keep some


@pytest.mark.parametrize("name, signed, magnitude, op", OPS, ids=[o[0] for o in OPS])
def test_every_operation_is_valid_at_every_magnitude(name, signed, magnitude, op):
    img = _images(1, size=32)[0]
    for i in range(BINS):
        for m in ([magnitude(i, 32), -magnitude(i, 32)] if signed else [magnitude(i, 32)]):
            out = op(img, m)
            assert out.dtype == torch.uint8 and out.shape == img.shape, (name, i)
    if name == "solarize":  # threshold 255 (the weakest) inverts pure white only, as torchvision's does
        img = img.clamp(max=254)
    if name not in ("autocontrast", "equalize"):  # the weakest magnitude leaves the image as it is
        assert torch.equal(op(img, magnitude(0, 32)), img), name


def test_strongest_magnitudes_are_the_wide_ranges():
    ranges = {name: magnitude(BINS - 1, 32) for name, _, magnitude, _ in OPS}
    assert ranges["rotate"] == 135.0 and ranges["translate_x"] == 32.0 and ranges["shear_x"] == 0.99
    assert ranges["posterize"] == 2 and ranges["solarize"] == 0.0 and magnitude_of("posterize", 0) == 8


def magnitude_of(name, i):
    return next(m for n, _, m, _ in OPS if n == name)(i, 32)


def test_grey_images_and_bad_dtypes():
    grey = _images(32, c=1)
    assert trivial_augment_batch(grey, torch.Generator().manual_seed(0)).shape == grey.shape
    with pytest.raises(ValueError, match="uint8"):
        trivial_augment_batch(grey.float(), torch.Generator())


def test_batches_apply_it_after_the_crop_and_need_a_generator():
    split = TensorSplit(_images(8), torch.zeros(8, dtype=torch.int64))
    plain = next(split.batches(8, generator=torch.Generator().manual_seed(1), augment=True))[0]
    strong = next(split.batches(8, generator=torch.Generator().manual_seed(1), augment=True, trivial_augment=True))[0]
    assert strong.shape == plain.shape and strong.dtype == torch.float32 and not torch.equal(strong, plain)
    with pytest.raises(ValueError, match="Generator"):
        next(split.batches(8, trivial_augment=True))
