"""A user-defined YAML space end to end, and `spaces show NAME --format yaml` read back by --space."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from oneshot.cli.main import main
from oneshot.spaces import create_space

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "se_mbconv3.yaml"


def test_spaces_show_format_yaml_reads_back(tmp_path, capsys):
    assert main(["spaces", "show", "fbnet", "-o", "resolution=32", "-o", "head=1504", "--format", "yaml"]) == 0
    path = tmp_path / "fbnet.yaml"
    path.write_text(capsys.readouterr().out)
    space, back = create_space("fbnet", resolution=32, head=1504), create_space(str(path))
    assert [s.ops for s in back.slots] == [s.ops for s in space.slots]
    assert back.to_json()["dimensions"] == space.to_json()["dimensions"]
    assert main(["spaces", "show", str(path)]) == 0
    assert "22 dimensions, 984,770,902,183,611,232,881 encodings" in capsys.readouterr().out
    assert main(["spaces", "show", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "fbnet"


def test_a_bad_space_file_is_refused_with_its_key_path(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    text = EXAMPLE.read_text()
    cut = text.rindex("{type: mbconv, expand: 6, kernel: 3, se: 0.25}")  # stage3's second choice
    path.write_text(text[:cut] + text[cut:].replace("kernel: 3", "kernel: 4", 1))
    assert main(["arch-info", str(path), "random"]) == 2
    assert "stages[3].choices[1].kernel: 4 is not odd" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.ray
def test_yaml_space_train_profile_search_export_load_without_the_file(tmp_path, capsys):
    import torch

    from oneshot.export import load_model

    space_file = tmp_path / "se_mbconv3.yaml"
    shutil.copy(EXAMPLE, space_file)
    # no built-in space is this one
    space = create_space(str(space_file), resolution=16)
    for name in ("tiny", "proxylessnas", "mobilenetv3", "fairnas"):
        assert [d.size for d in create_space(name).dimensions] != [d.size for d in space.dimensions]
    sn, lut = tmp_path / "sn", tmp_path / "lut.json"
    assert main(["train-supernet", "--space", str(space_file), "--data", "digits", "--epochs", "1", "--device", "cpu",
                 "--eval-paths", "1", "--bn-calib-images", "64", "--out", str(sn), "--no-progress"]) == 0
    assert main(["lut", "profile", "--space", str(space_file), "-o", "resolution=16", "--device", "cpu",
                 "--warmup", "1", "--repeats", "3", "--out", str(lut), "--no-progress"]) == 0
    space_file.unlink()  # from here on, every command rebuilds the space from what the artifacts record
    capsys.readouterr()
    assert main(["lut", "check", "--lut", str(lut)]) == 0
    assert "ok: " in capsys.readouterr().out
    assert main(["train-supernet", "--out", str(sn), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert main(["search", "--supernet", str(sn / "supernet.pt"), "--strategy", "random", "--objective", "accuracy:max",
                 "--objective", "latency_ms:min", "--lut", str(lut), "--budget", "6", "--workers", "2",
                 "--calib-images", "64", "--out", str(tmp_path / "search"), "--no-progress"]) == 0
    assert main(["export", "--from", str(tmp_path / "search" / "pareto.csv"), "--rank", "0",
                 "--out", str(tmp_path / "model"), "--onnx", "no"]) == 0
    model = load_model(tmp_path / "model")
    assert model.space_name == "se-mbconv3"
    with torch.no_grad():
        assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    recorded = json.loads((tmp_path / "model" / "space.json").read_text())
    assert recorded["spec"]["name"] == "se-mbconv3"


def test_train_arch_from_a_file_space_supernet_without_the_file(tmp_path, capsys):
    """train-arch --supernet rebuilds a file space from the checkpoint's recorded description."""
    from oneshot.export import load_model

    space_file = tmp_path / "se_mbconv3.yaml"
    shutil.copy(EXAMPLE, space_file)
    sn = tmp_path / "sn"
    assert main(["train-supernet", "--space", str(space_file), "--data", "digits", "--epochs", "1", "--device", "cpu",
                 "--eval-paths", "1", "--bn-calib-images", "32", "--batch-size", "64", "--out", str(sn),
                 "--no-progress"]) == 0
    space = create_space(str(space_file), resolution=16)
    arch = space.encoding_key(space.sample(np.random.default_rng(0)))
    space_file.unlink()
    capsys.readouterr()
    out = tmp_path / "arch"
    assert main(["train-arch", "--supernet", str(sn / "supernet.pt"), "--arch", arch, "--epochs", "1",
                 "--bn-calib-images", "32", "--batch-size", "64", "--out", str(out), "--no-progress"]) == 0
    assert f"{arch} after 1 epochs" in capsys.readouterr().out
    model = load_model(out / "model")
    assert model.space_name == "se-mbconv3"
    recorded = json.loads((out / "arch_train.json").read_text())["space"]
    assert recorded["spec"]["name"] == "se-mbconv3"
    assert main(["train-arch", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 0
