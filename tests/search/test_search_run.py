"""The search loop on the tabular NAS-Bench-Macro evaluator: outputs, budgets, resume after SIGKILL."""
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

from oneshot.errors import CheckpointError, ConfigError
from oneshot.evaluation import EvaluatorSpec
from oneshot.search import SearchConfig, SearchRun, parse_constraint, parse_objective
from oneshot.search.history import History

OBJ = [parse_objective("accuracy:max"), parse_objective("flops:min")]


def config(out, budget=60, strategy="nsga2", seed=0, resume=False, delay=0.0, **kw):
    params = {"pop_size": 10} if strategy == "nsga2" else {}
    opts = {"delay_s": delay} if delay else {}
    return SearchConfig(EvaluatorSpec("nas-bench-macro", opts), str(out), strategy=strategy,
                        strategy_params=params, objectives=OBJ, constraints=[parse_constraint("flops<=60M")],
                        budget=budget, seed=seed, resume=resume, progress=False, **kw)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def front_keys(out):
    return [r["key"] for r in read_csv(Path(out) / "pareto.csv")]


def test_outputs_and_budget(tmp_path):
    out = tmp_path / "run"
    summary = SearchRun(config(out)).run()
    for name in ("history.csv", "pareto.csv", "pareto.png", "search.json", "best.json", "state.json"):
        assert (out / name).is_file(), name
    rows = read_csv(out / "history.csv")
    assert len(rows) == 60 == summary["evaluations"]
    assert len({r["key"] for r in rows}) == 60, "a network was evaluated twice"
    assert all(float(r["macs"]) <= 60e6 for r in rows), "an over-budget network was evaluated"
    assert [int(r["eval_index"]) for r in rows] == list(range(60))
    assert set(rows[0]) >= {"key", "encoding", "generation", "l0", "l7", "accuracy", "macs", "params",
                            "feasible", "seconds", "error"}
    assert rows[0]["l0"] in ("id", "e3k3", "e6k5")
    front = read_csv(out / "pareto.csv")
    pts = [(-float(r["accuracy"]), float(r["macs"])) for r in front]
    assert pts == sorted(pts), "pareto.csv is sorted best accuracy first"
    allpts = [(-float(r["accuracy"]), float(r["macs"])) for r in rows]
    for p in pts:  # nothing in the history dominates a front row
        assert not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in allpts)
    best = json.loads((out / "best.json").read_text())["best"]
    assert best["key"] == front[0]["key"] and best["metrics"]["accuracy"] == max(float(r["accuracy"]) for r in rows)
    meta = json.loads((out / "search.json").read_text())
    ident = meta["identity"]
    assert ident["strategy"] == "nsga2" and ident["seed"] == 0 and ident["constraints"] == ["flops<=60M"]
    assert ident["evaluator"]["kind"] == "nas-bench-macro" and "numpy" in meta["versions"]
    assert meta["front_size"] == len(front) and 0 < meta["hypervolume"] < 1


def test_resume_with_larger_budget_equals_one_long_run(tmp_path):
    SearchRun(config(tmp_path / "long", budget=80, strategy="evolution")).run()
    SearchRun(config(tmp_path / "split", budget=35, strategy="evolution")).run()
    SearchRun(config(tmp_path / "split", budget=80, strategy="evolution", resume=True)).run()
    a = read_csv(tmp_path / "long" / "history.csv")
    b = read_csv(tmp_path / "split" / "history.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)
    assert front_keys(tmp_path / "long") == front_keys(tmp_path / "split")


CHILD = """
import sys
from oneshot.evaluation import EvaluatorSpec
from oneshot.search import SearchConfig, SearchRun, parse_constraint, parse_objective
SearchRun(SearchConfig(EvaluatorSpec("nas-bench-macro", {{"delay_s": {delay}}}), sys.argv[1], strategy="{strategy}",
          strategy_params={params}, objectives=[parse_objective("accuracy:max"), parse_objective("flops:min")],
          constraints=[parse_constraint("flops<=60M")], budget={budget}, seed=0, resume=sys.argv[2] == "1",
          progress=False)).run()
"""


def _history_rows(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("strategy", ["nsga2", pytest.param("evolution", marks=pytest.mark.slow)])
def test_sigkill_at_any_moment_then_resume_equals_uninterrupted(tmp_path, strategy):
    budget, delay = 90, 0.004
    params = {"pop_size": 10} if strategy == "nsga2" else {}
    script = CHILD.format(delay=delay, strategy=strategy, params=params, budget=budget)
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    kills = 0
    for stop_at in (12, 47):  # kill twice, mid-generation
        proc = subprocess.Popen([sys.executable, "-c", script, str(out), "1" if kills else "0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while _history_rows(out / "history.csv") < stop_at and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, f"the search ended before it could be killed: {proc.stderr.read()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        kills += 1
    done = _history_rows(out / "history.csv")
    assert 47 <= done < budget
    before = read_csv(out / "history.csv") if (out / "history.csv").read_bytes().endswith(b"\n") else None
    cfg = config(out, budget=budget, strategy=strategy, resume=True, delay=delay)
    cfg.strategy_params = params
    SearchRun(cfg).run()
    rows = read_csv(out / "history.csv")
    assert len(rows) == budget
    assert len({r["key"] for r in rows}) == budget, "resume re-evaluated something already in history.csv"
    if before is not None:
        assert rows[: len(before)] == before, "resume rewrote finished rows"
    ref = config(tmp_path / "ref", budget=budget, strategy=strategy, delay=delay)
    ref.strategy_params = params
    SearchRun(ref).run()
    assert front_keys(out) == front_keys(tmp_path / "ref")
    assert [r["key"] for r in rows] == [r["key"] for r in read_csv(tmp_path / "ref" / "history.csv")]


def test_torn_last_line_is_dropped_but_corruption_is_refused(tmp_path):
    out = tmp_path / "run"
    SearchRun(config(out, budget=20)).run()
    hist = out / "history.csv"
    text = hist.read_text()
    hist.write_text(text + "20,0120")  # a kill mid-write
    SearchRun(config(out, budget=30, resume=True)).run()
    rows = read_csv(hist)
    assert len(rows) == 30 and len({r["key"] for r in rows}) == 30
    lines = hist.read_text().splitlines()
    lines[5] = lines[5].replace(",", ";", 3)
    hist.write_text("\n".join(lines) + "\n")
    with pytest.raises(CheckpointError, match="line 6"):
        SearchRun(config(out, budget=40, resume=True)).run()


def test_mismatched_or_corrupt_run_dir_errors(tmp_path):
    out = tmp_path / "run"
    SearchRun(config(out, budget=15)).run()
    with pytest.raises(ConfigError, match="--resume"):
        SearchRun(config(out, budget=15)).run()
    with pytest.raises(ConfigError, match="seed"):
        SearchRun(config(out, budget=20, seed=1, resume=True)).run()
    with pytest.raises(ConfigError, match="strategy"):
        SearchRun(config(out, budget=20, strategy="random", resume=True)).run()
    (out / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="state.json"):
        SearchRun(config(out, budget=20, resume=True)).run()
    (out / "search.json").write_text("[]")
    with pytest.raises(CheckpointError, match="not a oneshot search record"):
        SearchRun(config(out, budget=20, resume=True)).run()
    with pytest.raises(CheckpointError, match="nothing to resume"):
        SearchRun(config(tmp_path / "empty", budget=20, resume=True)).run()


def test_history_reader_rejects_other_space_columns(tmp_path):
    from oneshot.spaces import create_space

    path = tmp_path / "history.csv"
    path.write_text("eval_index,key,encoding,generation,a,b\n")
    with pytest.raises(CheckpointError, match="another space"):
        History(path, create_space("nas-bench-macro"), ["accuracy"]).load()


def test_cli_search_and_errors(tmp_path, capsys):
    from oneshot.cli.main import main

    out = tmp_path / "cli"
    rc = main(["search", "--benchmark", "nas-bench-macro", "--strategy", "random", "--objective", "accuracy:max",
               "--objective", "params:min", "--constraint", "params<=1.5M", "--budget", "25", "--out", str(out),
               "--no-progress", "-p", "batch_size=5"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "25 evaluations" in text and "best" in text
    assert all(float(r["params"]) <= 1.5e6 for r in read_csv(out / "history.csv"))
    assert main(["search", "--benchmark", "nas-bench-macro", "--constraint", "flops<=1M", "--out",
                 str(tmp_path / "x"), "--no-progress"]) == 2
    assert "smallest achievable macs" in capsys.readouterr().err
    assert main(["search", "--benchmark", "nas-bench-macro", "--objective", "speed:max", "--out",
                 str(tmp_path / "y"), "--no-progress"]) == 2
    assert "unknown metric 'speed'" in capsys.readouterr().err
    assert main(["search", "--benchmark", "nas-bench-macro", "--strategy", "annealing", "--out",
                 str(tmp_path / "z"), "--no-progress"]) == 2
    # Ray worker flags without Ray workers: one line naming the flags and the fix
    assert main(["search", "--benchmark", "nas-bench-macro", "--worker-threads", "2", "--eval-retries", "1",
                 "--out", str(tmp_path / "w"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--eval-retries, --worker-threads" in err and "--workers N" in err
    with pytest.raises(ConfigError, match="unknown Ray pool option"):
        SearchConfig(EvaluatorSpec("nas-bench-macro"), str(tmp_path / "v"), workers=2, pool_options={"gpus": 1})


def test_lut_prices_latency_budgets_and_objective(tmp_path):
    """--lut: latency_ms is priced from the table, budgets on it are respected, the LUT is hashed."""
    import oneshot.latency as lat
    from oneshot.costs.counting import op_cost
    from oneshot.spaces import create_space

    space = create_space("nas-bench-macro")
    # a synthetic table: 1 ms per 10M MACs of each operator, plus 0.5 ms fixed
    entries = {op.signature(): lat.Entry(op_cost(op)["macs"] / 1e7) for op in space.distinct_ops()}
    path = tmp_path / "lut.json"
    lat.LatencyTable(entries, constant_ms=0.5, provenance={"device": "synthetic"}).save(path)
    cfg = SearchConfig(EvaluatorSpec("nas-bench-macro"), str(tmp_path / "s"), strategy="random",
                       objectives=[parse_objective("accuracy:max"), parse_objective("latency_ms:min")],
                       constraints=[parse_constraint("latency_ms<=5")], budget=30, lut=str(path), progress=False)
    meta = SearchRun(cfg).run()
    rows = read_csv(tmp_path / "s" / "history.csv")
    assert len(rows) == 30 and all(float(r["latency_ms"]) <= 5.0 for r in rows)
    for r in rows[:5]:
        assert float(r["latency_ms"]) == pytest.approx(float(r["macs"]) / 1e7 + 0.5, rel=1e-6)
    assert len(meta["identity"]["files"]["lut"]["sha256"]) == 64
    with pytest.raises(ConfigError, match="--lut"):
        SearchRun(SearchConfig(EvaluatorSpec("nas-bench-macro"), str(tmp_path / "t"),
                               constraints=[parse_constraint("latency_ms<=5")], budget=5, progress=False)).run()


class _Spy:
    """NAS-Bench-Macro evaluator that logs every architecture it is asked to score to a file."""

    def __init__(self, log: str):
        from oneshot.evaluation.tabular import NASBenchMacroEvaluator

        self.inner = NASBenchMacroEvaluator()
        self.space, self.metric_names, self.log = self.inner.space, self.inner.metric_names, log

    def evaluate(self, archs):
        with open(self.log, "a") as fh:
            fh.writelines(self.space.encoding_key(a) + "\n" for a in archs)
        return self.inner.evaluate(archs)

    def close(self):
        pass


def make_spy(log: str) -> _Spy:
    return _Spy(log)


@pytest.mark.parametrize("strategy", ["random", "evolution", "nsga2"])
def test_evaluator_never_sees_over_budget_or_known_architectures(tmp_path, strategy):
    from oneshot.costs.counting import flops_params_table
    from oneshot.evaluation import register_evaluator
    from oneshot.spaces import create_space

    register_evaluator("spy-nbm", "tests.search.test_search_run:make_spy")
    log = tmp_path / "asked.txt"
    spec = EvaluatorSpec("spy-nbm", {"log": str(log)})
    params = {"random": {"batch_size": 7}, "evolution": {"population": 12, "top_k": 4, "mutations": 4,
                                                          "crossovers": 4}, "nsga2": {"pop_size": 8}}[strategy]
    for budget, resume in ((25, False), (50, True)):
        SearchRun(SearchConfig(spec, str(tmp_path / "run"), strategy=strategy, strategy_params=params,
                               objectives=OBJ, constraints=[parse_constraint("flops<=40M"),
                                                            parse_constraint("params<=1.5M")],
                               budget=budget, resume=resume, progress=False)).run()
    space = create_space("nas-bench-macro")
    asked = [space.parse(line) for line in log.read_text().split()]
    assert len(asked) == 50
    keys = [space.key(a) for a in asked]
    assert len(set(keys)) == 50, "an architecture was evaluated twice (across a resume)"
    costs = flops_params_table(space).price(__import__("numpy").asarray(asked))
    assert (costs["macs"] <= 40e6).all() and (costs["params"] <= 1.5e6).all()
    rejected = read_csv(tmp_path / "run" / "rejected.csv")
    assert rejected and not ({r["key"] for r in rejected} & set(keys))


class _BatchSpy(_Spy):
    """Records each call's whole batch on one line (an evaluator that takes generations at once)."""

    def evaluate_stream(self, archs):
        archs = list(archs)
        with open(self.log, "a") as fh:
            fh.write(",".join(self.space.encoding_key(a) for a in archs) + "\n")
        yield from self.inner.evaluate(archs)


def make_batch_spy(log: str) -> _BatchSpy:
    return _BatchSpy(log)


def test_whole_generations_reach_the_evaluator_sorted_by_encoding(tmp_path):
    from oneshot.evaluation import register_evaluator

    register_evaluator("batch-spy-nbm", "tests.search.test_search_run:make_batch_spy")
    log = tmp_path / "batches.txt"
    spec = EvaluatorSpec("batch-spy-nbm", {"log": str(log)})
    SearchRun(SearchConfig(spec, str(tmp_path / "run"), strategy="nsga2", strategy_params={"pop_size": 8},
                           objectives=OBJ, budget=40, progress=False)).run()
    batches = [line.split(",") for line in log.read_text().split()]
    assert sum(len(b) for b in batches) == 40 and max(len(b) for b in batches) > 1
    # neighbours in the prefix trie side by side: the scoring engine shares their prefixes
    assert all(b == sorted(b) for b in batches)


def test_bad_strategy_parameter_writes_nothing_and_the_corrected_command_runs(tmp_path, capsys):
    from oneshot.cli.main import main

    out = tmp_path / "run"
    assert main(["search", "--benchmark", "nas-bench-macro", "-p", "pop_size=0", "--budget", "4",
                 "--out", str(out), "--no-progress"]) == 2
    assert "pop_size must be >= 2" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
    assert main(["search", "--benchmark", "nas-bench-macro", "--budget", "4", "--out", str(out),
                 "--no-progress"]) == 0


def test_a_busy_run_directory_is_refused_and_a_dead_holder_taken_over(tmp_path):
    import subprocess
    import sys

    from oneshot.errors import ConfigError
    from oneshot.runlock import RunLock

    out = tmp_path / "run"
    cfg = SearchConfig(EvaluatorSpec("nas-bench-macro", {}), str(out), objectives=OBJ, budget=4, progress=False)
    with RunLock(out, "search"):  # another live search holds the directory
        with pytest.raises(ConfigError, match="is in use by another search"):
            SearchRun(cfg).run()
    assert not (out / "history.csv").exists()
    # a holder killed with SIGKILL leaves the lock file, never the lock
    code = (f"from oneshot.runlock import RunLock; import os, signal; RunLock(r'{out}').acquire(); "
            "os.kill(os.getpid(), signal.SIGKILL)")
    subprocess.run([sys.executable, "-c", code])
    assert SearchRun(cfg).run()["evaluations"] == 4


def test_a_history_with_a_duplicated_key_is_refused_on_resume(tmp_path):
    from oneshot.errors import CheckpointError

    out = tmp_path / "run"
    cfg = SearchConfig(EvaluatorSpec("nas-bench-macro", {}), str(out), objectives=OBJ, budget=6, progress=False)
    SearchRun(cfg).run()
    lines = (out / "history.csv").read_text().splitlines(keepends=True)
    (out / "history.csv").write_text("".join(lines + [lines[1]]))
    cfg = SearchConfig(EvaluatorSpec("nas-bench-macro", {}), str(out), objectives=OBJ, budget=8, resume=True,
                       progress=False)
    with pytest.raises(CheckpointError, match=r"line 8: key .* already recorded on line 2"):
        SearchRun(cfg).run()
