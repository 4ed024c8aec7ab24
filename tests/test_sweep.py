"""`oneshot sweep`: the trial grid, chunked resumable trials, merged fronts, and a real Tune sweep
that is killed and resumed."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oneshot.cli.sweep import sweep_config
from oneshot.cli.sweep_grid import build_trials, check_args, parse_budget_sweep, parse_grid, parse_seeds
from oneshot.errors import ConfigError
from oneshot.search import SearchConfig
from oneshot.sweep import Trial, merge_fronts, run_trial

SEARCH = ["--benchmark", "nas-bench-macro", "--strategy", "random", "--objective", "accuracy:max",
          "--objective", "macs:min"]


def _history(path: Path) -> list[dict]:
    with open(path / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("text, seeds", [("0,1,2", [0, 1, 2]), ("0:3", [0, 1, 2]), ("2:10:4", [2, 6])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a,b", "1,1", "5:5", "1:2:3:4"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ConfigError, match="seeds"):
        parse_seeds(text)


def test_parse_budget_sweep_lists_and_inclusive_ranges():
    assert parse_budget_sweep("macs<=40M,60M") == ["macs<=40M", "macs<=60M"]
    assert parse_budget_sweep("latency_ms<=10:20:5") == ["latency_ms<=10", "latency_ms<=15", "latency_ms<=20"]
    assert parse_budget_sweep("macs<=20M:60M:20M") == ["macs<=20M", "macs<=40M", "macs<=60M"]
    for bad in ("macs40M", "macs<=1:2", "macs<=40M,40M", "macs<=5:1:1", "macs<=x"):
        with pytest.raises(ConfigError):
            parse_budget_sweep(bad)


def test_trials_are_the_product_and_args_are_checked():
    trials = build_trials(SEARCH, [0, 1], ["macs<=40M", "macs<=60M"])
    assert [t["name"] for t in trials] == ["seed=0,macs<=40M", "seed=0,macs<=60M",
                                           "seed=1,macs<=40M", "seed=1,macs<=60M"]
    assert len({t["slug"] for t in trials}) == 4
    assert trials[3]["args"][-4:] == ["--seed", "1", "--constraint", "macs<=60M"]
    with pytest.raises(ConfigError, match="--out"):
        check_args([*SEARCH, "--out", "x"], [])
    with pytest.raises(ConfigError, match="--seed"):
        check_args([*SEARCH, "--seed", "3"], ["--seed"])
    with pytest.raises(ConfigError, match="not valid"):
        check_args(["--benchmark", "nas-bench-macro", "--budget", "many"], [])


def test_grid_of_any_flag_is_part_of_the_product():
    assert parse_grid("lr=0.1,0.05") == ("lr", ["0.1", "0.05"])
    assert parse_grid("--strategy=nsga2,random")[0] == "strategy"
    for bad in ("lr", "lr=", "lr=1,1"):
        with pytest.raises(ConfigError, match="--grid"):
            parse_grid(bad)
    base = ["--benchmark", "nas-bench-macro", "--budget", "10"]
    cfg = sweep_config("x", base, seeds=[0, 1], grid=[parse_grid("strategy=random,evolution")])
    assert [t.name for t in cfg.trials] == ["seed=0,strategy=random", "seed=0,strategy=evolution",
                                            "seed=1,strategy=random", "seed=1,strategy=evolution"]
    assert cfg.trials[1].grid == {"strategy": "evolution"} and cfg.trials[1].seed == 0
    # each trial is the library's typed config, built as `oneshot search` builds it
    assert isinstance(cfg.trials[1].config, SearchConfig)
    assert (cfg.trials[1].config.seed, cfg.trials[1].config.strategy, cfg.trials[1].config.budget) == (0, "evolution", 10)
    assert cfg.trials[1].config.out == cfg.trials[1].out and cfg.trials[1].out.endswith("trials/seed-0_strategy-evolution")
    with pytest.raises(ConfigError, match="not valid"):  # a flag the command does not have
        sweep_config("x", base, grid=[parse_grid("no_such_flag=1,2")])
    with pytest.raises(ConfigError, match="--strategy"):  # swept and given
        sweep_config("x", SEARCH, grid=[parse_grid("strategy=random")])
    with pytest.raises(ConfigError, match="nothing to sweep"):
        sweep_config("x", SEARCH)
    with pytest.raises(ConfigError, match="sweep-budget"):
        sweep_config("x", ["--space", "tiny"], budgets=["macs<=1M"], command="train-supernet")


def test_interrupted_trial_resumes_without_evaluating_twice(tmp_path):
    """A trial killed after its first checkpoint continues its search; it ends where an
    uninterrupted trial ends, with every architecture exactly once."""
    interrupted = sweep_config(str(tmp_path / "a"), [*SEARCH, "--budget", "24"], seeds=[3]).trials[0]
    reports = []

    class Interrupted(Exception):
        pass

    def report_then_die(metrics):
        reports.append(metrics)
        raise Interrupted

    with pytest.raises(Interrupted):
        run_trial(interrupted, report_every=8, report=report_then_die)
    slug_dir = tmp_path / "a" / "trials" / interrupted.slug
    assert reports[0]["evaluations"] == 8 and len(_history(slug_dir)) == 8
    seen = []
    run_trial(interrupted, report_every=8, report=lambda m: seen.append(m["evaluations"]))
    assert seen == [16, 24]  # the first chunk was not redone
    straight = sweep_config(str(tmp_path / "b"), [*SEARCH, "--budget", "24"], seeds=[3]).trials[0]
    run_trial(straight, report_every=8)
    resumed, reference = _history(slug_dir), _history(tmp_path / "b" / "trials" / straight.slug)
    assert len({r["key"] for r in resumed}) == len(resumed) == 24
    assert [r["key"] for r in resumed] == [r["key"] for r in reference]


def test_merge_fronts_adds_the_trial_columns(tmp_path):
    trials = [Trial(t["name"], t["slug"], str(tmp_path / "trials" / t["slug"]), None, t["seed"])
              for t in build_trials(SEARCH, [0, 1], None)]
    for i, t in enumerate(trials):
        d = tmp_path / "trials" / t.slug
        d.mkdir(parents=True)
        (d / "pareto.csv").write_text("rank,key,accuracy\n0,0000000%d,9%d.5\n1,1111111%d,8%d.0\n" % (i, i, i, i))
    assert merge_fronts(tmp_path, trials) == 4
    with open(tmp_path / "pareto.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["trial"] for r in rows] == ["seed=0", "seed=0", "seed=1", "seed=1"]
    assert rows[2]["key"] == "00000001" and rows[2]["seed"] == "1"


@pytest.mark.ray
@pytest.mark.slow
def test_sweep_killed_and_resumed_merges_every_trial(tmp_path):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "oneshot", "sweep", "--out", str(out), "--seeds", "0:2",
           "--report-every", "10", "--concurrent", "1", "--", *SEARCH, "--budget", "40"]
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    partial = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and first.poll() is None:
            histories = list((out / "trials").glob("*/history.csv")) if (out / "trials").exists() else []
            if histories and len(_history(histories[0].parent)) >= 10:
                partial = len(_history(histories[0].parent))
                break
            time.sleep(0.2)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)  # the sweep, its Ray and its trials, at once
        first.wait(30)
    assert partial is not None and partial < 40, "the sweep was not caught mid-run"
    with pytest.raises(subprocess.CalledProcessError):  # without --resume it refuses the directory
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    resume = cmd[:4] + ["--resume"] + cmd[4:]  # sweep options go before the `--`
    done = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    state = json.loads((out / "sweep.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["finished", "finished"]
    assert len(state["runs"]) == 2  # the killed run and the resumed one (the refused one left no trace)
    for t in state["trials"]:
        rows = _history(out / t["dir"])
        assert len(rows) == 40 and len({r["key"] for r in rows}) == 40
    with open(out / "pareto.csv", newline="") as fh:
        merged = list(csv.DictReader(fh))
    assert {r["trial"] for r in merged} == {"seed=0", "seed=1"}
    assert len(merged) == state["front_rows"] > 0


@pytest.mark.slow
def test_training_trial_runs_in_epoch_chunks_and_resumes(tmp_path):
    import torch

    torch.set_num_threads(1)
    args = ["--space", "tiny", "--data", "digits", "--epochs", "2", "--batch-size", "128", "--eval-paths", "1",
            "--bn-calib-images", "64", "--device", "cpu"]
    trial = sweep_config(str(tmp_path), args, grid=[parse_grid("lr=0.05")], command="train-supernet").trials[0]
    seen = []

    class Interrupted(Exception):
        pass

    def report_then_die(metrics):
        seen.append(metrics["epoch"])
        raise Interrupted

    with pytest.raises(Interrupted):
        run_trial(trial, report_every=1, report=report_then_die)
    run_trial(trial, report_every=1, report=lambda m: seen.append(m["epoch"]))
    assert seen == [1, 2]  # epoch 1 was not trained again
    log = [json.loads(ln) for ln in (tmp_path / "trials" / "lr-0.05" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
