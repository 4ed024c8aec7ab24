"""`oneshot quickstart --fast`: the whole pipeline (train, profile, search on 2 Ray workers, export)."""
from __future__ import annotations

import csv

import pytest
import torch

from oneshot.cli.main import main
from oneshot.export import load_model, onnx_available, read_export


@pytest.mark.slow
@pytest.mark.ray
def test_quickstart_fast_runs_the_whole_pipeline(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--fast", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Pareto plot" in printed and str(out / "search" / "pareto.png") in printed
    for rel in ("supernet/supernet.pt", "lut/tiny-16px-cpu.json", "search/history.csv", "search/pareto.csv",
                "search/pareto.png", "model/arch.json", "model/model.ts"):
        assert (out / rel).exists(), rel
    # `make quickstart` / `make test` install the onnx extra, so the promised ONNX file is written
    assert (out / "model" / "model.onnx").exists() == onnx_available()
    with open(out / "search" / "pareto.csv", newline="") as fh:
        front = list(csv.DictReader(fh))
    record = read_export(out / "model")
    assert record["key"] == front[0]["key"]
    assert float(front[0]["latency_ms"]) <= float(printed.split("latency <= ")[1].split(" ms")[0])
    model = load_model(out / "model")
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 10)
