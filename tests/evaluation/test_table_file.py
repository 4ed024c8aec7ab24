"""User benchmark files (`--benchmark PATH` + column mapping): search with space and file costs as
budgets, reports of duplicate / incomplete rows, one-line errors, eval-ranking, search quality."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from oneshot.cli.main import main

from .nb201_fixture import nb201_rows, write_csv, write_json

ROOT = Path(__file__).resolve().parents[2]
MAP = ["--arch-column", "arch_str", "--metric", "accuracy=cifar10_test_acc"]


@pytest.fixture(scope="module")
def full_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("nb201") / "nb201.csv", nb201_rows())


def _search(bench, out, *extra):
    return main(["search", "--benchmark", str(bench), *extra, "--budget", "40", "-p", "pop_size=10",
                 "--out", str(out), "--no-progress"])


def _error(capsys, *args) -> str:
    """The one-line error of a refused search."""
    capsys.readouterr()
    assert _search(*args) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1
    return err[0]


def _history(out):
    with open(out / "history.csv") as fh:
        return list(csv.DictReader(fh))


def test_search_with_a_macs_budget_from_the_space(full_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert _search(full_csv, out, *MAP, "--objective", "accuracy:max", "--objective", "macs:min",
                   "--constraint", "macs<=60M") == 0
    assert "15625 architectures from 15625 rows" in capsys.readouterr().err
    rows = _history(out)
    assert len(rows) == 40 and all(float(r["macs"]) <= 60e6 for r in rows)  # over budget: never evaluated
    meta = json.loads((out / "search.json").read_text())
    assert meta["identity"]["space"]["name"] == "nas-bench-201"  # inferred from the strings
    assert meta["evaluator_info"]["report"]["duplicates"] == 0
    assert meta["cost_bounds"]["macs"] == [7_783_040.0, 220_119_680.0]  # the space's exact model


def test_file_cost_columns_are_objectives_and_budgets(tmp_path):
    rows = nb201_rows(300, seed=1)
    bench = write_json(tmp_path / "nb201.json", rows)  # keyed by architecture string: no --arch-column
    out = tmp_path / "run"
    assert _search(bench, out, "--metric", "accuracy=cifar10_test_acc", "--cost", "macs=flops*M",
                   "--cost", "params=params*1e6", "--space", "nas-bench-201", "--objective", "accuracy:max",
                   "--objective", "params:min", "--constraint", "params<=0.6M") == 0
    meta = json.loads((out / "search.json").read_text())
    assert "looked up per architecture" in meta["cost_conventions"]["params"]
    listed = {r["arch_str"] for r in rows}
    from oneshot.spaces import create_space

    space = create_space("nas-bench-201")
    history = _history(out)
    assert history and all(space.format(space.parse(r["key"])) in listed for r in history)  # unlisted: rejected
    assert all(float(r["params"]) <= 0.6e6 for r in history)
    assert all(r["error"] == "" for r in history)


def test_duplicates_and_missing_values_are_reported(tmp_path, capsys):
    rows = nb201_rows(30, seed=2)
    rows += [dict(rows[0], cifar10_test_acc=1.0), dict(rows[1]), dict(rows[2], cifar10_test_acc="")]
    bench = write_csv(tmp_path / "b.csv", rows)
    out = tmp_path / "run"
    assert _search(bench, out, *MAP, "--budget", "5") == 0
    err = capsys.readouterr().err
    assert "2 row(s) repeat an architecture (first kept): row 31 repeats row 1" in err
    assert "1 row(s) with missing values left out: row 33 (cifar10_test_acc)" in err
    report = json.loads((out / "search.json").read_text())["evaluator_info"]["report"]
    assert report == {**report, "rows": 33, "kept": 30, "duplicates": 2, "missing": 1}


@pytest.mark.parametrize("args, words", [
    (["--arch-column", "nope", "--metric", "accuracy=cifar10_test_acc"], "no column 'nope'; columns: arch_str"),
    (["--arch-column", "arch_str", "--metric", "accuracy=acc"], "no column 'acc'"),
    (["--arch-column", "arch_str"], "at least one --metric"),
    (["--arch-column", "arch_str", "--metric", "accuracy"], "write NAME=COLUMN"),
    (["--arch-column", "arch_str", "--metric", "accuracy=cifar10_test_acc", "--cost", "flop=flops"],
     "costs are macs, params, latency_ms"),
    (["--arch-column", "arch_str", "--metric", "accuracy=cifar10_test_acc", "--cost", "macs=flops*x"],
     "cannot read the scale"),
    (["--arch-column", "arch_str", "--metric", "accuracy=cifar10_test_acc", "--space", "tiny"],
     "row 1: cannot read architecture"),
    (["--arch-column", "arch_str", "--metric", "accuracy=cifar10_test_acc", "--space", "nope"], "unknown search space"),
])
def test_bad_input_is_one_line(tmp_path, capsys, args, words):
    bench = write_csv(tmp_path / "b.csv", nb201_rows(5))
    assert words in _error(capsys, bench, tmp_path / "run", *args)
    assert not (tmp_path / "run").exists()


def test_bad_cells_name_the_row(tmp_path, capsys):
    import re

    rows = nb201_rows(5)
    rows[3]["arch_str"] = "|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|"
    err = _error(capsys, write_csv(tmp_path / "b.csv", rows), tmp_path / "run", *MAP)
    assert re.search(r"row 4: cannot read architecture .*unknown operation 'bogus'", err)
    rows = nb201_rows(5)
    rows[1]["cifar10_test_acc"] = "ninety"
    err = _error(capsys, write_csv(tmp_path / "c.csv", rows), tmp_path / "run", *MAP)
    assert "row 2: column 'cifar10_test_acc' holds 'ninety', not a number" in err
    assert "neither a built-in benchmark" in _error(capsys, tmp_path / "missing.csv", tmp_path / "run", *MAP)
    assert "is a built-in benchmark" in _error(capsys, "nas-bench-macro", tmp_path / "run", *MAP)


def test_search_quality_runs_on_a_benchmark_file(full_csv, tmp_path):
    out = tmp_path / "sq.json"
    env = {"PYTHONPATH": ":".join(sys.path)}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_quality.py"), "--benchmark", str(full_csv),
                    *MAP, "--seeds", "1", "--budget", "200", "--variants", "random", "--out", str(out)],
                   check=True, env=env, capture_output=True)
    result = json.loads(out.read_text())
    assert result["results"][0]["variant"] == "random" and "nb201.csv" in result["description"]
    assert result["true_front_networks"] > 0


@pytest.mark.slow
def test_eval_ranking_against_a_benchmark_file(full_csv, tmp_path, capsys):
    import torch

    from oneshot.checkpoint import save_checkpoint
    from oneshot.data import load_data
    from oneshot.spaces import create_space
    from oneshot.supernet import Supernet

    torch.set_num_threads(1)
    torch.manual_seed(0)
    space = create_space("nas-bench-201")
    info = load_data("digits", 32, num_classes=10).info
    ckpt = tmp_path / "sn.pt"
    save_checkpoint(ckpt, {"space": space.to_json(), "model": Supernet(space).state_dict(), "data": info,
                           "config": {}, "versions": {}, "epoch": 1})
    out = tmp_path / "rank"
    assert main(["eval-ranking", "--supernet", str(ckpt), "--n", "6", "--benchmark", str(full_csv), *MAP,
                 "--calib-images", "16", "--val-images", "16", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "ranking.json").read_text())
    assert report["truth"] == "table" and len(report["architectures"]) == 6
    assert all(a["truth"] > 0 for a in report["architectures"])
