"""`oneshot train-arch`: trains one architecture through the supernet loop; resume is exact; inherit works."""
from __future__ import annotations

import json

import pytest
import torch

from oneshot.checkpoint import load_checkpoint, save_checkpoint
from oneshot.cli.main import main
from oneshot.export import load_model
from oneshot.spaces import create_space
from oneshot.standalone import config_from_supernet, train_architecture
from oneshot.supernet import Supernet
from oneshot.training import TrainConfig

ARCH = "012301"


def _config(npz, **kw):
    base = dict(space="tiny", space_options={"num_classes": 4}, data=f"npz:{npz}", resolution=16, epochs=2,
                batch_size=16, lr=0.1, eval_paths=0, bn_calib_images=64, progress=False, device="cpu", seed=3)
    base.update(kw)
    return TrainConfig.from_dict(base)


@pytest.fixture(scope="module")
def trained(squares_npz, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("arch")
    result = train_architecture(_config(squares_npz), ARCH, out, echo=lambda _m: None)
    return out, result


def test_training_records_val_and_test_accuracy_and_exports(trained):
    out, result = trained
    assert result["finished"] and result["epochs"] == 2 and result["encoding"] == ARCH
    # an easy task: better than the 25 % of chance after two short epochs
    assert result["val_accuracy"] > 40 and result["test_accuracy"] > 40
    assert json.loads((out / "result.json").read_text())["val_accuracy"] == result["val_accuracy"]
    model = load_model(out / "model")
    state = load_checkpoint(out / "model.pt")["model"]
    # trained weights exported as they are; BN statistics recomputed exactly (PreciseBN)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items() if not k.endswith(
        ("running_mean", "running_var", "num_batches_tracked")))
    assert result["bn"].startswith("precise-")


def test_resume_after_one_epoch_gives_identical_weights(trained, squares_npz, tmp_path):
    out, _ = trained
    part = train_architecture(_config(squares_npz), ARCH, tmp_path, stop_after=1, echo=lambda _m: None)
    assert part == {"finished": False, "epochs": 1, "encoding": ARCH}
    resumed = train_architecture(_config(squares_npz), None, tmp_path, resume=True, echo=lambda _m: None)
    assert resumed["finished"] and resumed["epochs"] == 2
    a = load_checkpoint(out / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "model.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_inherit_starts_from_the_supernet_path(squares_npz, tmp_path):
    torch.manual_seed(0)
    space = create_space("tiny", resolution=16, num_classes=4)
    supernet = Supernet(space)
    ckpt = tmp_path / "supernet.pt"
    save_checkpoint(ckpt, {"space": space.to_json(), "model": supernet.state_dict(),
                           "config": _config(squares_npz).to_dict(), "data": None, "versions": {}, "epoch": 1})
    meta = load_checkpoint(ckpt)
    # a vanishing learning rate and no decay: the trained conv weights are still the inherited ones
    config = config_from_supernet(meta, {"epochs": 1, "lr": 1e-12, "weight_decay": 0.0, "momentum": 0.0})
    train_architecture(config, ARCH, tmp_path / "ft", init="inherit", supernet=str(ckpt), echo=lambda _m: None)
    got = load_model(tmp_path / "ft" / "model").state_dict()
    want = supernet.extract(space.parse(ARCH)).state_dict()
    weights = [k for k in want if k.endswith("weight")]
    assert weights and all(torch.allclose(got[k], want[k], atol=1e-6) for k in weights)
    fresh = train_architecture(_config(squares_npz, epochs=1, lr=1e-12), ARCH, tmp_path / "scratch",
                               echo=lambda _m: None)
    assert fresh["finished"]
    scratch = load_model(tmp_path / "scratch" / "model").state_dict()
    assert not all(torch.allclose(scratch[k], want[k]) for k in weights)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["train-arch", "--out", str(tmp_path / "x"), "--resume"]) == 2
    assert "arch_train.json" in capsys.readouterr().err
    assert main(["train-arch", "--arch", ARCH, "--init", "inherit", "--out", str(tmp_path / "y")]) == 2


def test_standalone_spec_of_a_file_space_rebuilds_without_the_file(tmp_path):
    """eval-ranking's standalone evaluator spec carries a file space's recorded description."""
    import shutil
    from pathlib import Path

    from oneshot.spaces import create_space
    from oneshot.standalone import standalone_spec
    from oneshot.training import TrainConfig
    from oneshot.training.loop import build_space

    path = tmp_path / "se.yaml"
    shutil.copy(Path(__file__).resolve().parent.parent / "docs" / "examples" / "se_mbconv3.yaml", path)
    space = create_space(str(path), resolution=16)
    spec = standalone_spec(space, {"spec": "digits", "resolution": 16})
    path.unlink()
    config = TrainConfig.from_dict(spec.options["config"])
    assert isinstance(config.space, dict) and config.space["spec"]["name"] == "se-mbconv3"
    rebuilt, resolution = build_space(config, "digits")
    assert resolution == 16 and rebuilt.fingerprint() == space.fingerprint()
