"""The OFA MobileNetV3 space against the published OFA Note10 latency-table keys."""
from __future__ import annotations


import numpy as np
import pytest

from oneshot.spaces import create_space
from oneshot.spaces.builtin.mobilenetv3 import se_hidden


def ofa_key(op) -> str | None:
    """The OFA lookup-table key of one operator of the space (None for pooling)."""
    i, o = op.in_hw, op.out_hw
    if op.kind == "mbconv":
        return (f"expanded_conv-input:{i}x{i}x{op.cin}-output:{o}x{o}x{op.cout}-expand:{op.mid}"
                f"-kernel:{op.kernel}-stride:{op.stride}-idskip:{int(op.residual)}"
                f"-se:{int(op.se > 0)}-hs:{int(op.act == 'hswish')}")
    return None


def table_keys(path) -> set[str]:
    # the YAML is large; its top-level keys are the unindented lines ending in ':'
    return {line.rstrip()[:-1] for line in path.read_text().splitlines()
            if line and not line[0].isspace() and line.rstrip().endswith(":")}


@pytest.mark.parametrize("resolution", [224, 160])
def test_every_block_of_w12_space_has_an_ofa_key_and_back(shared_data, resolution):
    keys = table_keys(shared_data / "luts" / "ofa-note10" / f"{resolution}_lookup_table.yaml")
    space = create_space("mobilenetv3", width=1.2, resolution=resolution)
    ours = {ofa_key(op) for op in space.distinct_ops() if op.kind == "mbconv"}
    theirs = {k for k in keys if k.startswith("expanded_conv-")}
    assert len(theirs) == 91  # 1 fixed block + 5 stages x (9 first-block + 9 other-block ops)
    assert ours - theirs == set(), sorted(ours - theirs)[:3]
    assert theirs - ours == set(), sorted(theirs - ours)[:3]
    # the fixed parts: stem, final expand, feature mix, classifier
    r, f = resolution, (resolution + 1) // 2
    h = space.slots[-4].ops[0].in_hw
    assert f"Conv-input:{r}x{r}x3-output:{f}x{f}x24" in keys
    assert f"Conv_1-input:{h}x{h}x192-output:{h}x{h}x1152" in keys
    assert "Conv_2-input:1x1x1152-output:1x1x1536" in keys
    assert "Logits-input:1x1x1536-output:1000" in keys


def test_se_width_follows_ofa():
    assert se_hidden(144) == 40 and se_hidden(288) == 72  # make_divisible(mid // 4, 8)
    space = create_space("mobilenetv3")
    se_ops = [op for op in space.distinct_ops() if op.kind == "mbconv" and op.se]
    assert se_ops and all(op.se == se_hidden(op.mid) and op.se % 8 == 0 for op in se_ops)


def test_gated_blocks_do_not_change_key_or_cost():
    from oneshot.costs.counting import flops_params_table

    space = create_space("mobilenetv3", resolution=32, num_classes=10)
    rng = np.random.default_rng(0)
    arch = np.asarray(space.sample(rng))
    depth_dims = [i for i, d in enumerate(space.dimensions) if d.name.endswith(".depth")]
    arch[depth_dims] = 0  # depth 2 everywhere: blocks 3 and 4 inactive
    other = arch.copy()
    gated = [s.dim for s in space.slots if s.gate is not None]
    other[gated] = (other[gated] + 4) % 9
    assert space.key(arch) == space.key(other)
    table = flops_params_table(space)
    assert table.price_one(arch) == table.price_one(other)
    deeper = arch.copy()
    deeper[depth_dims[0]] = 2  # stage 1 at depth 4: a different network, more MACs
    assert space.key(deeper) != space.key(arch)
    assert table.price_one(deeper)["macs"] > table.price_one(arch)["macs"]
    assert len(space.active_ops(deeper)) == len(space.active_ops(arch)) + 2


def test_width_option_is_validated():
    with pytest.raises(ValueError, match="width must be one of"):
        create_space("mobilenetv3", width=1.5)
    w10 = create_space("mobilenetv3", width=1.0)
    assert w10.slots[0].ops[0].cout == 16 and w10.slots[-1].ops[0].cin == 1280


def test_cifar_form_is_recorded():
    space = create_space("mobilenetv3", resolution=32, num_classes=10)
    assert space.policy.stem_stride == 1 and space.policy.unstrided == ("s1.b1",)
    assert space.slots[-4].ops[0].in_hw == 4 and space.num_classes == 10
