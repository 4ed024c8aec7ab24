"""Importers of published latency tables: mapping to our signatures, coverage, known values."""
from __future__ import annotations

import json
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import yaml

from oneshot.errors import LUTError
from oneshot.latency import latency_table, missing_entries
from oneshot.latency.formats import import_table
from oneshot.latency.formats.tfnas import restricted_load
from oneshot.latency.table import Entry
from oneshot.spaces import create_space

LUTS = Path(__file__).resolve().parents[2] / "oneshot" / "data" / "luts"
TUNAS_TEST_VECTOR = ("0:0:0:1:0:0:0:0:1:0:0:1:0:0:1:0:1:1:0:1:0:0:1:0:0:0:0:0:0:2:1:0:1:1:0:2:1:0:2:1:0:0:1:1:0:0:0"
                     ":0:1:0:0:1:0:0:0:1:1:0:2:0:0:0:0:0:1:0:0:0:2:1:0:0:0")


@pytest.mark.parametrize("res", [224, 160])
def test_ofa_note10_covers_mobilenetv3_w12(res):
    space = create_space("mobilenetv3", width=1.2, resolution=res)
    result = import_table("ofa", LUTS / f"ofa_note10_{res}_lookup_table.yaml", space)
    assert len(result.table.entries) == 96 and not result.unmatched
    assert missing_entries(space, result.table) == []
    raw = yaml.safe_load((LUTS / f"ofa_note10_{res}_lookup_table.yaml").read_text())
    stem = next(k for k in raw if k.startswith("Conv-input"))
    assert result.table.entries[space.slots[0].ops[0].signature()].ms == raw[stem]["mean"]


def test_ofa_expand_is_mid_channels():
    space = create_space("mobilenetv3", width=1.2)
    table = import_table("ofa", LUTS / "ofa_note10_224_lookup_table.yaml", space).table
    key = "expanded_conv-input:112x112x24-output:56x56x32-expand:144-kernel:3-stride:2-idskip:0-se:0-hs:0"
    raw = yaml.safe_load((LUTS / "ofa_note10_224_lookup_table.yaml").read_text())
    # expand 144 = mid channels (24 x 6), not a ratio of 144
    assert table.entries["mbconv-in112x112x24-out32-s2-k3-mid144-relu"].ms == raw[key]["mean"]
    # read as ProxylessNAS's ratio convention, almost nothing matches: the dialect matters
    wrong = import_table("proxylessnas", LUTS / "ofa_note10_224_lookup_table.yaml", space).table
    assert len(missing_entries(space, wrong)) > 100


def _proxyless_yaml(space) -> dict:
    """A ProxylessNAS-grammar table (expand = ratio, `var`) for every operator of ``space``."""
    data = {}
    for i, op in enumerate(space.distinct_ops()):
        hw, out = op.in_hw, op.out_hw
        if op.kind == "mbconv":
            ratio = op.mid / op.cin
            key = (f"expanded_conv-input:{hw}x{hw}x{op.cin}-output:{out}x{out}x{op.cout}-expand:{ratio:g}-"
                   f"kernel:{op.kernel}-stride:{op.stride}-idskip:{int(op.residual)}")
        elif op.kind == "conv" and op.cin == 3:
            key = f"Conv-input:{hw}x{hw}x3-output:{out}x{out}x{op.cout}"
        elif op.kind == "conv":
            key = f"Conv_1-input:{hw}x{hw}x{op.cin}-output:{out}x{out}x{op.cout}"
        elif op.kind == "pool":
            key = f"AvgPool2D-input:{hw}x{hw}x{op.cin}-output:1x1x{op.cout}"
        elif op.kind == "linear":
            key = f"Logits-input:1x1x{op.cin}-output:{op.cout}"
        else:
            continue
        data[key] = {"count": 10, "mean": 0.5 + i, "var": 0.04}
    return data


def test_proxylessnas_dialect_ratio_and_var(tmp_path):
    space = create_space("proxylessnas")
    path = tmp_path / "mobile_trim.yaml"
    path.write_text(yaml.safe_dump(_proxyless_yaml(space)))
    result = import_table("proxylessnas", path, space)
    assert missing_entries(space, result.table) == [] and not result.unmatched
    first = next(iter(result.table.entries.values()))
    assert first.std == pytest.approx(0.2) and first.count == 10


def _tfnas_pickle(entries: dict) -> bytes:
    return pickle.dumps(OrderedDict(entries), protocol=2)


def test_tfnas_synthetic_clamps_negative_and_maps_signatures(tmp_path):
    path = tmp_path / "lat.pkl"
    path.write_bytes(_tfnas_pickle({"base": 9.5, "MBInvertedResBlock_56_24_0_40_k3_s2_swish":
                                    OrderedDict([(24, -0.2), (72, 1.5)]),
                                    "MBInvertedResBlock_28_40_10_40_k5_s1_relu": OrderedDict([(120, 0.75)])}))
    result = import_table("tfnas", path)
    t = result.table
    assert t.constant_ms == 9.5
    assert t.entries["mbconv-in56x56x24-out40-s2-k3-mid24-noexp-swish"].ms == 0.0  # clamped
    assert t.entries["mbconv-in56x56x24-out40-s2-k3-mid72-swish"].ms == 1.5
    assert t.entries["mbconv-in28x28x40-out40-s1-k5-mid120-se10-relu"].ms == 0.75
    assert any("clamped 1 negative" in n for n in result.notes)


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED_MARKER",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({"base": _Evil()})
    with pytest.raises(LUTError, match="refusing to unpickle"):
        restricted_load(evil)
    assert not (tmp_path / "PWNED_MARKER").exists()
    with pytest.raises(LUTError, match="refusing"):
        restricted_load(pickle.dumps({"x": np.float64(1.0)}))  # numpy objects are not plain numbers
    with pytest.raises(LUTError, match="cannot read"):
        restricted_load(b"\x80\x02}q\x00(X")  # truncated
    path = tmp_path / "evil.pkl"
    path.write_bytes(evil)
    with pytest.raises(LUTError):
        import_table("tfnas", path)


def test_tfnas_published_table(shared_data):
    result = import_table("tfnas", shared_data / "luts" / "tfnas" / "latency_cpu.pkl")
    t = result.table
    assert t.constant_ms == pytest.approx(9.356469964981079)
    assert t.provenance["clamped_negative"] == 84
    assert t.entries["mbconv-in112x112x16-out24-s2-k3-mid1-relu"].ms == 0.0
    assert min(e.ms for e in t.entries.values()) >= 0.0


def test_s3nas_folder(tmp_path):
    space = create_space("tiny")
    for op in space.distinct_ops():
        if op.kind != "mbconv":
            continue
        name = f"r1_k{op.kernel}_s{op.stride}{op.stride}_e{op.mid // op.cin}_i{op.cin}_o{op.cout}_imgsize{op.in_hw}"
        d = tmp_path / "MBConvBlock"
        d.mkdir(exist_ok=True)
        (d / f"{name}.json").write_text(json.dumps({"latency": op.mid / 100}))
    (tmp_path / "base.json").write_text(json.dumps({"latency": 1.25}))
    result = import_table("s3nas", tmp_path, space)
    assert result.table.constant_ms == 1.25
    # the base entry is one lump for the fixed slots (as OSNASLib's base_latency): coverage is complete
    assert missing_entries(space, result.table) == []
    assert {k for k, v in result.table.positional.items() if v == {"fixed": Entry(0.0)}} == \
        {"stem", "head0", "pool", "classifier"}
    assert any("one lump" in n for n in result.notes)
    op = next(op for op in space.distinct_ops() if op.kind == "mbconv")
    assert result.table.entries[op.signature()].ms == pytest.approx(op.mid / 100)
    arch = space.sample(np.random.default_rng(0))
    blocks = sum(op.mid / 100 for _, op in space.active_ops(arch) if op.kind == "mbconv")
    assert latency_table(space, result.table).price_one(arch)["latency_ms"] == pytest.approx(1.25 + blocks)
    # without a base entry the fixed parts stay missing, and check says so
    (tmp_path / "base.json").unlink()
    missing = missing_entries(space, import_table("s3nas", tmp_path, space).table)
    assert {m.slot for m in missing} == {"stem", "head0", "pool", "classifier"}


def test_osnaslib_positions(tmp_path, rng):
    space = create_space("tiny")
    rows = [[10 * d + j for j in range(space.dimensions[d].size)] for d in range(len(space.dimensions))]
    path = tmp_path / "lat.json"
    path.write_text(json.dumps({"latency": rows, "base_latency": 3.0}))
    table = latency_table(space, import_table("osnaslib", path, space).table)
    m = space.sample_matrix(rng, 20)
    expected = 3.0 + np.array([sum(rows[d][c] for d, c in enumerate(row)) for row in m])
    np.testing.assert_allclose(table.price(m)["latency_ms"], expected)
    path.write_text(json.dumps({"latency": rows[:-1], "base_latency": 3.0}))
    with pytest.raises(LUTError, match="searchable layers"):
        import_table("osnaslib", path, space)


def test_csv_signatures_positions_constant(tmp_path):
    space = create_space("tiny")
    lines = ["key,latency_ms,std_ms,count", "constant,0.5"]
    lines += [f"{op.signature()},{0.1 * (i + 1)},0.01,7" for i, op in enumerate(space.distinct_ops())]
    lines.append("@s1.l1:e3k3,9.0")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    table = import_table("csv", path).table
    assert table.constant_ms == 0.5 and table.positional["s1.l1"]["e3k3"].ms == 9.0
    assert missing_entries(space, table) == []
    assert next(iter(table.entries.values())).count == 7
    path.write_text("key,latency_ms\nconv-x,abc\n")
    with pytest.raises(LUTError, match="non-numeric"):
        import_table("csv", path)


def test_tunas_test_vector_prices_84ms():
    from oneshot.spaces.encodings import tunas_decode

    space = create_space("tunas-proxylessnas")
    imported = import_table("tunas", LUTS / "tunas_proxylessnas_search_pixel1_linear.json", space)
    table = latency_table(space, imported.table)
    arch = tunas_decode(space, TUNAS_TEST_VECTOR)
    assert table.price_one(arch)["latency_ms"] == pytest.approx(84.0, abs=1.0)
    assert table.price_one(arch)["latency_ms"] == pytest.approx(84.017, abs=1e-3)
    with pytest.raises(LUTError, match="tunas-proxylessnas"):
        import_table("tunas", LUTS / "tunas_proxylessnas_search_pixel1_linear.json", create_space("proxylessnas"))


def test_single_path_nas_runtime_model(rng):
    space = create_space("single-path-nas")
    model = json.loads((LUTS / "single_path_nas_pixel1_runtime_model.json").read_text())
    table = latency_table(space, import_table("single-path-nas", LUTS / "single_path_nas_pixel1_runtime_model.json",
                                           space).table)
    order = {"e3k3": "0", "e6k3": "1", "e3k5": "2", "e6k5": "3"}
    m = space.sample_matrix(rng, 10)
    for row, priced in zip(m, table.price(m)["latency_ms"]):
        expected = 19.5999
        for layer, d in enumerate(range(len(space.dimensions)), start=1):
            label = space.dimensions[d].choices[row[d]]
            expected += 0.0 if label == "skip" else model[str(layer)][order[label]]
        assert priced == pytest.approx(expected)
    lo, hi = table.bounds()["latency_ms"]
    mins = [min(model[str(layer)].values()) if "skip" not in space.dimensions[d].choices else 0.0
            for layer, d in enumerate(range(len(space.dimensions)), start=1)]
    maxs = [max(model[str(layer)].values()) for layer in range(1, 21)]
    assert lo == pytest.approx(19.5999 + sum(mins)) and hi == pytest.approx(19.5999 + sum(maxs))


def test_unknown_format_and_missing_space():
    with pytest.raises(ValueError, match="valid formats"):
        import_table("hw-nas-bench", "x")
    with pytest.raises(LUTError, match="--space"):
        import_table("ofa", LUTS / "ofa_note10_224_lookup_table.yaml")


def test_non_finite_and_negative_latencies_are_refused(tmp_path):
    import json as _json

    from oneshot.errors import LUTError
    from oneshot.latency.formats import csvfmt
    from oneshot.latency.table import load_table

    csv_path = tmp_path / "neg.csv"
    csv_path.write_text("key,latency_ms\nconv-in32x32x3-out16-s1-k3-relu,-4.33\n")
    with pytest.raises(LUTError, match=r"neg.csv:2: latency of .* is negative \(-4.33 ms\)"):
        csvfmt.read(csv_path)
    csv_path.write_text("key,latency_ms\nconv-in32x32x3-out16-s1-k3-relu,nan\n")
    with pytest.raises(LUTError, match="is nan"):
        csvfmt.read(csv_path)
    csv_path.write_text("@s1.l1:e3k3,-0.5\nconstant,2\n")  # linear-model coefficients may be negative
    assert csvfmt.read(csv_path).table.positional["s1.l1"]["e3k3"].ms == -0.5
    for value in ("NaN", -1.0, "Infinity"):
        path = tmp_path / "t.json"
        path.write_text(_json.dumps({"format": "oneshot-lut", "version": 1, "entries": {"op": {"ms": value}}})
                        .replace('"NaN"', "NaN").replace('"Infinity"', "Infinity"))
        with pytest.raises(LUTError, match="latency of op is"):
            load_table(path)


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_proxylessnas_spatial_logits_is_pool_plus_classifier(tmp_path):
    # mobile_trim.yaml grammar: integer expand ratios, `var`, no AvgPool2D, Logits on the 7x7 map
    path = FIXTURES / "proxylessnas_mobile_trim.yaml"
    raw = yaml.safe_load(path.read_text())
    assert not any(k.startswith("AvgPool2D") for k in raw) and "Logits-input:7x7x1280-output:1000" in raw
    space = create_space("proxylessnas")
    result = import_table("proxylessnas", path, space)
    assert missing_entries(space, result.table) == [] and not result.unmatched
    t = result.table
    assert t.entries["linear-in1x1x1280-out1000-s1-k1-relu-bias"].ms == raw["Logits-input:7x7x1280-output:1000"]["mean"]
    assert t.entries["pool-in7x7x1280-out1280-s1-k1-relu"].ms == 0.0
    assert any("pool + classifier" in n for n in result.notes)
    stem = raw["Conv-input:224x224x3-output:112x112x32"]
    assert t.entries[space.slots[0].ops[0].signature()].std == pytest.approx(stem["var"] ** 0.5)
    # the network sum is exactly the published keys' sum (pool inside Logits)
    lo, hi = latency_table(space, t).bounds()["latency_ms"]
    assert 0 < lo < hi
    arch = space.sample(np.random.default_rng(3))
    priced = latency_table(space, t).price_one(arch)["latency_ms"]
    by_hand = sum(e.ms for e in (t.lookup(op.signature()) for _, op in space.active_ops(arch)) if e)
    assert priced == pytest.approx(by_hand)


def test_spatial_logits_with_its_own_pool_key_is_not_split(tmp_path):
    raw = yaml.safe_load((FIXTURES / "proxylessnas_mobile_trim.yaml").read_text())
    raw["AvgPool2D-input:7x7x1280-output:1x1x1280"] = {"count": 5, "mean": 0.25, "var": 0.0}
    raw["Logits-input:1x1x1280-output:1000"] = raw.pop("Logits-input:7x7x1280-output:1000")
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(raw))
    space = create_space("proxylessnas")
    result = import_table("proxylessnas", path, space)
    assert missing_entries(space, result.table) == []
    assert result.table.entries["pool-in7x7x1280-out1280-s1-k1-relu"].ms == 0.25
    assert not any("pool + classifier" in n for n in result.notes)


def test_lut_show_gives_proxylessnas_bounds(tmp_path, capsys):
    from oneshot.cli.main import main

    out = tmp_path / "px.json"
    assert main(["lut", "import", "--format", "proxylessnas", str(FIXTURES / "proxylessnas_mobile_trim.yaml"),
                 "--space", "proxylessnas", "--out", str(out)]) == 0
    assert main(["lut", "check", "--space", "proxylessnas", "--lut", str(out)]) == 0
    assert main(["lut", "show", str(out), "--space", "proxylessnas"]) == 0
    assert "space proxylessnas" in capsys.readouterr().out


def test_s3nas_check_passes_and_says_lump(tmp_path, capsys):
    from oneshot.cli.main import main

    space = create_space("tiny")
    folder = tmp_path / "s3"
    (folder / "MBConvBlock").mkdir(parents=True)
    for op in space.distinct_ops():
        if op.kind == "mbconv":
            name = f"r1_k{op.kernel}_s{op.stride}{op.stride}_e{op.mid // op.cin}_i{op.cin}_o{op.cout}_imgsize{op.in_hw}"
            (folder / "MBConvBlock" / f"{name}.json").write_text(json.dumps({"latency": 0.1}))
    (folder / "base.json").write_text(json.dumps({"latency": 2.0}))
    out = tmp_path / "s3.json"
    assert main(["lut", "import", "--format", "s3nas", str(folder), "--space", "tiny", "--out", str(out)]) == 0
    assert main(["lut", "check", "--space", "tiny", "--lut", str(out)]) == 0
    text = capsys.readouterr().out
    assert "one lump" in text and "ok:" in text
