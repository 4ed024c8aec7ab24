"""Checkpoints: atomic, weights_only-safe, self-describing, with one-line errors."""
from __future__ import annotations

import argparse

import pytest
import torch

from oneshot.checkpoint import load_checkpoint, load_supernet, save_checkpoint
from oneshot.errors import CheckpointError
from oneshot.spaces import create_space
from oneshot.supernet import Supernet


def _payload(space):
    torch.manual_seed(0)
    net = Supernet(space)
    return net, {"space": space.to_json(), "model": net.state_dict(), "config": {"lr": 0.1},
                 "data": {"spec": "digits"}, "versions": {"oneshot": "x"}, "epoch": 1,
                 "rng": {"torch": torch.get_rng_state(), "numpy": {"state": {"state": 2 ** 100}}}}


def test_roundtrip_and_supernet_rebuild(tmp_path):
    space = create_space("tiny", resolution=16)
    net, payload = _payload(space)
    path = save_checkpoint(tmp_path / "sub" / "supernet.pt", payload)
    data = load_checkpoint(path, expected_space=space)
    assert data["epoch"] == 1 and data["rng"]["numpy"]["state"]["state"] == 2 ** 100
    loaded, meta = load_supernet(path)
    assert not loaded.training and loaded.space.options == {"resolution": 16, "num_classes": 10}
    assert {"space", "config", "data", "versions", "epoch"} <= set(meta) and "model" not in meta
    for (k, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["supernet.pt"]  # no temp file left


def test_errors_are_clear(tmp_path):
    space = create_space("tiny", resolution=16)
    _, payload = _payload(space)
    good = save_checkpoint(tmp_path / "good.pt", payload)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(truncated)
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="not a oneshot checkpoint"):
        load_checkpoint(plain)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "oneshot-checkpoint", "obj": argparse.Namespace(a=1)}, evil)  # needs code to load
    with pytest.raises(CheckpointError, match="not a oneshot checkpoint"):
        load_checkpoint(evil)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(text)
    with pytest.raises(CheckpointError, match="holds space tiny"):
        load_checkpoint(good, expected_space=create_space("tiny", resolution=32))
    with pytest.raises(CheckpointError, match="holds space tiny"):
        load_supernet(good, expected_space=create_space("nas-bench-macro"))


def test_failed_save_keeps_previous_file(tmp_path):
    space = create_space("tiny", resolution=16)
    _, payload = _payload(space)
    path = save_checkpoint(tmp_path / "c.pt", payload)
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, {"bad": lambda: 0})  # not picklable
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]
