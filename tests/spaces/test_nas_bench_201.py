"""The NAS-Bench-201 topology space: published strings, exact MACs/params, supernet paths."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.costs.counting import flops_params_table
from oneshot.spaces import InvalidArchitectureError, create_space

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def space():
    return create_space("nas-bench-201")


def test_published_strings_round_trip(space):
    arch = space.parse(BEST)
    assert list(arch) == [3, 3, 4, 1, 3, 1]
    assert space.format(arch) == BEST
    assert space.parse(space.key(arch)) == arch
    for a in space.sample_matrix(np.random.default_rng(0), 20):
        assert space.parse(space.format(a)) == tuple(a)
    assert space.size == 15625 and len(space) == 6


@pytest.mark.parametrize("text, words", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "3 nodes"),
    ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv'"),
    ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "each earlier node"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2"),
])
def test_bad_strings_one_line(space, text, words):
    with pytest.raises(InvalidArchitectureError, match=words) as info:
        space.parse(text)
    assert "\n" not in str(info.value)


def test_exact_macs_and_params_at_both_ends(space):
    """The published CIFAR-10 range is 7.78M .. 220.11M FLOPs and 0.07 .. 1.53 MB params.

    By hand (conv + linear multiply-accumulates, batch 1): stem 3*16*9*32^2 = 442,368; each
    reduction block 2 x 1,179,648 + ... = 3,670,016 (16->32) and 3,670,016 (32->64) with their 1x1
    shortcuts; classifier 640: all-none = 7,783,040. Every nor_conv_3x3 edge is C*C*9*HW =
    2,359,296 at every stage, x 6 edges x 15 cells = 212,336,640 more: 220,119,680. NAS-Bench-201's
    own counter adds the classifier's 10 bias additions (7,783,050 and 220,119,690).
    """
    table = flops_params_table(space)
    none, conv3 = [0] * 6, [3] * 6
    assert table.price_one(none) == {"macs": 7_783_040.0, "params": 73_306.0}
    assert table.price_one(conv3) == {"macs": 220_119_680.0, "params": 1_531_546.0}
    assert round((7_783_040 + 10) / 1e6, 2) == 7.78 and int((220_119_680 + 10) / 1e4) / 100 == 220.11
    assert table.bounds() == {"macs": (7_783_040.0, 220_119_680.0), "params": (73_306.0, 1_531_546.0)}
    assert round(1_531_546 / 2 ** 20, 2) == 1.46 and round(1_531_546 / 1e6, 2) == 1.53


def test_key_is_the_encoding(space):
    # the benchmark lists all 15,625 cells with their own accuracies: nothing is merged
    assert space.distinct_size() == 15625


def test_built_network_costs_equal_table(space):
    import torch

    from oneshot.costs.counting import count_macs

    table = flops_params_table(space)
    for a in space.sample_matrix(np.random.default_rng(1), 3):
        net = space.build(a)
        assert sum(p.numel() for p in net.parameters()) == table.price_one(a)["params"]
        assert count_macs(net, (1, 3, 32, 32)) == table.price_one(a)["macs"]
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_supernet_shares_per_edge_and_extracts(space):
    import torch

    from oneshot.supernet import Supernet

    torch.manual_seed(0)
    net = Supernet(space).eval()
    x = torch.randn(2, 3, 32, 32)
    a = space.parse(BEST)
    with torch.no_grad():
        assert torch.allclose(net(x, a), net.extract(a).eval()(x), atol=1e-6)
    # 15 cells x 6 edges, each with its 5 candidate operators
    edges = [m for m in net.modules() if type(m).__name__ == "CellEdge"]
    assert len(edges) == 15 * 6 * 5
    assert space.prefix_engine is False


@pytest.mark.slow
@pytest.mark.parametrize("sampling", ["uniform", "fair"])
def test_train_supernet_uniform_and_fair(tmp_path, squares_npz, sampling):
    import json

    from oneshot.cli.main import main

    out = tmp_path / sampling
    assert main(["train-supernet", "--space", "nas-bench-201", "--data", f"npz:{squares_npz}", "--epochs", "1",
                 "--batch-size", "64", "--sampling", sampling, "--eval-paths", "1", "--bn-calib-images", "32",
                 "--no-progress", "--no-augment", "--out", str(out)]) == 0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log and all(np.isfinite(r["train_loss"]) for r in log if "train_loss" in r)
    assert (out / "supernet.pt").exists()
