"""The training loop and `oneshot train-supernet`: files, bit-for-bit resume, option handling."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from oneshot.checkpoint import load_checkpoint, load_supernet
from oneshot.cli.main import main
from oneshot.data import load_data_from_info
from oneshot.errors import ConfigError
from oneshot.training import TrainConfig, train_supernet


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    """240 real handwritten digits (sklearn) as an npz: small enough for several runs per test."""
    from sklearn.datasets import load_digits

    d = load_digits()
    img = np.clip(np.rint(d.images[:240] * 255 / 16), 0, 255).astype(np.uint8)[..., None].repeat(3, -1)
    path = tmp_path_factory.mktemp("data") / "digits240.npz"
    np.savez(path, train_x=img, train_y=d.target[:240])
    return path


def _config(npz, **kw):
    base = dict(space="tiny", data=f"npz:{npz}", resolution=16, sampling="fair", epochs=2, batch_size=32,
                eval_paths=1, bn_calib_images=32, progress=False, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _weights(path):
    return load_checkpoint(path)["model"]


@pytest.mark.parametrize("sampling", [pytest.param("fair", marks=pytest.mark.slow), "uniform"])
def test_resume_is_bit_for_bit(tmp_path, small_npz, sampling):
    # 2 epochs straight == 1 epoch, stop, resume 1 epoch: identical weights, sampler, history
    cfg = lambda **kw: _config(small_npz, sampling=sampling, batch_size=64, **kw)  # 3 steps per epoch
    straight = train_supernet(cfg(), tmp_path / "a", echo=lambda s: None)
    part = train_supernet(cfg(), tmp_path / "b", stop_after=1, echo=lambda s: None)
    assert part.epochs_done == 1 and load_checkpoint(part.checkpoint)["epoch"] == 1
    resumed = train_supernet(cfg(), tmp_path / "b", resume=True, echo=lambda s: None)
    assert resumed.epochs_done == 2
    a, b = _weights(straight.checkpoint), _weights(resumed.checkpoint)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ca, cb = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    assert ca["sampler"] == cb["sampler"] and ca["step"] == cb["step"]
    strip = lambda h: [{k: v for k, v in r.items() if "seconds" not in k and "per_s" not in k} for r in h]
    assert strip(ca["history"]) == strip(cb["history"])
    # and training changed something: a different seed gives different weights
    other = train_supernet(cfg(seed=4), tmp_path / "c", echo=lambda s: None)
    assert not torch.equal(_weights(other.checkpoint)["slots.0.0.0.weight"], a["slots.0.0.0.weight"])


def test_run_directory_is_self_describing(tmp_path, small_npz):
    out = tmp_path / "run"
    train_supernet(_config(small_npz, epochs=1), out, echo=lambda s: None)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and {"epoch", "train_loss", "train_acc", "lr", "img_per_s", "val", "val_mean"} <= set(log[0])
    assert log[0]["bn"] == "exact-32"
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["sampling"] == "fair" and cfg["resolution"] == 16 and cfg["augment"] is True
    net, meta = load_supernet(out / "supernet.pt")
    assert meta["epoch"] == 1 and meta["config"] == cfg and meta["space"]["name"] == "tiny"
    assert set(meta["versions"]) >= {"oneshot", "torch"}
    data = load_data_from_info(meta["data"])  # the very same validation split
    assert data.info["val_digest"] == meta["data"]["val_digest"] and len(data.val) == meta["data"]["sizes"]["val"]
    x = next(data.val.batches(8))[0]
    with torch.no_grad():
        assert net(x, meta["eval_paths"][0]).shape == (8, 10)


def test_refuses_to_overwrite_and_checks_resume_options(tmp_path, small_npz):
    out = tmp_path / "run"
    train_supernet(_config(small_npz, epochs=1), out, echo=lambda s: None)
    with pytest.raises(ConfigError, match="--resume"):
        train_supernet(_config(small_npz, epochs=1), out, echo=lambda s: None)
    with pytest.raises(ConfigError, match="lr=0.05 in the checkpoint"):
        train_supernet(_config(small_npz, epochs=1, lr=0.5), out, resume=True, explicit={"lr"}, echo=lambda s: None)
    with pytest.raises(Exception, match="no checkpoint"):
        train_supernet(_config(small_npz), tmp_path / "empty", resume=True, echo=lambda s: None)


def test_cutout_changes_training_and_is_recorded(tmp_path, small_npz):
    plain, cut = tmp_path / "plain", tmp_path / "cut"
    train_supernet(_config(small_npz, epochs=1, sampling="uniform"), plain, echo=lambda s: None)
    train_supernet(_config(small_npz, epochs=1, sampling="uniform", cutout=6), cut, echo=lambda s: None)
    a, b = _weights(plain / "supernet.pt"), _weights(cut / "supernet.pt")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert yaml.safe_load((cut / "config.yaml").read_text())["cutout"] == 6
    assert load_checkpoint(cut / "supernet.pt")["config"]["cutout"] == 6


def test_trivial_augment_changes_training_and_is_recorded(tmp_path, small_npz):
    plain, strong = tmp_path / "plain", tmp_path / "ta"
    train_supernet(_config(small_npz, epochs=1, sampling="uniform"), plain, echo=lambda s: None)
    train_supernet(_config(small_npz, epochs=1, sampling="uniform", trivial_augment=True), strong, echo=lambda s: None)
    a, b = _weights(plain / "supernet.pt"), _weights(strong / "supernet.pt")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert load_checkpoint(strong / "supernet.pt")["config"]["trivial_augment"] is True
    # a resumed run may not switch it off: it changes what is computed
    with pytest.raises(ConfigError, match="trivial_augment=True in the checkpoint"):
        train_supernet(_config(small_npz, epochs=2, sampling="uniform"), strong, resume=True,
                       explicit={"trivial_augment"}, echo=lambda s: None)


def test_distill_changes_training_is_recorded_and_resumes_bit_for_bit(tmp_path, small_npz):
    plain, kd, split = tmp_path / "plain", tmp_path / "kd", tmp_path / "split"
    train_supernet(_config(small_npz, epochs=1), plain, echo=lambda s: None)
    train_supernet(_config(small_npz, epochs=2, distill=0.5), kd, echo=lambda s: None)
    train_supernet(_config(small_npz, epochs=2, distill=0.5), split, stop_after=1, echo=lambda s: None)
    train_supernet(_config(small_npz, epochs=2, distill=0.5), split, resume=True, echo=lambda s: None)
    a, b, c = _weights(plain / "supernet.pt"), _weights(kd / "supernet.pt"), _weights(split / "supernet.pt")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(b[k], c[k]) for k in b)
    assert load_checkpoint(kd / "supernet.pt")["config"]["distill"] == 0.5
    with pytest.raises(ConfigError, match="distill=0.5 in the checkpoint"):
        train_supernet(_config(small_npz, epochs=3), kd, resume=True, explicit={"distill"}, echo=lambda s: None)


def test_resume_accepts_the_same_data_file_by_another_path(tmp_path, small_npz, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.chdir(small_npz.parent)
    relative = _config(small_npz, epochs=1, sampling="uniform")
    relative.data = f"npz:{small_npz.name}"
    train_supernet(relative, out, echo=lambda s: None)
    absolute = _config(small_npz, epochs=2, sampling="uniform")  # npz:/abs/path of the same file
    train_supernet(absolute, out, resume=True, explicit={"data", "epochs"}, echo=lambda s: None)
    assert load_checkpoint(out / "supernet.pt")["epoch"] == 2
    other = tmp_path / "other.npz"
    other.write_bytes(small_npz.read_bytes())
    with pytest.raises(ConfigError, match="data="):
        train_supernet(_config(other, epochs=3, sampling="uniform"), out, resume=True, explicit={"data"},
                       echo=lambda s: None)


def test_train_fraction_trains_on_fewer_images_and_resumes_with_them(tmp_path, small_npz):
    out = tmp_path / "half"
    train_supernet(_config(small_npz, epochs=1, train_fraction=0.5), out, echo=lambda s: None)
    meta = load_checkpoint(out / "supernet.pt")
    full = load_data_from_info({**meta["data"], "train_fraction": 1.0})
    assert meta["config"]["train_fraction"] == 0.5 and meta["data"]["train_fraction"] == 0.5
    assert meta["data"]["sizes"]["train"] < len(full.train) and meta["data"]["sizes"]["val"] == len(full.val)
    train_supernet(_config(small_npz, epochs=2, train_fraction=0.5), out, resume=True, echo=lambda s: None)
    assert load_checkpoint(out / "supernet.pt")["data"]["sizes"] == meta["data"]["sizes"]


def test_cli_end_to_end_with_yaml_defaults(tmp_path, small_npz, capsys):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"data": f"npz:{small_npz}", "epochs": 1, "batch_size": 32, "eval_paths": 2,
                                   "bn_calib_images": 32, "sampling": "roundrobin", "seed": 1}))
    out = tmp_path / "cli"
    rc = main(["train-supernet", "--config", str(cfg), "--sampling", "uniform", "--resolution", "16",
               "--no-progress", "--no-augment", "--out", str(out)])
    assert rc == 0
    stored = yaml.safe_load((out / "config.yaml").read_text())
    assert stored["sampling"] == "uniform"  # flag beats YAML
    assert stored["batch_size"] == 32 and stored["augment"] is False and stored["seed"] == 1
    text = capsys.readouterr().out
    assert "epoch 1/1" in text and "val acc of 2 fixed paths" in text
    # resume past the end: nothing to do, a longer run continues
    assert main(["train-supernet", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert load_checkpoint(out / "supernet.pt")["epoch"] == 2
    # a conflicting option on resume is one clear line, status 2
    assert main(["train-supernet", "--out", str(out), "--resume", "--sampling", "fair"]) == 2
    assert "sampling='uniform' in the checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["--sampling", "random"], "valid: uniform, fair, roundrobin"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--cutout", "-2"], "--cutout must be an integer >= 0"),
    (["--train-fraction", "0"], "--train-fraction must be in"),
    (["--distill", "1.5"], "--distill must be in [0, 1]"),
    (["--data", "mnist"], "unknown data spec"),
    (["--space", "nope"], "unknown search space"),
    (["--space", "nas-bench-macro", "--resolution", "16"], "fixed at resolution 32"),
    pytest.param(["--device", "cuda"], "sees no CUDA device",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")),
])
def test_cli_errors_are_one_line(tmp_path, argv, match, capsys):
    assert main(["train-supernet", "--out", str(tmp_path / "x"), "--no-progress", *argv]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_epochs_default_per_dataset_and_warmup_is_checked_against_the_resolved_epochs():
    # digits: the 3-epoch demo; other data: the shipped ranking recipe's 20 (docs/ranking.md)
    assert TrainConfig().validate().resolve_data_defaults("digits").epochs == 3
    assert TrainConfig().resolve_data_defaults("npz").epochs == 20
    assert TrainConfig(epochs=5).resolve_data_defaults("npz").epochs == 5
    with pytest.raises(ConfigError, match="--warmup-epochs must be in \\[0, epochs=3\\)"):
        TrainConfig(warmup_epochs=4).validate().resolve_data_defaults("digits")


def test_class_count_comes_from_the_data_and_a_contradicting_option_is_refused(tmp_path, capsys):
    from tests.conftest import make_npz

    npz = make_npz(tmp_path / "three.npz", n_train=96, n_test=12, classes=3, size=16)
    out = tmp_path / "run"
    assert main(["train-supernet", "--space", "tiny", "--data", f"npz:{npz}", "--resolution", "16", "--epochs", "1",
                 "--batch-size", "16", "--eval-paths", "1", "--out", str(out), "--no-progress"]) == 0
    supernet, meta = load_supernet(out / "supernet.pt")
    assert supernet.space.num_classes == 3 and meta["data"]["num_classes"] == 3
    capsys.readouterr()
    assert main(["train-supernet", "--space", "tiny", "--data", f"npz:{npz}", "--resolution", "16", "--epochs", "1",
                 "-o", "num_classes=10", "--out", str(tmp_path / "run2"), "--no-progress"]) == 2
    assert "-o num_classes=10 contradicts" in capsys.readouterr().err


def test_two_trainings_on_one_directory_are_refused(tmp_path):
    from oneshot.runlock import RunLock
    from oneshot.training import TrainConfig, train_supernet

    out = tmp_path / "run"
    with RunLock(out, "train-supernet"):
        with pytest.raises(ConfigError, match="in use by another train-supernet"):
            train_supernet(TrainConfig(epochs=1, progress=False), out, echo=lambda _m: None)
    assert not (out / "supernet.pt").exists()
