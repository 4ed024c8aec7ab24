"""`oneshot export` from a supernet checkpoint and from a search's pareto.csv."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from oneshot.checkpoint import save_checkpoint
from oneshot.cli.main import main
from oneshot.export import load_model, read_export
from oneshot.provenance import file_sha256 as _sha256
from oneshot.spaces import create_space
from oneshot.supernet import Supernet


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    space = create_space("tiny", resolution=16)
    supernet = Supernet(space)
    with torch.no_grad():
        for m in supernet.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
    path = tmp_path_factory.mktemp("sn") / "supernet.pt"
    save_checkpoint(path, {"space": space.to_json(), "model": supernet.state_dict(), "config": {"epochs": 0},
                           "data": {"spec": "digits", "mean": [0.1, 0.1, 0.1], "std": [0.3, 0.3, 0.3]},
                           "versions": {}, "epoch": 0})
    return space, supernet.eval(), path


def test_export_arch_with_inherited_and_random_weights(checkpoint, tmp_path, capsys):
    space, supernet, path = checkpoint
    arch = space.sample(np.random.default_rng(5))
    key = space.encoding_key(arch)
    assert main(["export", "--arch", key, "--supernet", str(path), "--out", str(tmp_path / "a"), "--onnx", "no"]) == 0
    assert "load it with" in capsys.readouterr().out
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "a")(x), supernet(x, arch))
    record = read_export(tmp_path / "a")
    assert record["input"]["mean"] == [0.1, 0.1, 0.1] and record["provenance"]["init"] == "inherit"

    assert main(["export", "--arch", key, "--supernet", str(path), "--out", str(tmp_path / "r"),
                 "--init", "random", "--no-torchscript", "--onnx", "no"]) == 0
    with torch.no_grad():
        assert not torch.allclose(load_model(tmp_path / "r")(x), supernet(x, arch))


def test_export_from_front_uses_the_supernet_recorded_by_the_search(checkpoint, tmp_path):
    space, supernet, path = checkpoint
    archs = space.sample_matrix(np.random.default_rng(1), 3)
    with open(tmp_path / "pareto.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["key", "accuracy", "macs"])
        for a in archs:
            w.writerow([space.key(a), 50.0, 1e6])
    (tmp_path / "search.json").write_text(json.dumps(
        {"identity": {"files": {"supernet": {"path": str(path), "sha256": _sha256(path)}}}}))
    out = tmp_path / "m"
    assert main(["export", "--from", str(tmp_path / "pareto.csv"), "--rank", "2", "--out", str(out),
                 "--onnx", "no", "--no-torchscript"]) == 0
    assert read_export(out)["key"] == space.key(archs[2])
    assert read_export(out)["provenance"]["rank"] == 2
    # out of range and overwrite errors are one-line user errors (status 2)
    assert main(["export", "--from", str(tmp_path), "--rank", "7", "--out", str(tmp_path / "x")]) == 2
    assert main(["export", "--from", str(tmp_path), "--rank", "0", "--out", str(out)]) == 2
    # the search recorded another file than the one now at that path: refuse, name the fix
    (tmp_path / "search.json").write_text(json.dumps(
        {"identity": {"files": {"supernet": {"path": str(path), "sha256": "0" * 64}}}}))
    assert main(["export", "--from", str(tmp_path), "--rank", "0", "--out", str(tmp_path / "y")]) == 2


def test_exported_model_scores_what_the_search_recorded(tmp_path):
    import torch

    from oneshot.checkpoint import save_checkpoint
    from oneshot.data import load_data
    from oneshot.evaluation.supernet_evaluator import SupernetEvaluator
    from oneshot.export import load_model
    from oneshot.spaces import create_space
    from oneshot.supernet import Supernet

    torch.manual_seed(0)
    space = create_space("tiny")
    net = Supernet(space)
    for m in net.modules():  # stored statistics far from the recalibrated ones: "none" scores differ
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    ckpt = tmp_path / "sn.pt"
    info = load_data("digits", space.resolution, seed=0).info
    save_checkpoint(ckpt, {"space": space.to_json(), "model": net.state_dict(), "data": info, "config": {},
                           "versions": {}, "epoch": 1})
    run = tmp_path / "run"
    assert main(["search", "--supernet", str(ckpt), "--budget", "6", "--calib-images", "64", "--seed", "3",
                 "--out", str(run), "--no-progress"]) == 0
    with open(run / "pareto.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    out = tmp_path / "m"
    assert main(["export", "--from", str(run / "pareto.csv"), "--rank", "0", "--out", str(out),
                 "--onnx", "no", "--no-torchscript"]) == 0
    record = read_export(out)
    assert record["provenance"]["bn"]["policy"] == "exact" and record["provenance"]["bn"]["calib_images"] == 64
    model = load_model(out)
    ev = SupernetEvaluator(str(ckpt), bn_policy="none")  # only for its prepared validation batches
    correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in ev._val)
    assert 100.0 * correct / ev._n_val == pytest.approx(float(row["accuracy"]), abs=1e-9)
    # another checkpoint than the one the search scored: refused unless --force
    other = tmp_path / "other.pt"
    save_checkpoint(other, {"space": space.to_json(), "model": Supernet(space).state_dict(), "data": info,
                            "config": {}, "versions": {}, "epoch": 1})
    assert main(["export", "--from", str(run), "--supernet", str(other), "--out", str(tmp_path / "m2")]) == 2
    assert main(["export", "--from", str(run), "--supernet", str(other), "--out", str(tmp_path / "m2"),
                 "--onnx", "no", "--no-torchscript", "--force"]) == 0
