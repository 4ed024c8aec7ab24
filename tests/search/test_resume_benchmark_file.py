"""--resume of a search on a benchmark file: the file's sha256 is part of the run's identity."""
from __future__ import annotations

import json

from oneshot.cli.main import main

from tests.evaluation.nb201_fixture import nb201_rows, write_csv

MAP = ["--arch-column", "arch_str", "--metric", "accuracy=cifar10_test_acc"]


def _search(bench, out, budget, *extra):
    return main(["search", "--benchmark", str(bench), *MAP, "--strategy", "random", "--budget", str(budget),
                 "--out", str(out), "--no-progress", *extra])


def test_resume_with_a_changed_benchmark_file_is_refused(tmp_path, capsys):
    rows = nb201_rows(200, seed=3)
    bench, out = write_csv(tmp_path / "bench.csv", rows), tmp_path / "run"
    assert _search(bench, out, 5) == 0
    files = json.loads((out / "search.json").read_text())["identity"]["files"]
    assert files["benchmark"]["path"] == str(bench.resolve()) and len(files["benchmark"]["sha256"]) == 64
    assert _search(bench, out, 8, "--resume") == 0  # the same file: continues
    rows[0]["cifar10_test_acc"] = float(rows[0]["cifar10_test_acc"]) + 1.0
    write_csv(bench, rows)
    capsys.readouterr()
    assert _search(bench, out, 12, "--resume") != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and err[0].startswith("error: cannot resume"), err
    assert f"benchmark {bench.resolve()} changed since the run started" in err[0]
