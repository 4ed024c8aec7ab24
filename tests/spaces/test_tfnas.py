"""The TF-NAS space against the published TF-NAS CPU latency table's own key structure."""
from __future__ import annotations

import re

import numpy as np
import pytest

from oneshot.latency import latency_table, missing_entries
from oneshot.latency.formats import import_table
from oneshot.latency.formats.tfnas import restricted_load
from oneshot.spaces import create_space

_KEY = re.compile(r"^MBInvertedResBlock_(\d+)_(\d+)_(\d+)_(\d+)_k(\d+)_s(\d+)_(relu|swish)$")


def tfnas_key(op) -> str:
    return f"MBInvertedResBlock_{op.in_hw}_{op.cin}_{op.se}_{op.cout}_k{op.kernel}_s{op.stride}_{op.act}"


def test_layout_follows_tf_nas():
    space = create_space("tfnas")
    names = [d.name for d in space.dimensions]
    assert names[:3] == ["s1.depth", "s1.b1", "s1.b2"] and "s6.depth" not in names
    assert [len(d.choices) for d in space.dimensions if d.name.endswith(".depth")] == [2, 3, 4, 4, 4]
    blocks = [d for d in space.dimensions if not d.name.endswith(".depth")]
    assert len(blocks) == 18 and all(d.size == 8 for d in blocks)
    first = space.slots[1].ops[0]
    assert (first.cin, first.mid, first.se, first.cout, first.expand_conv) == (32, 32, 8, 16, False)
    s1b1 = dict(zip(space.dimensions[1].choices, space.slots[2].ops))
    assert s1b1["k3e6se"].se == 32 and s1b1["k3e3se"].se == 16 and s1b1["k5e6"].mid == 96
    assert space.slots[-3].ops[0].signature() == "conv-in7x7x320-out1280-s1-k1-swish"


def test_shipped_keys_are_exactly_the_space_shapes(shared_data):
    data = restricted_load((shared_data / "luts" / "tfnas" / "latency_cpu.pkl").read_bytes())
    theirs = {k for k in data if k != "base"}
    space = create_space("tfnas")
    ours = {tfnas_key(op) for op in space.distinct_ops() if op.kind == "mbconv" and op.cin != 32}
    assert ours == theirs  # 11 block shapes x k{3,5} x SE {0, Cin, 2Cin}: 66 keys
    for op in space.distinct_ops():  # every full-width mid is a measured point of its key's curve
        if op.kind == "mbconv" and op.cin != 32:
            assert op.mid in data[tfnas_key(op)]


@pytest.mark.parametrize("ratios", ["1.0", "0.5,0.75,1.0"])
def test_table_covers_and_prices_the_space(shared_data, ratios):
    space = create_space("tfnas", mid_ratios=ratios)
    result = import_table("tfnas", shared_data / "luts" / "tfnas" / "latency_cpu.pkl", space)
    assert missing_entries(space, result.table) == []
    data = restricted_load((shared_data / "luts" / "tfnas" / "latency_cpu.pkl").read_bytes())
    lat = latency_table(space, result.table)
    for seed in range(3):
        arch = space.sample(np.random.default_rng(seed))
        by_hand = data["base"] + sum(max(data[tfnas_key(op)][op.mid], 0.0) for slot, op in space.active_ops(arch)
                                     if slot.dim is not None)
        assert lat.price_one(arch)["latency_ms"] == pytest.approx(by_hand)
    lo, hi = lat.bounds()["latency_ms"]
    assert data["base"] < lo < hi


def test_check_points_the_tfnas_table_at_tfnas(shared_data, tmp_path, capsys):
    from oneshot.cli.main import main

    out = tmp_path / "tfnas.json"
    assert main(["lut", "import", "--format", "tfnas", str(shared_data / "luts" / "tfnas" / "latency_cpu.pkl"),
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["lut", "check", "--space", "proxylessnas", "--lut", str(out)]) == 1
    assert "it fits tfnas best" in capsys.readouterr().out


def test_mid_ratios_are_validated():
    with pytest.raises(ValueError, match=r"mid_ratios must be distinct numbers in \(1/3, 1\]"):
        create_space("tfnas", mid_ratios="0.2,1.0")
    with pytest.raises(ValueError, match="mid_ratios must be numbers"):
        create_space("tfnas", mid_ratios="half")
    space = create_space("tfnas", mid_ratios="0.5,1")
    assert space.dimensions[1].choices[:2] == ("k3e3@0.5", "k3e6@0.5") and space.dimensions[1].size == 16
    assert space.slots[2].ops[1].mid == 48  # 16 x 6 x 0.5


@pytest.mark.slow
def test_tfnas_networks_build_and_count():
    pytest.importorskip("fvcore")
    from oneshot.costs.counting import flops_params_table

    space = create_space("tfnas", mid_ratios="0.75,1")
    arch = space.sample(np.random.default_rng(0))
    model = space.build(arch)
    import torch

    assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert flops_params_table(space).price_one(arch)["params"] == sum(p.numel() for p in model.parameters())
