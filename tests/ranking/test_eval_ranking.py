"""`oneshot eval-ranking` end to end: tabular truth (NAS-Bench-Macro) and stand-alone truth, resumable."""
from __future__ import annotations

import json

import pytest
import torch

from oneshot.checkpoint import save_checkpoint
from oneshot.cli.main import main
from oneshot.data import load_data
from oneshot.spaces import create_space
from oneshot.supernet import Supernet



def _checkpoint(path, space, data_spec, resolution, config=None):
    torch.manual_seed(0)
    supernet = Supernet(space)
    info = load_data(data_spec, resolution, num_classes=space.num_classes).info
    save_checkpoint(path, {"space": space.to_json(), "model": supernet.state_dict(), "data": info,
                           "config": config or {}, "versions": {}, "epoch": 1})
    return path


def test_benchmark_truth_report(tmp_path, capsys):
    torch.set_num_threads(1)
    space = create_space("nas-bench-macro")
    ckpt = _checkpoint(tmp_path / "sn.pt", space, "digits", 32)
    out = tmp_path / "rank"
    assert main(["eval-ranking", "--supernet", str(ckpt), "--n", "12", "--benchmark", "nas-bench-macro",
                 "--calib-images", "32", "--val-images", "32", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "macs" in printed and "supernet_exact" in printed  # exact is the default BN policy
    report = json.loads((out / "ranking.json").read_text())
    assert report["truth"] == "nas-bench-macro" and len(report["architectures"]) == 12
    # within-MACs-quintile taus and the decision regret at the benchmark's budgets, for every proxy
    assert len(report["summary"]["macs"]["tau_in_macs_quintiles"]) == 5
    assert set(report["summary"]["supernet_exact"]["regret_within_ranked"]) <= {"30M", "45M", "60M"}
    assert all(v >= 0 for v in report["summary"]["macs"]["regret_within_ranked"].values())
    assert "supernet_exact_loss" in report["summary"] and "decision regret" in printed
    # the additive fit of the loss scores of these 12 networks, as a search ranks its front
    assert "supernet_exact_loss_smoothed" in report["summary"] and "supernet_exact_loss_smoothed" in printed
    # NAS-Bench-Macro accuracy grows with MACs on the stratified sample: the MACs proxy ranks well
    assert report["summary"]["macs"]["kendall_tau"] > 0.3
    assert (out / "ranking.png").stat().st_size > 1000 and (out / "ranking.csv").exists()


def test_benchmark_must_match_the_space(tmp_path):
    space = create_space("tiny", resolution=16)
    ckpt = _checkpoint(tmp_path / "sn.pt", space, "digits", 16)
    assert main(["eval-ranking", "--supernet", str(ckpt), "--n", "4", "--benchmark", "nas-bench-macro",
                 "--out", str(tmp_path / "r"), "--no-progress"]) == 2


def test_standalone_truth_is_cached_and_reused(tmp_path, squares_npz):
    torch.set_num_threads(1)
    space = create_space("tiny", resolution=16, num_classes=4)
    config = dict(space="tiny", space_options={"resolution": 16, "num_classes": 4}, data=f"npz:{squares_npz}",
                  resolution=16, batch_size=32, eval_paths=0, progress=False, device="cpu")
    ckpt = _checkpoint(tmp_path / "sn.pt", space, f"npz:{squares_npz}", 16, config)
    argv = ["eval-ranking", "--supernet", str(ckpt), "--n", "4", "--epochs", "1", "--calib-images", "64",
            "--bn-policy", "ema", "--bn-policy", "exact", "--out", str(tmp_path / "r"), "--no-progress"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "r" / "ranking.json").read_text())
    assert report["truth"] == "standalone" and {"supernet_ema", "supernet_exact"} <= set(report["summary"])
    rows = report["architectures"]
    assert all(0 <= r["truth"] <= 100 and "truth_test" in r for r in rows)
    lines = (tmp_path / "r" / "truth.jsonl").read_text().splitlines()
    assert len(lines) == 4
    # rerun: every stand-alone result is reused, nothing is trained again
    assert main(argv) == 0
    assert (tmp_path / "r" / "truth.jsonl").read_text().splitlines() == lines
    again = json.loads((tmp_path / "r" / "ranking.json").read_text())
    assert [r["truth"] for r in again["architectures"]] == [r["truth"] for r in rows]


@pytest.mark.slow
@pytest.mark.ray
def test_standalone_truth_on_ray_workers_equals_in_process(tmp_path, squares_npz):
    """Two Ray actors train the architectures; the same recipe gives the same accuracies as in-process."""
    torch.set_num_threads(1)
    space = create_space("tiny", resolution=16, num_classes=4)
    config = dict(space="tiny", space_options={"resolution": 16, "num_classes": 4}, data=f"npz:{squares_npz}",
                  resolution=16, batch_size=32, eval_paths=0, progress=False, device="cpu")
    ckpt = _checkpoint(tmp_path / "sn.pt", space, f"npz:{squares_npz}", 16, config)
    common = ["eval-ranking", "--supernet", str(ckpt), "--n", "3", "--epochs", "1", "--calib-images", "32",
              "--no-progress"]
    assert main(common + ["--workers", "2", "--out", str(tmp_path / "ray")]) == 0
    assert main(common + ["--out", str(tmp_path / "local")]) == 0
    ray_rows = json.loads((tmp_path / "ray" / "ranking.json").read_text())["architectures"]
    local_rows = json.loads((tmp_path / "local" / "ranking.json").read_text())["architectures"]
    assert [r["truth"] for r in ray_rows] == [r["truth"] for r in local_rows]
