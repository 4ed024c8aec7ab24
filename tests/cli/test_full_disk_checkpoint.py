"""A full disk (ENOSPC) while `train-supernet` writes its checkpoint: one line naming the file and the
fix, exit status 2, no traceback, and the previous epoch's checkpoint intact and loadable."""
from __future__ import annotations

import errno

import torch

from oneshot.checkpoint import load_checkpoint
from oneshot.cli.main import main
from tests.conftest import make_npz


def test_enospc_during_a_checkpoint_save_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    npz = make_npz(tmp_path / "d.npz", n_train=64, n_test=8, classes=4, size=16)
    out = tmp_path / "run"
    argv = ["train-supernet", "--space", "tiny", "--data", f"npz:{npz}", "--resolution", "16",
            "--batch-size", "16", "--eval-paths", "1", "--bn-calib-images", "16", "--no-augment",
            "--no-progress", "--out", str(out)]
    assert main([*argv, "--epochs", "1"]) == 0
    ckpt = out / "supernet.pt"
    before = ckpt.read_bytes()
    assert load_checkpoint(ckpt)["epoch"] == 1
    capsys.readouterr()

    real_save = torch.save

    def full_disk_save(obj, f, *args, **kwargs):
        # write part of the file, then fail the way a full disk does: a plain OSError with no file name
        real_save({"partial": torch.zeros(16)}, f)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk_save)
    rc = main(["train-supernet", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"])
    monkeypatch.setattr(torch, "save", real_save)

    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert str(ckpt) in lines[0] and "No space left on device" in lines[0], lines[0]
    assert "free disk space" in lines[0], lines[0]
    # the previous checkpoint is byte-for-byte intact, still loads, and no temp file is left behind
    assert ckpt.read_bytes() == before
    assert load_checkpoint(ckpt)["epoch"] == 1
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    # after freeing space the same command continues
    assert main(["train-supernet", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert load_checkpoint(ckpt)["epoch"] == 2
