"""Few-shot supernets: split training, manifest, routing of architectures to their sub-supernet."""
from __future__ import annotations

import json

import numpy as np
import pytest

from oneshot.errors import CheckpointError, ConfigError


@pytest.fixture(scope="module")
def few_shot(tmp_path_factory):
    from oneshot.training import TrainConfig, train_supernet
    from oneshot.training.few_shot import train_few_shot

    out = tmp_path_factory.mktemp("fewshot")
    cfg = TrainConfig(space="tiny", data="digits", epochs=1, progress=False, eval_paths=1, bn_calib_images=64)
    res = train_supernet(cfg, out, echo=lambda _m: None)
    manifest = train_few_shot(res.checkpoint, out, "s1.l1", 1, echo=lambda _m: None, progress=False)
    return out, manifest


def test_one_sub_supernet_per_choice_with_the_dimension_fixed(few_shot):
    import torch

    from oneshot.checkpoint import load_checkpoint

    out, manifest = few_shot
    data = json.loads(manifest.read_text())
    assert data["split_dim"] == 0 and len(data["supernets"]) == 3
    base = load_checkpoint(out / "supernet.pt")["model"]
    for choice, rel in data["supernets"].items():
        sub = load_checkpoint(out / rel)
        # only the chosen op of the split layer trained: the other two keep the base weights
        for other in {0, 1, 2} - {int(choice)}:
            key = next(k for k in base if k.startswith(f"slots.1.{other}.") and k.endswith("weight"))
            assert torch.equal(sub["model"][key], base[key])
        key = next(k for k in base if k.startswith(f"slots.1.{choice}.") and k.endswith("weight"))
        assert not torch.equal(sub["model"][key], base[key])
        assert all(p[0] == int(choice) for p in sub["eval_paths"])


def test_evaluator_routes_to_the_sub_supernet(few_shot, one_thread):
    from oneshot.evaluation.supernet_evaluator import SupernetEvaluator

    out, manifest = few_shot
    data = json.loads(manifest.read_text())
    kw = dict(bn_policy="exact", calib_images=32, calib_batch=16, val_images=32, eval_batch=16)
    ev = SupernetEvaluator(str(manifest), **kw)
    plain = SupernetEvaluator(str(manifest), engine=False, **kw)
    rng = np.random.default_rng(0)
    archs = [ev.space.sample(rng) for _ in range(6)]
    got = [r.metrics for r in ev.evaluate(archs)]
    assert got == [r.metrics for r in plain.evaluate(archs)]
    for arch, metrics in zip(archs, got):
        sub = SupernetEvaluator(str(out / data["supernets"][str(arch[0])]), **kw)
        assert sub.evaluate([arch])[0].metrics == metrics
    assert ev.describe()["few_shot_split_dim"] == 0


def test_bad_split_and_bad_manifest(few_shot, tmp_path):
    from oneshot.training.few_shot import load_manifest, train_few_shot

    out, _ = few_shot
    with pytest.raises(ConfigError, match="not a dimension"):
        train_few_shot(out / "supernet.pt", tmp_path, "nope", 1)
    with pytest.raises(ConfigError, match="split-epochs"):
        train_few_shot(out / "supernet.pt", tmp_path, "s1.l1", 0)
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_manifest(bad)
    bad.write_text("{}")
    with pytest.raises(CheckpointError, match="not a few-shot manifest"):
        load_manifest(bad)


def test_export_of_a_few_shot_architecture_takes_its_sub_supernet(few_shot, tmp_path):
    import torch

    from oneshot.export import export_from_supernet, load_model

    out, manifest = few_shot
    data = json.loads(manifest.read_text())
    arch = [2, 0, 1, 0, 1, 0]
    result = export_from_supernet(str(manifest), arch, tmp_path / "m", torchscript=False, onnx=False)
    assert result.files["weights"]
    model = load_model(tmp_path / "m")
    sub = torch.load(out / data["supernets"]["2"], weights_only=True)["model"]
    key = next(k for k in sub if k.startswith("slots.1.2.") and k.endswith("weight"))
    exported = model.state_dict()
    assert any(torch.equal(v, sub[key]) for v in exported.values() if v.shape == sub[key].shape)


def test_a_changed_sub_supernet_is_refused(few_shot, tmp_path):
    import shutil

    from oneshot.training.few_shot import load_manifest

    out, manifest = few_shot
    copy = tmp_path / "fs"
    shutil.copytree(out, copy)
    data = json.loads((copy / "few_shot.json").read_text())
    sub = copy / data["supernets"]["1"]
    sub.write_bytes(sub.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CheckpointError, match="changed since the split"):
        load_manifest(copy / "few_shot.json")
