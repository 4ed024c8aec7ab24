"""Scoring a frozen supernet on CUDA gives the CPU's scores (to float tolerance)."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.evaluation.supernet_evaluator import SupernetEvaluator
from oneshot.training import TrainConfig, train_supernet

pytestmark = pytest.mark.gpu


def test_cuda_scores_match_cpu_scores(tmp_path):
    cfg = TrainConfig(space="tiny", data="digits", epochs=1, device="cpu", eval_paths=1, bn_calib_images=64,
                      progress=False)
    ckpt = train_supernet(cfg, tmp_path, echo=lambda _m: None).checkpoint
    cpu = SupernetEvaluator(str(ckpt), calib_images=128, device="cpu")
    gpu = SupernetEvaluator(str(ckpt), calib_images=128, device="cuda")
    archs = [list(a) for a in cpu.space.sample_matrix(np.random.default_rng(0), 6)]
    for a, b in zip(cpu.evaluate(archs), gpu.evaluate(archs)):
        assert a.ok and b.ok
        assert abs(a.metrics["loss"] - b.metrics["loss"]) < 1e-3
        assert abs(a.metrics["accuracy"] - b.metrics["accuracy"]) <= 100.0 / 150 + 1e-9  # one image at most
