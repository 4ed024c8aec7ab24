"""Sweeps: several searches (or supernet trainings) as Ray Tune trials, merged into one table.

A sweep is a list of ``Trial`` objects, each a typed config of the library: a ``SearchConfig`` (run
by ``SearchRun``) or a ``TrainConfig`` (run by ``train_supernet``) writing into its own stable
directory ``OUT/trials/<slug>``. The command line builds them (``oneshot/cli/sweep.py``); nothing
here parses command-line flags.

A search trial runs in chunks of ``report_every`` evaluations (a larger budget and ``resume`` each
time); after each chunk it reports the summary ``SearchRun.run`` returned to Tune with a checkpoint
(a small JSON file), so Tune shows live progress and, when a trial fails, retries it
(``max_failures``). A training trial runs ``report_every`` epochs per chunk (``stop_after`` and
``resume``) and reports its last epoch record. The durable state is the run's own (a search's
history and state, a training checkpoint): a retried or resumed trial continues where it stopped and
never evaluates an architecture twice.

An interrupted sweep resumes with ``resume=True``: finished trials are kept, the others run again in
a fresh Tune experiment. We deliberately do not call ``Tuner.restore``: Tune's experiment state is
pickled, and oneshot never unpickles files handed to it; ``sweep.json`` and the trial directories
hold everything needed. When all trials are done, their fronts are merged into ``OUT/pareto.csv``
(a search sweep) or their last epochs into ``OUT/results.csv`` (a training sweep).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from oneshot.atomic import atomic_write_json, atomic_write_text
from oneshot.errors import ConfigError
from oneshot.search.run import SearchConfig, SearchRun, search_finished, search_status
from oneshot.training.config import TrainConfig

FORMAT = "oneshot-sweep/1"
#: what a training trial's last epoch record contributes to results.csv and the Tune reports
TRAIN_COLUMNS = ("epoch", "train_loss", "train_acc", "val_mean", "val_min", "val_max", "seconds")


@dataclass
class Trial:
    """One run of a sweep: its display name, directory slug, run directory ``out`` (``OUT/trials/<slug>``;
    a search's ``config.out`` too), what is swept, and its typed config."""

    name: str
    slug: str
    out: str
    config: SearchConfig | TrainConfig
    seed: int | None = None
    budget_constraint: str | None = None
    grid: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return "search" if isinstance(self.config, SearchConfig) else "train-supernet"


@dataclass
class SweepConfig:
    """A sweep: its directory, its trials, what identifies it for ``resume`` (the command and its
    shared arguments, saved in sweep.json), and how Tune runs the trials."""

    out: str
    trials: list[Trial]
    identity: dict[str, Any]
    concurrent: int | None = None
    cpus_per_trial: float = 1.0
    report_every: int | None = None
    max_failures: int = 1
    ray_address: str | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        if not self.trials:
            raise ConfigError("a sweep needs at least one trial")
        if len({t.command for t in self.trials}) != 1:
            raise ConfigError("the trials of one sweep run the same command")
        slugs = [t.slug for t in self.trials]
        if len(set(slugs)) != len(slugs):
            raise ConfigError(f"two trials would share a directory ({sorted(slugs)}); make the swept values "
                              f"differ in more than punctuation")
        checks = [(self.concurrent is None or self.concurrent >= 1, f"--concurrent must be >= 1, got {self.concurrent}"),
                  (self.cpus_per_trial > 0, f"--cpus-per-trial must be > 0, got {self.cpus_per_trial}"),
                  (self.report_every is None or self.report_every >= 1,
                   f"--report-every must be >= 1, got {self.report_every}"),
                  (self.max_failures >= 0, f"--max-failures must be >= 0, got {self.max_failures}")]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def command(self) -> str:
        return self.trials[0].command


# ---------------------------------------------------------------- a trial
def trial_dir(trial: Trial) -> Path:
    return Path(trial.out)


def trial_finished(trial: Trial) -> bool:
    """A search ran to its budget (or stopped for good before it); a training reached its last epoch."""
    if isinstance(trial.config, SearchConfig):
        return search_finished(trial.config.out, trial.config.budget)
    from oneshot.training.loop import training_progress

    log, epochs = training_progress(trial_dir(trial))
    return bool(log) and epochs is not None and int(log[-1].get("epoch", 0)) >= epochs


Report = Callable[[dict[str, Any]], None]


def run_trial(trial: Trial, report_every: int | None = None, report: Report | None = None) -> dict[str, Any]:
    """Run (or continue) one trial in chunks, calling ``report(metrics)`` after each chunk; returns
    the search summary or the last epoch record."""
    if isinstance(trial.config, SearchConfig):
        return _run_search_trial(trial.config, report_every, report)
    return _run_train_trial(trial.config, trial_dir(trial), report_every, report)


def _run_search_trial(config: SearchConfig, report_every: int | None, report: Report | None) -> dict[str, Any]:
    budget = config.budget
    every = report_every or max(1, math.ceil(budget / 4))
    summary: dict[str, Any] = {}
    for step in sorted({*range(every, budget, every), budget}):
        if step < budget and search_status(config.out)["strategy_evaluations"] >= step:
            continue  # this chunk was done before an interruption
        resume = (Path(config.out) / "search.json").exists()
        # front completion belongs to the finished search, not to every chunk of it
        chunk = dataclasses.replace(config, budget=step, resume=resume, progress=False,
                                    **({} if step == budget else {"complete": 0, "complete_rounds": 1}))
        summary = SearchRun(chunk).run()
        if report is not None:
            report({"evaluations": int(summary.get("evaluations", 0)),
                    "hypervolume": float(summary.get("hypervolume", 0.0)),
                    "front_size": int(summary.get("front_size", 0)), "failed": int(summary.get("failed", 0))})
        if summary.get("stopped_because", "budget") != "budget":
            break
    return summary


def _run_train_trial(config: TrainConfig, out: Path, report_every: int | None,
                     report: Report | None) -> dict[str, Any]:
    from oneshot.checkpoint import load_checkpoint
    from oneshot.training.loop import CHECKPOINT_NAME, train_supernet, training_progress

    done_before = -1
    while True:
        result = train_supernet(dataclasses.replace(config, progress=False), out,
                                resume=(out / CHECKPOINT_NAME).exists(), explicit=set(),
                                stop_after=int(report_every or 1), echo=lambda _msg: None)
        if not result.history or result.epochs_done <= done_before:
            raise RuntimeError(f"train-supernet made no progress in {out}; see its train_log.jsonl")
        done_before = result.epochs_done
        record = result.history[-1]
        if report is not None:
            report({k: record[k] for k in TRAIN_COLUMNS if isinstance(record.get(k), (int, float))})
        # the run's own planned epochs (config.yaml, else its checkpoint): a resumed run keeps its stored
        # epochs, and a trial that left --epochs unset gets the dataset's default, not None
        planned = training_progress(out)[1] or int(load_checkpoint(result.checkpoint)["config"]["epochs"])
        if result.epochs_done >= planned:
            return record


def tune_trainable(config: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
    """The Tune trainable of trial ``trials[config["trial"]]`` (Tune varies the index: its variant
    generator rewrites the objects of a parameter space). A Tune checkpoint only tells Tune how far
    the trial got before a retry; the trial directory holds the state, so a retry resumes there."""
    from ray import tune

    trial = trials[config["trial"]]

    def report(metrics: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory() as d:
            Path(d, "progress.json").write_text(json.dumps({**metrics, "trial_dir": str(trial_dir(trial))}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))

    run_trial(trial, config.get("report_every"), report)


# ---------------------------------------------------------------- a sweep
def _prepare(cfg: SweepConfig) -> dict[str, Any]:
    out = Path(cfg.out)
    path = out / "sweep.json"
    identity = {**cfg.identity, "trials": [t.name for t in cfg.trials]}
    if not cfg.resume:
        if path.exists():
            raise ConfigError(f"{out} already holds a sweep; pass --resume to continue it or choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        state = {"format": FORMAT, "identity": identity, "runs": []}
    else:
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"nothing to resume in {out}: sweep.json is missing; start the sweep without --resume") from None
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc})") from None
        if state.get("format") != FORMAT or state.get("identity") != identity:
            raise ConfigError(f"cannot resume {out}: it was started with another command, arguments or trials "
                              f"({state.get('identity')}); repeat the original command with --resume")
    state["runs"].append({"started": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    atomic_write_json(path, state, indent=2, sort_keys=True, end="\n")
    return state


def _sweep_columns(t: Trial) -> list[str]:
    return [t.name, "" if t.seed is None else str(t.seed)]


def merge_fronts(out: Path, trials: Sequence[Trial]) -> int:
    """Write ``out/pareto.csv``: every trial's front, with ``trial`` (and the swept values) first."""
    grid_flags = list(trials[0].grid) if trials else []
    header: list[str] | None = None
    rows: list[list[str]] = []
    for t in trials:
        path = trial_dir(t) / "pareto.csv"
        if not path.exists():
            continue
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            cols = next(reader, None)
            if cols is None:
                continue
            if header is None:
                header = cols
            elif cols != header:
                raise ConfigError(f"{path} has other columns than the first trial's front; the trials of a "
                                  f"sweep must search the same space with the same metrics")
            extra = [*_sweep_columns(t), t.budget_constraint or "", *(t.grid.get(f, "") for f in grid_flags)]
            rows.extend(extra + r for r in reader)
    _write_csv(out / "pareto.csv", ["trial", "seed", "budget_constraint", *grid_flags, *(header or [])], rows)
    return len(rows)


def merge_training(out: Path, trials: Sequence[Trial]) -> int:
    """Write ``out/results.csv``: each training trial's last epoch (loss, accuracies of its fixed
    monitored paths), one row per trial."""
    from oneshot.training.loop import training_progress

    grid_flags = list(trials[0].grid) if trials else []
    rows = []
    for t in trials:
        log, _ = training_progress(trial_dir(t))
        if log:
            rows.append([*_sweep_columns(t), *(t.grid.get(f, "") for f in grid_flags),
                         *("" if log[-1].get(c) is None else str(log[-1][c]) for c in TRAIN_COLUMNS)])
    _write_csv(out / "results.csv", ["trial", "seed", *grid_flags, *TRAIN_COLUMNS], rows)
    return len(rows)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue(), newline="")


def _trial_entry(t: Trial, errors: dict[str, str]) -> dict[str, Any]:
    done = trial_finished(t)
    entry = {"name": t.name, "dir": f"trials/{t.slug}", "seed": t.seed, "budget_constraint": t.budget_constraint,
             "grid": dict(t.grid), "status": "finished" if done else ("error" if t.slug in errors else "unfinished"),
             "error": errors.get(t.slug)}
    if t.command == "search":
        s = search_status(trial_dir(t))["summary"]
        entry.update({k: s.get(k) for k in ("evaluations", "hypervolume", "front_size", "best")})
    else:
        from oneshot.training.loop import training_progress

        log, _ = training_progress(trial_dir(t))
        entry.update({k: (log[-1].get(k) if log else None) for k in ("epoch", "train_loss", "val_mean")})
    return entry


def run_sweep(cfg: SweepConfig) -> dict[str, Any]:
    """Run the trials not finished yet as Tune trials, then merge their results; returns sweep.json."""
    out = Path(cfg.out).resolve()
    state = _prepare(cfg)
    pending = [t for t in cfg.trials if not trial_finished(t)]
    errors = _run_tune(cfg, out, pending, len(state["runs"])) if pending else {}
    state["trials"] = [_trial_entry(t, errors) for t in cfg.trials]
    if cfg.command == "search":
        state["front_rows"] = merge_fronts(out, cfg.trials)
    else:
        state["result_rows"] = merge_training(out, cfg.trials)
    state["runs"][-1]["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(out / "sweep.json", state, indent=2, sort_keys=True, end="\n")
    return state


def _run_tune(cfg: SweepConfig, out: Path, pending: list[Trial], run_no: int) -> dict[str, str]:
    # Tune's newer console output prints a banner and TensorBoard hints even at verbose=0; our own
    # table after the sweep is the summary
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray
    from ray import tune

    from oneshot.distributed.runtime import connect_ray, shutdown_ray

    owns = connect_ray(cfg.ray_address, num_cpus=os.cpu_count() or 1)
    try:
        cpus = ray.cluster_resources().get("CPU", 1.0)
        concurrent = cfg.concurrent or max(1, int(cpus // cfg.cpus_per_trial))
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(tune_trainable, trials=pending), {"cpu": cfg.cpus_per_trial}),
            param_space={"trial": tune.grid_search(list(range(len(pending)))), "report_every": cfg.report_every},
            tune_config=tune.TuneConfig(max_concurrent_trials=concurrent,
                                        trial_dirname_creator=lambda trial: pending[trial.config["trial"]].slug),
            run_config=tune.RunConfig(
                name=f"tune-{run_no}", storage_path=str(out), verbose=0,
                failure_config=tune.FailureConfig(max_failures=cfg.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
        errors = {}
        for result in tuner.fit():
            if result.error is not None:
                errors[pending[result.config["trial"]].slug] = str(result.error).strip().splitlines()[-1]
        return errors
    finally:
        if owns:
            shutdown_ray()
