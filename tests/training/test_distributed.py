"""DDP under torchrun with the gloo backend on CPU: 2 processes, same paths, identical weights."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from oneshot.checkpoint import load_checkpoint
from oneshot.training import distributed as D

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    info = D.init_from_env("cpu")
    model = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(model.weight, float(rank))  # ranks start different ...
    D.broadcast_model(model, info)                      # ... and rank 0's weights win
    model.weight.grad = torch.full_like(model.weight, float(rank + 1))  # bias has no grad: skipped
    D.average_gradients(model, info)
    D.check_same("a value equal on both ranks", b"same", info, torch.device("cpu"))
    try:
        D.check_same("the paths", f"rank{rank}".encode(), info, torch.device("cpu"))
        mismatch = "not detected"
    except RuntimeError as exc:
        mismatch = str(exc)
    results[rank] = (model.weight.detach().clone(), model.weight.grad.clone(), model.bias.grad, mismatch,
                     D.shard(torch.arange(5), info).tolist())
    D.shutdown(info)


def test_gradient_average_broadcast_and_mismatch_detection():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2, join=True)
    for rank in (0, 1):
        weight, grad, bias_grad, mismatch, shard = results[rank]
        assert torch.equal(weight, torch.zeros(2, 3))
        assert torch.equal(grad, torch.full((2, 3), 1.5)) and bias_grad is None
        assert "DDP ranks disagree on the paths" in mismatch
    assert results[0][4] == [0, 1, 2] and results[1][4] == [3, 4]


def test_torchrun_two_ranks_train_the_same_paths(tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "oneshot", "train-supernet", "--space", "tiny", "--data", "digits", "--sampling", "fair",
           "--epochs", "2", "--batch-size", "64", "--eval-paths", "1", "--bn-calib-images", "64",
           "--no-progress", "--device", "cpu", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("epoch 2/2:") == 1  # only rank 0 talks
    ckpt = load_checkpoint(out / "supernet.pt")
    assert ckpt["world_size"] == 2 and ckpt["epoch"] == 2 and "x2" in proc.stdout
    log = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and log[1]["val_mean"] > 0
    # the loop checked after each epoch that both ranks ran the same paths and hold identical weights
    # (D.check_same raises otherwise); the paths are the single-process sampler's paths
    from oneshot.sampling import create_sampler
    from oneshot.spaces import create_space

    sampler = create_sampler("fair", create_space("tiny", resolution=16), seed=0)
    for _ in range(ckpt["step"]):
        sampler.step()
    assert ckpt["sampler"] == sampler.state_dict()
