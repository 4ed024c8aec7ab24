"""The CUDA paths of supernet training: mixed precision and channels_last on by default on a GPU."""
from __future__ import annotations

import math

import pytest

from oneshot.checkpoint import load_checkpoint
from oneshot.training import TrainConfig, train_supernet

pytestmark = pytest.mark.gpu


def test_training_on_cuda_uses_amp_and_channels_last_and_resumes(tmp_path):
    cfg = TrainConfig(space="tiny", data="digits", epochs=2, device="cuda", eval_paths=1, bn_calib_images=64,
                      progress=False)
    first = train_supernet(cfg, tmp_path, stop_after=1, echo=lambda _m: None)
    runtime = load_checkpoint(first.checkpoint)["runtime"]
    assert runtime["device"].startswith("cuda") and runtime["amp"] in ("bf16", "fp16") and runtime["channels_last"]
    done = train_supernet(cfg, tmp_path, resume=True, echo=lambda _m: None)
    assert done.epochs_done == 2 and [h["epoch"] for h in done.history] == [1, 2]
    assert all(math.isfinite(h["train_loss"]) for h in done.history)
