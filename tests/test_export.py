"""Exported model directories reproduce the supernet path exactly, in PyTorch, TorchScript and ONNX."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import oneshot
from oneshot.errors import ConfigError
from oneshot.export import (ARCH_FILE, ONNX_FILE, TORCHSCRIPT_FILE, WEIGHTS_FILE, export_network, load_model,
                            onnx_available)
from oneshot.spaces import create_space
from oneshot.supernet import Supernet


def _trained_looking_supernet(space, seed=0):
    """A supernet whose BN statistics are not the defaults, so a lost buffer would show."""
    torch.manual_seed(seed)
    supernet = Supernet(space)
    with torch.no_grad():
        for m in supernet.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return supernet.eval()


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    torch.set_num_threads(1)
    space = create_space("tiny")
    supernet = _trained_looking_supernet(space)
    arch = space.sample(np.random.default_rng(3))
    out = tmp_path_factory.mktemp("model")
    result = export_network(supernet.extract(arch), space, out, provenance={"test": True})
    return space, supernet, arch, out, result


def test_loaded_model_equals_supernet_path(tiny_export):
    space, supernet, arch, out, _ = tiny_export
    model = oneshot.load_model(out)  # the lazy top-level re-export
    assert not model.training and model.arch == tuple(arch)
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = supernet(x, arch)
        assert torch.equal(model(x), expected)


def test_directory_contents_and_weights_only_loadable(tiny_export):
    space, _, arch, out, result = tiny_export
    record = json.loads((out / ARCH_FILE).read_text())
    assert record["arch"] == list(arch) and record["key"] == space.key(arch)
    assert record["provenance"] == {"test": True}
    assert record["costs"]["macs"] > 0 and record["costs"]["params"] > 0
    state = torch.load(out / WEIGHTS_FILE, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert set(state) == set(space.build(arch).state_dict())


def test_torchscript_agrees_with_pytorch_at_another_batch_size(tiny_export):
    _, supernet, arch, out, _ = tiny_export
    scripted = torch.jit.load(str(out / TORCHSCRIPT_FILE))
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(scripted(x), supernet(x, arch), atol=1e-5)


@pytest.mark.skipif(not onnx_available(), reason="onnx is not installed")
def test_onnx_agrees_with_pytorch(tiny_export):
    import onnx
    from onnx.reference import ReferenceEvaluator

    _, supernet, arch, out, _ = tiny_export
    model = onnx.load(str(out / ONNX_FILE))
    onnx.checker.check_model(model)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    got = ReferenceEvaluator(model).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, supernet(x, arch).numpy(), atol=1e-4, rtol=1e-4)


def test_refuses_to_overwrite_and_detects_tampered_weights(tiny_export, tmp_path):
    space, supernet, arch, out, _ = tiny_export
    with pytest.raises(ConfigError, match="already holds"):
        export_network(supernet.extract(arch), space, out)
    target = tmp_path / "m"
    export_network(supernet.extract(arch), space, target, torchscript=False, onnx=False)
    assert not (target / TORCHSCRIPT_FILE).exists() and not (target / ONNX_FILE).exists()
    raw = (target / WEIGHTS_FILE).read_bytes()
    (target / WEIGHTS_FILE).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ConfigError, match="hash"):
        load_model(target)
    with pytest.raises(ConfigError, match="missing"):
        load_model(tmp_path)


@pytest.mark.parametrize("name", ["proxylessnas", "nas-bench-macro"])
def test_other_spaces_round_trip(name, tmp_path):
    torch.set_num_threads(1)
    space = create_space(name, resolution=32) if name == "proxylessnas" else create_space(name)
    supernet = _trained_looking_supernet(space, seed=1)
    arch = space.sample(np.random.default_rng(0))
    export_network(supernet.extract(arch), space, tmp_path, onnx=False)
    x = torch.randn(2, 3, space.resolution, space.resolution)
    with torch.no_grad():
        assert torch.allclose(load_model(tmp_path)(x), supernet(x, arch), atol=1e-6)
        scripted = torch.jit.load(str(tmp_path / TORCHSCRIPT_FILE))
        assert torch.allclose(scripted(x), supernet(x, arch), atol=1e-5)


def test_weights_outside_the_directory_or_needing_code_are_refused(tiny_export, tmp_path):
    import json as _json
    import pickle

    from oneshot.export import ARCH_FILE

    space, supernet, arch, _, _ = tiny_export
    target = tmp_path / "m"
    export_network(supernet.extract(arch), space, target, torchscript=False, onnx=False)
    record = _json.loads((target / ARCH_FILE).read_text())
    outside = tmp_path / "x.pt"
    outside.write_bytes((target / WEIGHTS_FILE).read_bytes())
    record["files"]["weights"]["path"] = "../x.pt"
    (target / ARCH_FILE).write_text(_json.dumps(record))
    with pytest.raises(ConfigError, match="outside the model directory"):
        load_model(target, verify=False)
    record["files"]["weights"]["path"] = WEIGHTS_FILE

    class Evil:  # a pickle that would run code when loaded
        def __reduce__(self):
            return (print, ("pwned",))

    (target / WEIGHTS_FILE).write_bytes(pickle.dumps(Evil()))
    (target / ARCH_FILE).write_text(_json.dumps(record))
    with pytest.raises(ConfigError, match="code execution"):
        load_model(target, verify=False)


#: every NAS-Bench-201 edge op, `none` included (the cell's zero edge)
NB201_ARCH = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


def test_nas_bench_201_export_torchscript_onnx_and_load(tmp_path, capsys):
    """`oneshot export --arch '|...|'` of a nas-bench-201 network: TorchScript (at another batch size),
    ONNX and load_model all compute the supernet's path."""
    from oneshot.checkpoint import save_checkpoint
    from oneshot.cli.main import main

    torch.set_num_threads(1)
    space = create_space("nas-bench-201")
    supernet = _trained_looking_supernet(space, seed=2)
    ckpt = tmp_path / "supernet.pt"
    save_checkpoint(ckpt, {"space": space.to_json(), "model": supernet.state_dict(), "config": {"epochs": 0},
                           "data": {"spec": "digits", "mean": [0.1] * 3, "std": [0.3] * 3}, "versions": {}, "epoch": 0})
    onnx_flag = "yes" if onnx_available() else "no"
    assert main(["export", "--arch", NB201_ARCH, "--supernet", str(ckpt), "--out", str(tmp_path / "m"),
                 "--onnx", onnx_flag]) == 0
    arch = space.parse(NB201_ARCH)
    assert json.loads((tmp_path / "m" / ARCH_FILE).read_text())["readable"] == NB201_ARCH
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = supernet(x, arch)
        model = load_model(tmp_path / "m")
        assert model.arch == tuple(arch) and torch.equal(model(x), expected)
        scripted = torch.jit.load(str(tmp_path / "m" / TORCHSCRIPT_FILE))
        assert torch.allclose(scripted(x), expected, atol=1e-5)
    if onnx_available():
        import onnx
        from onnx.reference import ReferenceEvaluator

        proto = onnx.load(str(tmp_path / "m" / ONNX_FILE))
        onnx.checker.check_model(proto)
        got = ReferenceEvaluator(proto).run(None, {"input": x[:2].numpy()})[0]
        np.testing.assert_allclose(got, expected[:2].numpy(), atol=1e-4, rtol=1e-4)
