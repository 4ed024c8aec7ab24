"""Shared fixtures. Tests that read ``../shared/data`` skip cleanly when it is absent."""
from __future__ import annotations

import os

# One intra-op thread per test process: the suite runs on 2-core CI machines where oversubscribed
# BLAS/OpenMP pools make small-model tests several times slower. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def one_thread():
    """torch on one intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    the machine is shared, and one thread is faster than contending for all cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent on this machine")
    return SHARED_DATA


# A tiny, easy, synthetic image set (class = colour of a square) so training tests take seconds.
def make_npz(path, n_train=320, n_test=48, classes=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    palette = np.array([[230, 30, 30], [30, 230, 30], [30, 30, 230], [230, 230, 30]], dtype=np.float64)[:classes]

    def images(n):
        y = rng.integers(0, classes, n)
        x = rng.normal(100, 20, (n, size, size, 3))
        for i, c in enumerate(y):
            r, s = rng.integers(0, size // 2, 2)
            x[i, r:r + size // 2, s:s + size // 2] = palette[c]
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)

    train_x, train_y = images(n_train)
    test_x, test_y = images(n_test)
    np.savez(path, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)
    return path


@pytest.fixture(scope="session")
def squares_npz(tmp_path_factory):
    return make_npz(tmp_path_factory.mktemp("data") / "squares.npz")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` exercise the CUDA paths (AMP, channels_last, CUDA scoring): skipped,
    with the reason, on a machine without a CUDA device."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_tests:
        return
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device (marker gpu)")
        for item in gpu_tests:
            item.add_marker(skip)
