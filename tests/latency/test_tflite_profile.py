"""TFLite benchmark_model op profiles mapped onto one architecture's slots."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oneshot.errors import LUTError
from oneshot.latency.formats import import_table
from oneshot.latency.formats.tflite_profile import expected_core, parse_profile
from oneshot.spaces import create_space

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "proxylessnas_tflite_profile.txt"
ARCH = "163635604006111632665"  # the architecture the fixture profiles (make_tflite_fixture.py)


def _run_order(text: str) -> list[list[str]]:
    """The regular runs' rows, read independently of the importer: tab-split after the section title."""
    part = text.split("Operator-wise Profiling Info for Regular Benchmark Runs")[1].split("\n\n")[0]
    return [[c.strip() for c in line.split("\t") if c.strip()] for line in part.splitlines()[3:]]


def test_profile_maps_onto_the_architecture():
    space = create_space("proxylessnas")
    result = import_table("tflite-profile", FIXTURE, space, arch=ARCH)
    text = FIXTURE.read_text()
    rows = _run_order(text)
    column_sum = sum(float(r[3]) for r in rows)
    prov = result.table.provenance
    assert prov["operator_sum_ms"] == pytest.approx(column_sum)
    e2e = float(text.split("Inference (avg): ")[1].split()[0]) / 1000
    assert prov["end_to_end_ms"] == pytest.approx(e2e) and prov["architecture"] == ARCH
    assert any("vs end-to-end average" in n for n in result.notes)
    # s1.l1 = expand conv + PAD + depthwise + project, charged to one slot
    s1 = [float(r[3]) for r in rows if "model/s1.l1/" in r[-1]]
    assert len(s1) == 4
    label = space.dimensions[0].choices[int(ARCH[0])]
    assert result.table.positional["s1.l1"][label].ms == pytest.approx(sum(s1))
    # the classifier slot takes FULLY_CONNECTED + SOFTMAX
    cls = [float(r[3]) for r in rows if r[0] in ("FULLY_CONNECTED", "SOFTMAX")]
    assert result.table.positional["classifier"]["fixed"].ms == pytest.approx(sum(cls))
    # priced through the table, the architecture costs exactly the column sum
    arch = space.parse(ARCH)
    total = sum(result.table.lookup(op.signature(), slot.name,
                                    space.dimensions[slot.dim].choices[arch[slot.dim]] if slot.dim is not None
                                    else "fixed").ms for slot, op in space.active_ops(arch))
    assert total == pytest.approx(column_sum)


def test_a_profile_of_another_architecture_is_refused_naming_the_first_mismatch():
    space = create_space("proxylessnas")
    other = list(ARCH)
    other[1] = "0"  # s1.l2: an MBConv where the profile has a skip
    # types alone cannot tell s1.l2 from s1.l3; the residual ADD s1.l3 needs is where they diverge
    with pytest.raises(LUTError, match=r"^operator 15 \(CONV_2D \[model/s2.l2/expand/Relu6\]:15\) does not match "
                                       r"the architecture: slot s1.l3 \(mbconv-in56x56x24-out24-s1-k5-mid144-relu6\) "
                                       r"expects ADD here; check --arch"):
        import_table("tflite-profile", FIXTURE, space, arch="".join(other))
    same_types = ARCH[:-1] + "0"  # s6.l1 e3k3 vs the profile's e6k7: same operator types, not detectable
    assert import_table("tflite-profile", FIXTURE, space, arch=same_types).table.provenance["architecture"] == same_types


def test_truncated_profile_and_delegates_and_bad_input(tmp_path):
    space = create_space("proxylessnas")
    lines = FIXTURE.read_text().splitlines()
    last_fc = max(i for i, line in enumerate(lines) if "FULLY_CONNECTED" in line)
    cut = tmp_path / "cut.txt"
    cut.write_text("\n".join(lines[:last_fc] + [""] + lines[last_fc + 2:]))
    with pytest.raises(LUTError, match="profile ends after .* slot classifier .* still expects FULLY_CONNECTED"):
        import_table("tflite-profile", cut, space, arch=ARCH)
    deleg = tmp_path / "deleg.txt"
    deleg.write_text(FIXTURE.read_text().replace("DEPTHWISE_CONV_2D", "TfLiteXNNPackDelegate", 1))
    with pytest.raises(LUTError, match="delegate node fuses several operators"):
        import_table("tflite-profile", deleg, space, arch=ARCH)
    with pytest.raises(LUTError, match="--arch KEY"):
        import_table("tflite-profile", FIXTURE, space)
    with pytest.raises(LUTError, match="needs the space"):
        import_table("tflite-profile", FIXTURE, None, arch=ARCH)
    empty = tmp_path / "e.txt"
    empty.write_text("count=50 avg=100\n")
    with pytest.raises(LUTError, match="enable_op_profiling"):
        import_table("tflite-profile", empty, space, arch=ARCH)


def _tflite_rows(space, arch) -> list[tuple[str, float]]:
    """What TFLite emits for a MobileNetV3 export: separate HARD_SWISH, SE as MEAN/CONV/CONV/hard-sigmoid/MUL."""
    rows = []
    for slot, op in space.active_ops(arch):
        core = expected_core(op)
        for alts in core:
            rows.append((alts[0], 0.1))
            if op.act == "hswish" and alts[0] in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(rows) % 3:
                rows.append(("HARD_SWISH", 0.01))
            if alts == ("MUL",):  # hard sigmoid before the gate: ADD, RELU6, MUL(1/6); then the gate MUL
                rows[-1:] = [("ADD", 0.01), ("RELU6", 0.01), ("MUL", 0.01), ("MUL", 0.02)]
    return rows


def test_se_and_hswish_operators_are_charged_to_their_block(tmp_path):
    space = create_space("mobilenetv3", resolution=160)
    arch = space.sample(np.random.default_rng(1))
    rows = _tflite_rows(space, arch)
    head = "\t[node type]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]\t[Name]"  # no [start]
    body = [f"\t{k}\t{ms}\t{ms}\t0%\t0%\t0\t1\t[op{i}]:{i}" for i, (k, ms) in enumerate(rows)]
    text = "\n".join(["Operator-wise Profiling Info for Regular Benchmark Runs:", "=== Run Order ===", head, *body,
                      "", "Timings (microseconds): count=50 first=1 curr=1 min=1 max=1 avg=20000 std=1"])
    path = tmp_path / "p.txt"
    path.write_text(text)
    result = import_table("tflite-profile", path, space, arch=space.encoding_key(arch))
    assert result.table.provenance["operator_sum_ms"] == pytest.approx(sum(ms for _, ms in rows))
    assert result.table.provenance["end_to_end_ms"] == pytest.approx(20.0)
    parsed, _ = parse_profile(text, "p")
    assert len(parsed) == len(rows)


def test_cli_import_and_show(tmp_path, capsys):
    from oneshot.cli.main import main

    out = tmp_path / "t.json"
    assert main(["lut", "import", "--format", "tflite-profile", str(FIXTURE), "--space", "proxylessnas",
                 "--arch", ARCH, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "vs end-to-end average" in text and f"architecture {ARCH}" in text
    assert main(["lut", "show", str(out), "--space", "proxylessnas", "--arch", ARCH]) == 0
    assert "(operator sum); end-to-end" in capsys.readouterr().out
