"""Architectures in published forms: TuNAS indices strings and OFA net.config / ks-e-d files, read
wherever an architecture is parsed (``SearchSpace.parse``: arch-info, lut show --arch, export --arch)."""
from __future__ import annotations

import copy
import json
import re

import pytest

from oneshot.cli.main import main
from oneshot.spaces import create_space
from oneshot.spaces.arch_forms import decode_ksed, decode_net_config, ofa_encode
from oneshot.spaces.encodings import EncodingError, tunas_encode

from .ofa_fixture import FIXTURES, KSED, net_config

# TuNAS's published cost-model test string (proxylessnas_search; shared/data/README.md): 84.0 +- 1.0 ms
TUNAS_PUBLISHED = ("0:0:0:1:0:0:0:0:1:0:0:1:0:0:1:0:1:1:0:1:0:0:1:0:0:0:0:0:0:2:1:0:1:1:0:2:1:0:2:1:0:0:1:1:0:"
                   "0:0:0:1:0:0:1:0:0:0:1:1:0:2:0:0:0:0:0:1:0:0:0:2:1:0:0:0")
NET_CONFIG = FIXTURES / "ofa_mbv3_w1.0_net.config.json"
KSED_FILE = FIXTURES / "ofa_mbv3_ksed_r160.json"


def _one_line_error(argv, capsys) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "\n" not in err and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------------- TuNAS
def test_published_string_matches_readme(shared_data):
    text = (shared_data / "README.md").read_text()
    assert TUNAS_PUBLISHED in re.sub(r"\s", "", text)


def test_tunas_string_parses_and_arch_info_prints_it(capsys):
    space = create_space("tunas-proxylessnas")
    arch = space.parse(TUNAS_PUBLISHED)
    assert tunas_encode(space, arch) == TUNAS_PUBLISHED
    assert space.parse(",".join(map(str, arch))) == arch  # plain indices still read as before
    assert space.parse(":".join(map(str, arch))) == arch  # 22 colon-separated indices too
    assert main(["arch-info", "tunas-proxylessnas", TUNAS_PUBLISHED]) == 0
    out = capsys.readouterr().out
    assert f"tunas indices: {TUNAS_PUBLISHED}" in out.splitlines()
    assert main(["arch-info", "tunas-proxylessnas", "random"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("tunas indices: "))
    assert len(line.split(": ")[1].split(":")) == 73


def test_tunas_published_string_costs_84ms_through_lut_show(shared_data, tmp_path, capsys):
    lut = tmp_path / "tunas.json"
    assert main(["lut", "import", "--format", "tunas",
                 str(shared_data / "luts" / "tunas" / "proxylessnas_search_pixel1_linear.json"),
                 "--space", "tunas-proxylessnas", "--out", str(lut)]) == 0
    capsys.readouterr()
    assert main(["lut", "show", str(lut), "--space", "tunas-proxylessnas", "--arch", TUNAS_PUBLISHED]) == 0
    out = capsys.readouterr().out
    ms = float(re.search(r"^architecture \S+: ([\d.]+) ms", out, re.M).group(1))
    assert ms == pytest.approx(84.0, abs=1.0)


@pytest.mark.parametrize("text, match", [
    (TUNAS_PUBLISHED + ":0", "73 integers, got 74"),
    (TUNAS_PUBLISHED.replace("0:1:0:0:1:0:1:1", "0:1:0:0:1:0:7:1", 1), r"TuNAS index 16 \(block 3 layer 1 kernel\) is 7; valid: 0..2"),
    (TUNAS_PUBLISHED.replace("0:0:0:", "0:-1:0:", 1), r"TuNAS index 1 \(sepconv kernel\) is -1"),
])
def test_tunas_bad_strings_are_one_line(text, match, capsys):
    with pytest.raises(EncodingError, match=match):
        create_space("tunas-proxylessnas").parse(text)
    assert "TuNAS" in _one_line_error(["arch-info", "tunas-proxylessnas", text], capsys)


def test_tunas_string_for_another_space(capsys):
    with pytest.raises(EncodingError, match="describes space 'tunas-proxylessnas', not 'proxylessnas'"):
        create_space("proxylessnas").parse(TUNAS_PUBLISHED)
    assert "tunas-proxylessnas" in _one_line_error(["arch-info", "fbnet", TUNAS_PUBLISHED], capsys)


# ------------------------------------------------------------------------------ OFA net.config
def _expected_labels(ksed: dict) -> dict[str, str]:
    labels = {}
    for s, depth in enumerate(ksed["d"], start=1):
        labels[f"s{s}.depth"] = str(depth)
        for b in range(1, depth + 1):
            i = 4 * (s - 1) + b - 1
            labels[f"s{s}.b{b}"] = f"k{ksed['ks'][i]}e{ksed['e'][i]}"
    return labels


def _labels(space, arch) -> dict[str, str]:
    return {d.name: d.choices[i] for d, i in zip(space.dimensions, arch)}


def test_net_config_decodes_to_its_blocks_and_depths():
    space = create_space("mobilenetv3", width=1.0)
    arch = space.parse(str(NET_CONFIG))
    labels = _labels(space, arch)
    for name, want in _expected_labels(KSED).items():
        assert labels[name] == want, name
    # inactive blocks are canonical (choice 0), so the key is that of the ks/e/d form
    assert arch == space.canonicalize(arch)
    assert space.parse(json.dumps(json.loads(NET_CONFIG.read_text()))) == arch  # inline JSON too
    ksed = ofa_encode(space, arch)
    assert ksed["d"] == KSED["d"]
    assert decode_ksed(space, ksed) == arch


def test_ksed_file_is_the_same_architecture_and_states_its_resolution(capsys):
    space = create_space("mobilenetv3", width=1.0, resolution=160)
    assert space.parse(str(KSED_FILE)) == create_space("mobilenetv3", width=1.0).parse(str(NET_CONFIG))
    assert main(["arch-info", "mobilenetv3", str(KSED_FILE)]) == 0
    assert "'resolution': 160" in capsys.readouterr().out.splitlines()[0]
    err = _one_line_error(["arch-info", "mobilenetv3", str(KSED_FILE), "-o", "resolution=224"], capsys)
    assert "states resolution 160" in err and "224" in err
    with pytest.raises(EncodingError, match="states resolution 160"):
        create_space("mobilenetv3").parse(str(KSED_FILE))


def test_net_config_without_resolution_takes_the_option(capsys):
    assert main(["arch-info", "mobilenetv3", str(NET_CONFIG), "-o", "resolution=160"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "'width': 1.0" in head and "'resolution': 160" in head  # width from the stem, resolution from -o


# ---- independent count: build the layers the net.config lists (OFA's layer semantics) and count them
def _count_net_config(config: dict, resolution: int) -> tuple[int, int]:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def make_div(v, d=8):
        n = max(d, int(v + d / 2) // d * d)
        return n + d if n < 0.9 * v else n

    def act(name):
        return {"relu": nn.ReLU(), "h_swish": nn.Hardswish(), None: nn.Identity()}[name]

    def conv_layer(c):
        mods = [nn.Conv2d(c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"],
                          c["kernel_size"] // 2, groups=c["groups"], bias=c["bias"])]
        if c["use_bn"]:
            mods.append(nn.BatchNorm2d(c["out_channels"]))
        return nn.Sequential(*mods, act(c["act_func"]))

    class SE(nn.Module):
        def __init__(self, ch):
            super().__init__()
            mid = make_div(ch // 4)
            self.reduce, self.expand = nn.Conv2d(ch, mid, 1, bias=True), nn.Conv2d(mid, ch, 1, bias=True)

        def forward(self, x):
            y = x.mean((2, 3), keepdim=True)
            return x * nn.functional.hardsigmoid(self.expand(torch.relu(self.reduce(y))))

    class Block(nn.Module):
        def __init__(self, b):
            super().__init__()
            c = b["mobile_inverted_conv"]
            mid = c["mid_channels"] or round(c["in_channels"] * c["expand_ratio"])
            mods = []
            if c["expand_ratio"] != 1:
                mods += [nn.Conv2d(c["in_channels"], mid, 1, bias=False), nn.BatchNorm2d(mid), act(c["act_func"])]
            mods += [nn.Conv2d(mid, mid, c["kernel_size"], c["stride"], c["kernel_size"] // 2, groups=mid, bias=False),
                     nn.BatchNorm2d(mid), act(c["act_func"])]
            if c["use_se"]:
                mods.append(SE(mid))
            mods += [nn.Conv2d(mid, c["out_channels"], 1, bias=False), nn.BatchNorm2d(c["out_channels"])]
            self.body, self.residual = nn.Sequential(*mods), b["shortcut"] is not None

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    features = nn.Sequential(conv_layer(config["first_conv"]), *[Block(b) for b in config["blocks"]],
                             conv_layer(config["final_expand_layer"]))
    mix, cls = conv_layer(config["feature_mix_layer"]), config["classifier"]
    classifier = nn.Linear(cls["in_features"], cls["out_features"], bias=cls["bias"])
    macs = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs.append(output.numel() * module.in_channels // module.groups * k)
        else:
            macs.append(module.in_features * module.out_features)

    modules = [m for part in (features, mix, classifier) for m in part.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for m in modules:
        m.register_forward_hook(hook)
    with torch.no_grad():
        x = features(torch.zeros(1, 3, resolution, resolution)).mean((2, 3), keepdim=True)
        classifier(mix(x).flatten(1))
    params = sum(p.numel() for part in (features, mix, classifier) for p in part.parameters())
    return sum(macs), params


@pytest.mark.parametrize("width, resolution", [(1.0, 224), (1.2, 160)])
def test_macs_and_params_equal_the_network_the_net_config_describes(width, resolution, tmp_path):
    from oneshot.costs.counting import flops_params_table

    config = json.loads(NET_CONFIG.read_text()) if width == 1.0 else net_config(**KSED, width=width)
    path = tmp_path / "net.config.json"
    path.write_text(json.dumps(config))
    space = create_space("mobilenetv3", width=width, resolution=resolution)
    total = flops_params_table(space).price_one(space.parse(str(path)))
    macs, params = _count_net_config(config, resolution)
    assert int(total["params"]) == params
    assert int(round(total["macs"])) == macs


# ---------------------------------------------------------------------------------- bad input
def _write(tmp_path, data, name="arch.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _bad_ksed():
    short = {**KSED, "ks": KSED["ks"][:19]}
    bad_e = {**KSED, "e": KSED["e"][:7] + [5] + KSED["e"][8:]}
    bad_d = {**KSED, "d": [1, 3, 4, 2, 3]}
    return [(short, r"'ks' has 19 entries; OFA MobileNetV3 has 20"),
            (bad_e, r"e\[7\] \(stage 2 block 4\) is 5; valid: 3, 4, 6"),
            (bad_d, r"d\[0\] \(stage 1\) is 1; valid: 2, 3, 4"),
            ({**KSED, "wid": [1.0]}, "'wid'"),
            ({**KSED, "extra": 1}, "unknown key")]


def _bad_configs():
    base = json.loads(NET_CONFIG.read_text())
    out = []
    k9 = copy.deepcopy(base)
    k9["blocks"][3]["mobile_inverted_conv"]["kernel_size"] = 9
    out.append((k9, r"blocks\[3\] \(stage 2 block 1\): kernel_size 9; valid: 3, 5, 7"))
    shallow = copy.deepcopy(base)
    del shallow["blocks"][2]
    out.append((shallow, r"stage 1 \(width 24\) has 1 block"))
    no_se = copy.deepcopy(base)
    no_se["blocks"][3]["mobile_inverted_conv"]["use_se"] = False
    out.append((no_se, r"blocks\[3\] .*use_se False, the mobilenetv3 space has True at s2.b1"))
    proxyless = copy.deepcopy(base)
    proxyless["name"] = "ProxylessNASNets"
    out.append((proxyless, "a ProxylessNASNets net.config"))
    out.append((net_config(**KSED, width=1.2), r"first_conv: out_channels 24, the mobilenetv3 space has 16 .*-o width="))
    classes = copy.deepcopy(base)
    classes["classifier"]["out_features"] = 10
    out.append((classes, "classifier: out_features 10"))
    return out


@pytest.mark.parametrize("data, match", _bad_ksed() + _bad_configs() + [
    ("{not json", "not valid JSON"), ([1, 2], "expected a JSON object"), ({"foo": 1}, "neither an OFA net.config")])
def test_bad_ofa_files_are_one_line(data, match, tmp_path, capsys):
    path = _write(tmp_path, data)
    with pytest.raises(EncodingError, match=match):
        create_space("mobilenetv3", width=1.0).parse(path)
    _one_line_error(["arch-info", "mobilenetv3", path, "-o", "width=1.0"], capsys)


def test_ofa_file_for_another_space_and_missing_file(tmp_path, capsys):
    with pytest.raises(EncodingError, match="describe 'mobilenetv3' architectures, not 'fbnet'"):
        create_space("fbnet").parse(str(NET_CONFIG))
    assert "not 'proxylessnas'" in _one_line_error(["arch-info", "proxylessnas", str(KSED_FILE)], capsys)
    assert "does not exist" in _one_line_error(["arch-info", "mobilenetv3", str(tmp_path / "no.json")], capsys)


def test_direct_decoders_name_the_source():
    space = create_space("mobilenetv3", width=1.0)
    with pytest.raises(EncodingError, match="^net.config: "):
        decode_net_config(space, {"name": "MobileNetV3", "blocks": []})
    assert decode_net_config(space, json.loads(NET_CONFIG.read_text())) == decode_ksed(space, KSED)


def test_lut_show_prices_a_net_config(tmp_path, capsys):
    from pathlib import Path

    luts = Path(__file__).resolve().parents[2] / "oneshot" / "data" / "luts"
    lut, net = tmp_path / "ofa.json", _write(tmp_path, net_config(**KSED, width=1.2), "net.config.json")
    assert main(["lut", "import", "--format", "ofa", str(luts / "ofa_note10_224_lookup_table.yaml"),
                 "--space", "mobilenetv3", "-o", "width=1.2", "--out", str(lut)]) == 0
    capsys.readouterr()
    assert main(["lut", "show", str(lut), "--space", "mobilenetv3", "-o", "width=1.2", "--arch", net]) == 0
    space = create_space("mobilenetv3", width=1.2)
    assert f"architecture {space.encoding_key(space.parse(net))}: " in capsys.readouterr().out
