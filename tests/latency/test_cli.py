"""``oneshot lut`` end to end through the CLI entry point."""
from __future__ import annotations

import json
from pathlib import Path

from oneshot.cli.main import main
from oneshot.latency import Entry, LatencyTable
from oneshot.spaces import create_space

LUTS = Path(__file__).resolve().parents[2] / "oneshot" / "data" / "luts"


def test_import_check_show(tmp_path, capsys):
    out = tmp_path / "ofa.json"
    assert main(["lut", "import", "--format", "ofa", str(LUTS / "ofa_note10_224_lookup_table.yaml"),
                 "--space", "mobilenetv3", "-o", "width=1.2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "96 operator entries" in text and "coverage: complete" in text
    assert main(["lut", "check", "--space", "mobilenetv3", "-o", "width=1.2", "--lut", str(out)]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main(["lut", "show", str(out)]) == 0
    assert "96 operator entries" in capsys.readouterr().out


def test_show_prices_an_architecture(tmp_path, capsys):
    space = create_space("tiny")
    path = LatencyTable({op.signature(): Entry(0.5) for op in space.distinct_ops()}, constant_ms=1.0).save(
        tmp_path / "t.json")
    assert main(["lut", "show", str(path), "--space", "tiny", "--arch", "0,0,0,0,0,0"]) == 0
    text = capsys.readouterr().out
    assert "architecture 000000: 6.000 ms" in text  # 1 + 10 ops x 0.5


def test_check_lists_exactly_what_is_missing(tmp_path, capsys):
    space = create_space("tiny")
    ops = [op for op in space.distinct_ops() if not op.is_identity]
    table = LatencyTable({op.signature(): Entry(1.0) for op in ops[2:]})
    path = table.save(tmp_path / "partial.json")
    assert main(["lut", "check", "--space", "tiny", "--lut", str(path)]) == 1
    text = capsys.readouterr().out
    assert f"missing: 2 operator signature(s)" in text
    for op in ops[:2]:
        assert op.signature() in text
    for op in ops[2:]:
        assert op.signature() not in text


def test_bad_table_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x": 1}))
    assert main(["lut", "check", "--space", "tiny", "--lut", str(bad)]) == 2
    assert "not a oneshot latency table" in capsys.readouterr().err


def test_import_never_replaces_an_existing_table_without_force(tmp_path, capsys):
    out = tmp_path / "t.json"
    out.write_text("profiled, keep me")
    args = ["lut", "import", "--format", "ofa", str(LUTS / "ofa_note10_224_lookup_table.yaml"), "--space",
            "mobilenetv3", "-o", "width=1.2", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exists; pass --force" in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "profiled, keep me"
    assert main(args + ["--force"]) == 0 and json.loads(out.read_text())["format"] == "oneshot-lut"


def test_search_names_a_missing_lut(tmp_path, capsys):
    assert main(["search", "--benchmark", "nas-bench-macro", "--lut", str(tmp_path / "missing.json"),
                 "--budget", "2", "--out", str(tmp_path / "run")]) == 2
    assert "--lut" in capsys.readouterr().err


def test_check_names_the_space_a_table_fits(tmp_path, capsys):
    from oneshot.cli.main import main

    luts = Path(__file__).resolve().parents[2] / "oneshot" / "data" / "luts"
    out = tmp_path / "ofa160.json"
    assert main(["lut", "import", "--format", "ofa", str(luts / "ofa_note10_160_lookup_table.yaml"), "--space",
                 "mobilenetv3", "-o", "resolution=160", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["lut", "check", "--space", "proxylessnas", "--lut", str(out)]) == 1
    text = capsys.readouterr().out
    assert "prices 0 of 71 operators of proxylessnas" in text
    assert "fits mobilenetv3 -o resolution=160 best (96 of 96 operators, complete)" in text
    assert f"fix: `oneshot lut check --space mobilenetv3 -o resolution=160 --lut {out}`" in text
    # the right space at the wrong size: the table's own stem size is a candidate
    assert main(["lut", "check", "--space", "mobilenetv3", "--lut", str(out)]) == 1
    assert "fits mobilenetv3 -o resolution=160 best" in capsys.readouterr().out


def test_space_fit_counts_positional_entries():
    from oneshot.latency.coverage import best_fits, space_fit
    from oneshot.latency.formats import import_table
    from oneshot.spaces import create_space

    luts = Path(__file__).resolve().parents[2] / "oneshot" / "data" / "luts"
    space = create_space("tunas-proxylessnas")
    table = import_table("tunas", luts / "tunas_proxylessnas_search_pixel1_linear.json", space).table
    fit = space_fit(space, table)
    assert fit.matched == fit.total
    assert best_fits(table)[0].space == "tunas-proxylessnas"
