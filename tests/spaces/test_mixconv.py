"""MixConv kernel lists (MixNet): an MBConv whose depthwise conv splits its channels into groups of
different kernels. Module, exact costs (hand count and fvcore), signatures, supernet, space files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from oneshot.costs.counting import flops_params_table, op_cost
from oneshot.errors import ConfigError
from oneshot.spaces.blocks import MixDepthwise, make_op
from oneshot.spaces.core import space_from_json
from oneshot.spaces.layout import OpSpec, mix_split
from oneshot.spaces.spec_file import space_from_spec, spec_from_space
from oneshot.supernet import Supernet

SPEC = {
    "name": "mix3",
    "resolution": 16,
    "num_classes": 10,
    "stem": {"out": 16, "act": "relu"},
    "stages": [
        {"name": "s1", "width": 24, "stride": 2, "repeat": 2, "names": "s1.l{i}",
         "choices": [{"type": "mbconv", "expand": 3, "kernel": 3},
                     {"type": "mbconv", "expand": 3, "kernel": [3, 5]},
                     {"type": "mbconv", "expand": 6, "kernel": [3, 5, 7], "se": 0.25},
                     {"type": "skip", "at_first": False}]},
        {"name": "s2", "width": 40, "stride": 2, "repeat": 2, "act": "swish", "names": "s2.l{i}",
         "choices": [{"type": "mbconv", "expand": 3, "kernel": [5, 3]},
                     {"type": "mbconv", "expand": 3, "kernel": 5}]},
    ],
    "head": [{"type": "pool"}, {"type": "linear"}],
}


def mix_op(**kw) -> OpSpec:
    base = dict(kind="mbconv", cin=16, cout=24, in_hw=16, stride=2, kernel=7, kernels=(3, 5, 7), mid=50, se=16,
                act="swish")
    return OpSpec(**{**base, **kw})


def test_channel_split_gives_the_remainder_to_the_first_group():
    assert mix_split(50, 3) == [18, 16, 16] and mix_split(48, 3) == [16, 16, 16] and mix_split(7, 2) == [4, 3]
    dw = MixDepthwise(50, (3, 5, 7), 2)
    assert [(c.in_channels, c.groups, c.kernel_size, c.padding) for c in dw.convs] == [
        (18, 18, (3, 3), (1, 1)), (16, 16, (5, 5), (2, 2)), (16, 16, (7, 7), (3, 3))]
    assert dw(torch.randn(2, 50, 9, 9)).shape == (2, 50, 5, 5)


def test_costs_equal_a_hand_count_and_fvcore():
    op = mix_op()
    hw_in, hw_out, cin, mid, se, cout = 16, 8, 16, 50, 16, 24
    groups = [(18, 3), (16, 5), (16, 7)]
    macs = (hw_in ** 2 * cin * mid                                   # 1x1 expansion
            + sum(hw_out ** 2 * c * k * k for c, k in groups)        # MixConv depthwise, per group
            + mid * se + se * mid                                    # SE on the pooled 1x1 map
            + hw_out ** 2 * mid * cout)                              # 1x1 projection
    params = (cin * mid + 2 * mid + sum(c * k * k for c, k in groups) + 2 * mid
              + mid * se + se + se * mid + mid + mid * cout + 2 * cout)
    assert op_cost(op) == {"macs": float(macs), "params": float(params)}
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(make_op(op).eval(), torch.zeros(1, cin, hw_in, hw_in))
    analysis.unsupported_ops_warnings(False)
    assert analysis.by_operator()["conv"] == macs


def test_signatures_key_mixconv_distinctly():
    plain = OpSpec("mbconv", 16, 24, 16, 2, 7, 50, se=16, act="swish")
    sigs = {plain.signature(), mix_op().signature(), mix_op(kernels=(7, 5, 3)).signature(),
            mix_op(kernel=5, kernels=(3, 5)).signature()}
    assert len(sigs) == 4 and "mix3_5_7" in mix_op().signature()
    assert op_cost(mix_op())["macs"] != op_cost(mix_op(kernels=(7, 5, 3)))["macs"]  # the order matters
    assert "kernels" not in plain.to_json() and mix_op().to_json()["kernels"] == [3, 5, 7]
    for bad, words in [(dict(kernel=5), "kernel must be their largest"), (dict(kernels=(3, 4), kernel=4), "odd"),
                       (dict(kernels=(7,)), "two or more"), (dict(kind="conv"), "belong to an mbconv")]:
        with pytest.raises(ValueError, match=words):
            mix_op(**bad)


def test_yaml_space_builds_prices_trains_and_round_trips():
    torch.manual_seed(0)
    space = space_from_spec(SPEC)
    ops = space.slots[1].ops
    assert [o.kernels for o in ops[:3]] == [(), (3, 5), (3, 5, 7)] and ops[2].kernel == 7
    assert space.dimensions[0].choices == ("e3k3", "e3k3_5", "e6k3_5_7se")
    assert space.slots[3].ops[0].kernels == (5, 3)
    # price: the table's gather equals counting the built network
    table = flops_params_table(space)
    archs = space.sample_matrix(np.random.default_rng(1), 4)
    priced = table.price(archs)
    for i, arch in enumerate(archs):
        net = space.build(arch)
        assert priced["params"][i] == sum(p.numel() for p in net.parameters())
    # one supernet training step along a MixConv path: its weights are shared with the supernet
    supernet = Supernet(space).train()
    arch = space.parse("s1.l1=e6k3_5_7se s1.l2=e3k3_5 s2.l1=e3k5_3 s2.l2=e3k5")
    opt = torch.optim.SGD(supernet.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    mix = supernet.slots[1][2].body[1][0]
    assert isinstance(mix, MixDepthwise)
    before = mix.convs[2].weight.detach().clone()
    torch.nn.functional.cross_entropy(supernet(x, arch), y).backward()
    opt.step()
    assert not torch.equal(before, mix.convs[2].weight)
    supernet.eval()
    with torch.no_grad():
        assert torch.equal(supernet.extract(arch).eval()(x), supernet(x, arch))
    # the file form and the recorded description rebuild the same operators
    back = space_from_spec(spec_from_space(space))
    assert [s.ops for s in back.slots] == [s.ops for s in space.slots]
    again = space_from_json(space.to_json())
    assert [s.ops for s in again.slots] == [s.ops for s in space.slots]


@pytest.mark.parametrize("kernel, words", [([3, 4], "stages[0].choices[1].kernel[1]: 4 is not odd"),
                                           ([5], "stages[0].choices[1].kernel: [5]: a MixConv kernel list needs two"),
                                           ([3, "x"], "stages[0].choices[1].kernel[1]: 'x' is not an integer")])
def test_bad_kernel_lists_name_their_key_path(kernel, words):
    spec = {**SPEC, "stages": [{**SPEC["stages"][0], "choices": [
        SPEC["stages"][0]["choices"][0], {"type": "mbconv", "expand": 3, "kernel": kernel}]}]}
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        space_from_spec(spec)


def test_too_few_hidden_channels_for_the_groups_is_one_line():
    spec = {**SPEC, "stem": {"out": 2, "act": "relu"}, "stages": [{**SPEC["stages"][0], "choices": [
        {"type": "mbconv", "expand": 1, "kernel": [3, 5, 7]}]}]}
    with pytest.raises(ConfigError, match="MixConv splits the hidden width 2 into 3 groups"):
        space_from_spec(spec)
