"""`oneshot landmarks propose / train` and `oneshot search --landmarks`, end to end on the tiny space."""
from __future__ import annotations

import csv
import json

import pytest

from oneshot.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A random-weight tiny supernet and a finished 40-evaluation search of it."""
    import torch

    from oneshot.checkpoint import save_checkpoint
    from oneshot.data import load_data
    from oneshot.spaces import create_space
    from oneshot.supernet import Supernet

    tmp = tmp_path_factory.mktemp("landmarks")
    torch.manual_seed(0)
    space = create_space("tiny")
    ckpt = tmp / "sn.pt"
    info = load_data("digits", space.resolution, seed=0).info
    save_checkpoint(ckpt, {"space": space.to_json(), "model": Supernet(space).state_dict(), "data": info,
                           "config": {"data": "digits", "batch_size": 64}, "versions": {}, "epoch": 1})
    run = tmp / "run"
    assert main(["search", "--supernet", str(ckpt), "--strategy", "random", "--objective", "loss:min",
                 "--objective", "macs:min", "--budget", "40", "--calib-images", "64", "--out", str(run),
                 "--no-progress"]) == 0
    search_json = json.loads((run / "search.json").read_text())
    assert search_json["smoothing"]["method"] == "additive"  # no landmarks: the plain fit
    return tmp, ckpt, run


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_propose_train_and_rerank_a_search(searched, capsys):
    tmp, ckpt, run = searched
    lm = tmp / "lm"
    assert main(["landmarks", "propose", "--search", str(run), "--out", str(lm), "--pairs", "3",
                 "--tolerance", "0.1"]) == 0
    rows = _rows(lm / "landmarks.csv")
    assert len(rows) == 6 and {r["pair"] for r in rows} == {"0", "1", "2"}
    assert all(r["accuracy"] == "" for r in rows)
    assert json.loads((lm / "landmarks.json").read_text())["supernet"] == str(ckpt)
    # a search cannot use landmarks nobody has trained yet: one line, and the command that fixes it
    capsys.readouterr()
    assert main(["search", "--supernet", str(ckpt), "--strategy", "random", "--objective", "loss:min",
                 "--objective", "macs:min", "--budget", "40", "--calib-images", "64", "--out", str(run),
                 "--resume", "--no-progress", "--landmarks", str(lm / "landmarks.csv")]) == 2
    assert "oneshot landmarks train" in capsys.readouterr().err
    # proposing again into the same directory would lose what it holds: refused
    assert main(["landmarks", "propose", "--search", str(run), "--out", str(lm)]) == 2

    assert main(["landmarks", "train", str(lm), "--epochs", "1"]) == 0
    trained = _rows(lm / "landmarks.csv")
    assert [r["key"] for r in trained] == [r["key"] for r in rows]
    assert all(0.0 <= float(r["accuracy"]) <= 100.0 for r in trained)
    assert all((lm / "runs" / r["key"] / "result.json").is_file() for r in trained)
    # a second call finds nothing to do and changes nothing
    before = (lm / "landmarks.csv").read_text()
    assert main(["landmarks", "train", str(lm), "--epochs", "1"]) == 0
    assert (lm / "landmarks.csv").read_text() == before

    history_before = (run / "history.csv").read_text()
    capsys.readouterr()
    assert main(["search", "--supernet", str(ckpt), "--strategy", "random", "--objective", "loss:min",
                 "--objective", "macs:min", "--budget", "40", "--calib-images", "64", "--out", str(run),
                 "--resume", "--no-progress", "--landmarks", str(lm / "landmarks.csv")]) == 0
    after = (run / "history.csv").read_text()
    # re-ranked; the strategy's rows untouched, the fit's unevaluated front members appended (generation -1)
    assert after.startswith(history_before)
    completed = _rows(run / "history.csv")[40:]
    assert completed and all(r["generation"] == "-1" for r in completed)
    out = capsys.readouterr().out
    assert "front ranked by the landmarks' depth trend: loss beta" in out
    assert f"{len(completed)} evaluated and in the front's fit" in out
    summary = json.loads((run / "search.json").read_text())
    assert summary["completion"] == {"size": 32, "rounds": 1, "proposed": len(completed),
                                     "evaluated": len(completed)}
    # the same command again proposes the same networks (from the strategy's rows): nothing new
    assert main(["search", "--supernet", str(ckpt), "--strategy", "random", "--objective", "loss:min",
                 "--objective", "macs:min", "--budget", "40", "--calib-images", "64", "--out", str(run),
                 "--resume", "--no-progress", "--landmarks", str(lm / "landmarks.csv")]) == 0
    assert (run / "history.csv").read_text() == after
    summary = json.loads((run / "search.json").read_text())
    assert summary["smoothing"]["method"] == "additive + landmark depth trend"
    trend = summary["smoothing"]["loss"]["depth_trend"]
    assert trend["landmarks"] == 6 and trend["beta_low"] <= trend["beta"] <= trend["beta_high"]
    assert "loss_smoothed" in _rows(run / "pareto.csv")[0]
    # proposing from the completed search gives the same pairs: the completion rows are not used
    again = run.parent / "lm-again"
    assert main(["landmarks", "propose", "--search", str(run), "--out", str(again), "--pairs", "3",
                 "--tolerance", "0.1"]) == 0
    assert [r["key"] for r in _rows(again / "landmarks.csv")] == [r["key"] for r in trained]


def test_bad_landmark_input_gets_one_line_errors(searched, tmp_path, capsys):
    _, ckpt, run = searched
    bad = tmp_path / "landmarks.csv"
    bad.write_text("pair,key,encoding,cost,accuracy\n0,99999999999,x,1,50\n")
    base = ["search", "--supernet", str(ckpt), "--strategy", "random", "--objective", "loss:min", "--objective",
            "macs:min", "--budget", "40", "--calib-images", "64", "--out", str(run), "--resume", "--no-progress"]
    capsys.readouterr()
    assert main([*base, "--landmarks", str(bad)]) == 2
    assert "another space" in capsys.readouterr().err
    assert main([*base, "--landmarks", str(tmp_path / "missing.csv")]) == 2
    assert "landmarks propose" in capsys.readouterr().err
    assert main([*base, "--landmarks", str(bad), "--smoothing", "none"]) == 2
    assert "--smoothing none" in capsys.readouterr().err
    assert main([*base, "--complete", "-1"]) == 2
    assert "--complete must be >= 0" in capsys.readouterr().err
    assert main([*base, "--complete", "4", "--smoothing", "none"]) == 2
    assert "--complete 0" in capsys.readouterr().err
    assert main([*base, "--complete-rounds", "0"]) == 2
    assert "--complete-rounds must be >= 1" in capsys.readouterr().err
    assert main(["landmarks", "propose", "--search", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a search run" in capsys.readouterr().err
    assert main(["landmarks", "propose", "--search", str(run), "--out", str(tmp_path / "y"),
                 "--within", "macs>=1M"]) == 2
    assert main(["landmarks", "train", str(tmp_path / "nothing")]) == 2
    assert "landmarks propose" in capsys.readouterr().err
