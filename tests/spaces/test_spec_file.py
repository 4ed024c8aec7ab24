"""Space files (``--space PATH.yaml``): every built-in space written as a file reads back as the same
space; mistakes are reported one line each with their key path; file spaces rebuild from ``to_json``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from oneshot.costs.counting import flops_params_table
from oneshot.errors import ConfigError
from oneshot.spaces import InvalidArchitectureError, create_space, list_spaces, space_from_json, space_options
from oneshot.spaces.spec_file import dump_spec, space_from_spec, spec_from_space

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "se_mbconv3.yaml"


def _structure(space) -> dict:
    """Everything that determines the networks: dimensions, slots with their operators, policy."""
    data = {k: v for k, v in space.to_json().items() if k not in ("name", "options", "spec")}
    data["slots"] = [(s.name, s.dim, s.gate, s.stage, [op.to_json() for op in s.ops]) for s in space.slots]
    return json.loads(json.dumps(data))


def _written(name: str, **options):
    space = create_space(name, **options)
    rest = {k: v for k, v in options.items() if k != "resolution"}
    at = (lambda r: create_space(name, **rest, resolution=r)) if "resolution" in space.options else None
    return space, dump_spec(spec_from_space(space, at))


#: built-in spaces the file grammar cannot express, and why (none: cell spaces have the cell section)
NOT_WRITABLE: dict[str, str] = {}


def test_a_space_without_file_form_says_so_in_one_line():
    from oneshot.spaces import Dimension, LayeredSpace, OpSpec, ResolutionPolicy, Slot

    # an operator kind the grammar does not know (an average pool as a searchable choice)
    slots = [Slot("stem", (OpSpec("conv", 3, 8, 16, kernel=3),)),
             Slot("l1", (OpSpec("avgpool", 8, 8, 16, kernel=3), OpSpec("skip", 8, 8, 16)), dim=0, stage="s1"),
             Slot("pool", (OpSpec("pool", 8, 8, 16),), stage="head"),
             Slot("classifier", (OpSpec("linear", 8, 10, 1, bias=True),), stage="head")]
    space = LayeredSpace([Dimension("l1", ("pool", "skip"))], slots, ResolutionPolicy(16, 1, (), "hand-made"))
    space.name = "hand-made"
    with pytest.raises(ConfigError, match="space 'hand-made' has no space-file form .*'avgpool'.*use it by its "
                                          "name") as info:
        spec_from_space(space)
    assert "\n" not in str(info.value)
    for name in NOT_WRITABLE:
        with pytest.raises(ConfigError, match=f"space '{name}' has no space-file form .*use it by its name"):
            _written(name)


@pytest.mark.parametrize("name", [n for n in list_spaces() if n not in NOT_WRITABLE])
def test_every_builtin_space_round_trips_through_a_yaml_file(name, tmp_path):
    variants = [{}] + ([{"resolution": 32}] if "resolution" in space_options(name) else [])
    rng = np.random.default_rng(0)
    for options in variants:
        space, text = _written(name, **options)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        back = create_space(str(path))
        assert _structure(back) == _structure(space)
        assert back.options == {k: v for k, v in space.options.items() if k in ("resolution", "num_classes")}
        assert back.num_classes == space.num_classes and back.resolution == space.resolution
        archs = space.sample_matrix(rng, 64)
        assert [back.key(a) for a in archs] == [space.key(a) for a in archs]
        ours, theirs = flops_params_table(space), flops_params_table(back)
        for a in archs[:16]:
            assert ours.price_one(a) == theirs.price_one(a)
    if "resolution" in space_options(name):  # the written policy: the other form from the same file
        other = 224 if space.resolution <= 64 else 32
        rest = {k: v for k, v in space.options.items() if k not in ("resolution", "num_classes")}
        assert _structure(create_space(str(path), resolution=other)) == \
            _structure(create_space(name, **rest, resolution=other))


def test_file_space_rebuilds_from_to_json_without_the_file(tmp_path):
    path = tmp_path / "se.yaml"
    shutil.copy(EXAMPLE, path)
    space = create_space(str(path), resolution=16)
    assert space.name == "se-mbconv3" and space.options == {"resolution": 16, "num_classes": 10}
    assert space_options(str(path)) == {"resolution": 32, "num_classes": 10}
    data = json.loads(json.dumps(space.to_json()))
    path.unlink()
    back = space_from_json(data)
    assert _structure(back) == _structure(space) and back.fingerprint() == space.fingerprint()
    # a model's space.json (to_json's form) is itself accepted by --space
    (tmp_path / "space.json").write_text(json.dumps(data))
    assert create_space(str(tmp_path / "space.json")).fingerprint() == space.fingerprint()
    assert create_space(str(tmp_path / "space.json"), resolution=32).resolution == 32


def test_json_space_file_equals_yaml(tmp_path):
    spec = yaml.safe_load(EXAMPLE.read_text())
    (tmp_path / "se.json").write_text(json.dumps(spec))
    assert _structure(create_space(str(tmp_path / "se.json"))) == _structure(create_space(str(EXAMPLE)))


def _mistakes(spec: dict, **options) -> list[str]:
    with pytest.raises(ConfigError) as info:
        space_from_spec(spec, "space file x.yaml", **options)
    lines = str(info.value).splitlines()
    return [lines[0].split(": ", 1)[1]] if len(lines) == 1 else [ln.strip() for ln in lines[1:]]


def _example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def test_each_mistake_is_one_line_naming_its_key_path():
    spec = _example()
    spec["stages"][3]["choices"][1]["kernel"] = 4
    spec["stages"][1]["choices"][0]["type"] = "mixconv"
    spec["stages"][2]["widht"] = 40
    spec["stem"]["act"] = "gelu"
    assert _mistakes(spec) == [
        "stem.act: 'gelu' is not one of relu, relu6, hswish, swish, none",
        "stages[1].choices[0].type: 'mixconv' is not an operator; valid: mbconv, skip, shuffle, xception, conv "
        "(identity = skip)",
        "stages[2].widht: unknown key; valid: " + ", ".join(
            ("name", "width", "stride", "repeat", "names", "act", "depth", "depth_name", "choices")),
        "stages[3].choices[1].kernel: 4 is not odd",
    ]


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["stages"][1]["choices"].append({"type": "mbconv", "expand": 3, "kernel": 3}),
     "stages[1].choices[4].label: 'e3k3' repeats choices[0]"),
    (lambda s: s["stages"][1].pop("width"), "stages[1].width: missing (required)"),
    (lambda s: s.update(policy=[{"max_resolution": 32, "unstrided": ["s9.l1"]}, {"stem_stride": 2}]),
     "policy[0].unstrided[0]: no slot named 's9.l1'"),
    (lambda s: s.update(policy=[{"max_resolution": 32, "unstrided": ["s1.l2"]}, {"stem_stride": 2}]),
     "policy[0].unstrided[0]: slot 's1.l2' has stride 1 already"),
    (lambda s: s["stages"][1].update(depth=[1, 3]), "stages[1].depth: [1, 3]: consecutive increasing layer counts, "
                                                    "e.g. [2, 3, 4]"),
    (lambda s: s["head"].pop(1), "head[1]: the classifier needs a {type: pool} before it"),
    (lambda s: s["stages"][1]["choices"][0].update(expand=0), "stages[1].choices[0].expand: 0 is outside (0.0 .. inf]"),
    (lambda s: s["stages"][1]["choices"][0].update(groups=5),
     "stages[1].choices[0]: groups 5 must divide the input (16), hidden (48) and output (24) widths (at slot s1.l1)"),
    (lambda s: s.update(colour="red"), "colour: unknown key; valid: name, description, resolution, num_classes, "
                                       "options, policy, stem, stages, head"),
])
def test_single_mistakes(edit, message):
    spec = _example()
    edit(spec)
    assert _mistakes(spec) == [message]


def test_options_bad_values_and_files(tmp_path):
    assert _mistakes(_example(), resolution=4) == ["resolution: 4 is below 8"]
    with pytest.raises(ConfigError, match=r"has no option 'width'; valid options: resolution \(default 32\)"):
        space_from_spec(_example(), width=1.0)
    with pytest.raises(ConfigError, match="no such file"):
        create_space(str(tmp_path / "missing.yaml"))
    (tmp_path / "bad.yaml").write_text("stages: [a, b\n")
    with pytest.raises(ConfigError, match=r"^space file .*bad.yaml: not valid YAML: .*line") as info:
        create_space(str(tmp_path / "bad.yaml"))
    assert "\n" not in str(info.value)


def test_elastic_depth_and_shuffle_units_from_a_file():
    spec = {"name": "mix", "stem": {"out": 16}, "head": ["pool", "linear"], "stages": [
        {"name": "a", "width": 32, "stride": 2, "repeat": 3, "depth": [1, 2, 3],
         "choices": [{"type": "shuffle", "kernel": 3}, {"type": "xception"}]},
        {"name": "b", "width": 32, "repeat": 2, "choices": [{"type": "conv", "kernel": 3}, {"type": "identity"}]}]}
    space = space_from_spec(spec)
    assert [d.name for d in space.dimensions] == ["a.depth", "a.l1", "a.l2", "a.l3", "b.l1", "b.l2"]
    assert [s.gate for s in space.slots if s.stage == "a"] == [None, (0, 1), (0, 2)]
    assert space.key([0, 1, 1, 1, 0, 0]) == "010000"  # blocks switched off by the depth are choice 0
    assert _structure(space_from_spec(spec_from_space(space))) == _structure(space)


CELL = {"name": "cell3", "cell": {"nodes": 3, "ops": ["none", "skip_connect", "nor_conv_3x3"]},
        "network": {"widths": [8, 16], "cells_per_stage": 1}}


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["cell"]["ops"].append("conv_5x5"), "cell.ops[3]: 'conv_5x5' is not an operation; valid: none, "
                                                    "skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3"),
    (lambda s: s["cell"]["ops"].append("none"), "cell.ops[3]: 'none' repeats ops[0]"),
    (lambda s: s["cell"].update(ops=[]), "cell.ops: []: expected a non-empty list of operations from none, "
                                         "skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3"),
    (lambda s: s["cell"].update(nodes=1), "cell.nodes: 1 is below 2"),
    (lambda s: s["cell"].pop("nodes"), "cell.nodes: missing (required)"),
    (lambda s: s["cell"].update(edges=3), "cell.edges: unknown key; valid: nodes, ops"),
    (lambda s: s["network"].update(widths=[8, 0]), "network.widths[1]: 0 is below 1"),
    (lambda s: s["network"].update(widths=[8, "x"]), "network.widths[1]: 'x' is not an integer"),
    (lambda s: s["network"].update(widths=16), "network.widths: 16: expected a non-empty list of stage widths, "
                                               "e.g. [16, 32, 64]"),
    (lambda s: s["network"].update(stem=4), "network.stem: 4 differs from widths[0] (8): the first stage's cells "
                                            "keep the stem's width"),
    (lambda s: s["network"].update(cells_per_stage=0), "network.cells_per_stage: 0 is below 1"),
    (lambda s: s.update(resolution=18, network={"widths": [8, 16, 32]}),
     "resolution: 18 does not halve evenly 2 time(s) (the reductions between 3 stages)"),
    (lambda s: s.pop("network"), "network: missing (required)"),
    (lambda s: s.update(stages=[]), "stages: unknown key; valid: name, description, resolution, num_classes, "
                                    "options, cell, network"),
])
def test_cell_section_mistakes(edit, message):
    spec = json.loads(json.dumps(CELL))
    edit(spec)
    assert _mistakes(spec) == [message]


def test_cell_section_mistakes_all_at_once():
    spec = {"cell": {"nodes": 1, "ops": ["none", "conv_5x5"]}, "network": {"widths": [16, -1]}}
    assert _mistakes(spec) == ["cell.nodes: 1 is below 2",
                               "cell.ops[1]: 'conv_5x5' is not an operation; valid: none, skip_connect, "
                               "nor_conv_1x1, nor_conv_3x3, avg_pool_3x3",
                               "network.widths[1]: -1 is below 1"]


def test_custom_cell_file_trains_a_step_and_prices(tmp_path):
    import torch

    from oneshot.costs.counting import count_macs
    from oneshot.supernet import Supernet

    path = tmp_path / "cell3.yaml"
    path.write_text(dump_spec(CELL))
    space = create_space(str(path))
    assert [d.name for d in space.dimensions] == ["1<-0", "2<-0", "2<-1"] and space.size == 27
    assert space.options == {"resolution": 32, "num_classes": 10}
    arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|")
    assert list(arch) == [2, 1, 0] and space.format(arch) == "|nor_conv_3x3~0|+|skip_connect~0|none~1|"
    with pytest.raises(InvalidArchitectureError, match="expected 2 nodes"):
        space.parse("|none~0|")
    # prices: the cost table equals the built network's MACs and parameters
    table = flops_params_table(space)
    for a in space.sample_matrix(np.random.default_rng(0), 4):
        net = space.build(a)
        assert count_macs(net, (1, 3, 32, 32)) == table.price_one(a)["macs"]
        assert sum(p.numel() for p in net.parameters()) == table.price_one(a)["params"]
    # one SGD step of the supernet on a sampled path
    torch.manual_seed(0)
    net = Supernet(space).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    before = [p.detach().clone() for p in net.parameters()]
    loss = torch.nn.functional.cross_entropy(net(x, arch), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))
    # the recorded description rebuilds it without the file; -o resolution / num_classes apply
    data = json.loads(json.dumps(space.to_json()))
    path.unlink()
    back = space_from_json(data)
    assert _structure(back) == _structure(space) and back.fingerprint() == space.fingerprint()
    small = space_from_spec(CELL, resolution=16, num_classes=3)
    assert small.resolution == 16 and small.num_classes == 3
    assert _structure(space_from_spec(spec_from_space(small))) == _structure(small)
