"""``SearchRun``: ask, price, reject over-budget, evaluate the rest, tell, record, checkpoint.

Read top to bottom in ``run()``. The guarantees:

- costs are priced first for the whole batch (one vectorised gather); an architecture over budget is
  told to the strategy as infeasible and never evaluated;
- an architecture whose canonical key is already known (in ``history.csv``) is never evaluated again;
- every evaluation is appended to ``history.csv`` and flushed the moment it completes;
- after each generation the strategy state is written atomically to ``state.json``; a resumed run
  reloads it, asks the same next batch again and finds the evaluations that were already done in the
  history, so with a deterministic evaluator it ends with the same front as an uninterrupted run.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from oneshot.atomic import atomic_write_json
from oneshot.errors import CheckpointError, ConfigError
from oneshot.provenance import file_sha256, versions
from oneshot.evaluation.base import EvaluationResult, EvaluatorSpec, stream_results
from oneshot.spaces.core import Architecture, SearchSpace
from oneshot.strategies import WORST, Problem, Trial, create_strategy

from .completion import COMPLETION_GENERATION, DEFAULT_COMPLETION, candidate_matrix, propose_completion
from .front import front_and_hv
from .history import History, Row
from oneshot.costs.budgets import Constraint, best_achievable, check_budgets

from .objectives import Objective
from .smoothing import DEFAULT_SMOOTHING, SMOOTHERS
from .state import read_json

FORMAT = "oneshot-search/1"
#: metrics with a known range, used to normalise objectives for the hypervolume
KNOWN_RANGES = {"accuracy": (0.0, 100.0)}
_COST_TABLES: dict[tuple, object] = {}
MAX_REJECTED = 5000


@dataclass
class SearchConfig:
    """Everything a search needs; the CLI builds it from flags, library users directly."""

    evaluator: EvaluatorSpec
    out: str
    strategy: str = "nsga2"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    objectives: Sequence[Objective] = (Objective("accuracy", "max"),)
    constraints: Sequence[Constraint] = ()
    budget: int = 1000
    seed: int = 0
    resume: bool = False
    workers: int = 1
    ray_address: str | None = None
    #: RayEvaluatorPool options (cpus_per_worker, gpus_per_worker, threads_per_worker, batch_size,
    #: timeout_s, max_retries); only with workers > 1 or a ray_address
    pool_options: dict[str, Any] = field(default_factory=dict)
    lut: str | None = None
    supernet: str | None = None          # checkpoint path, hashed into the provenance
    progress: bool = True
    max_idle_generations: int = 50       # stop when this many generations bring nothing new
    #: how the front treats the evaluator's scores: "additive" fits an additive model of the choices
    #: to every evaluated architecture's score and ranks by the fit (oneshot.search.smoothing),
    #: "none" ranks by the raw scores; None = "additive" for estimates (a supernet's), else "none".
    #: Not part of the run's identity: `--resume` with another value rewrites the front.
    smoothing: str | None = None
    #: a landmarks CSV (oneshot.search.landmarks): the smoothed fit's layers are reweighted by the
    #: depth trend of these stand-alone accuracies. Not part of the run's identity either.
    landmarks: str | None = None
    #: after the budget, evaluate up to this many networks that the fitted model puts on the front
    #: but the strategy never evaluated (oneshot.search.completion); None = DEFAULT_COMPLETION with
    #: landmarks, else 0. Not part of the run's identity: `--resume` of a finished search completes it.
    complete: int | None = None
    #: completion rounds: each refits with the earlier rounds' scores and proposes again, until nothing
    #: new is on the fitted front or ``complete`` evaluations are spent
    complete_rounds: int = 1

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ConfigError(f"--budget must be a positive number of evaluations, got {self.budget}")
        if not self.objectives:
            raise ConfigError("give at least one --objective, e.g. accuracy:max")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        unknown = set(self.pool_options) - set(POOL_OPTIONS)
        if unknown:
            raise ConfigError(f"unknown Ray pool option(s) {sorted(unknown)}; valid: {', '.join(POOL_OPTIONS)}")
        if self.pool_options and self.workers == 1 and not self.ray_address:
            raise ConfigError(f"{', '.join(POOL_OPTIONS[k] for k in sorted(self.pool_options))} set the Ray "
                              f"workers, but --workers 1 evaluates in this process: add --workers N (N > 1) "
                              f"or --ray-address")
        if self.smoothing is not None:
            SMOOTHERS.check(self.smoothing, "--smoothing")
        if self.landmarks is not None and self.smoothing == "none":
            raise ConfigError("--landmarks corrects the smoothed fit of the scores; drop --smoothing none")
        if self.complete_rounds < 1:
            raise ConfigError(f"--complete-rounds must be >= 1, got {self.complete_rounds}")
        if self.complete_rounds > 1 and not self.complete and (self.complete is not None or not self.landmarks):
            raise ConfigError(f"--complete-rounds {self.complete_rounds} needs a completion: pass --complete N "
                              f"(or --landmarks, whose default is {DEFAULT_COMPLETION})")
        if self.complete is not None and self.complete < 0:
            raise ConfigError(f"--complete must be >= 0 evaluations, got {self.complete}")
        if self.complete and self.smoothing == "none":
            raise ConfigError("--complete evaluates the networks the smoothed fit puts on the front; drop "
                              "--smoothing none or pass --complete 0")
        if self.complete and self.smoothing is None and not self.evaluator.scores_are_estimates():
            # exact scores (a benchmark table) are ranked raw: there is no fit to propose from
            raise ConfigError("--complete evaluates the networks the smoothed fit puts on the front, and this "
                              "evaluator's scores are ranked raw; pass --smoothing additive or --complete 0")
        names = [o.metric for o in self.objectives]
        if len(set(names)) != len(names):
            raise ConfigError(f"objective metrics repeat: {names}")


#: RayEvaluatorPool keyword -> the `oneshot search` flag that sets it
POOL_OPTIONS = {"cpus_per_worker": "--worker-cpus", "gpus_per_worker": "--worker-gpus",
                "threads_per_worker": "--worker-threads", "batch_size": "--eval-batch",
                "timeout_s": "--eval-timeout", "max_retries": "--eval-retries"}


def search_status(out: str | os.PathLike) -> dict[str, Any]:
    """How far the search in ``out`` got: ``evaluations`` (complete rows of history.csv),
    ``strategy_evaluations`` (those the strategy spent of ``--budget``; front completion's come on
    top) and ``summary`` (search.json as last written; ``stopped_because`` is set once a run has
    finished)."""
    import csv
    import io

    out = Path(out)
    evaluations = strategy = 0
    if (out / "history.csv").exists():
        data = (out / "history.csv").read_bytes()
        complete = data[:data.rfind(b"\n") + 1].decode("utf-8", errors="replace")  # a torn last row is not done
        reader = csv.reader(io.StringIO(complete))
        header = next(reader, [])
        column = header.index("generation") if "generation" in header else None
        for row in reader:
            evaluations += 1
            strategy += column is None or column >= len(row) or row[column] != str(COMPLETION_GENERATION)
    try:
        summary = read_json(out / "search.json", "search provenance") if (out / "search.json").exists() else {}
    except CheckpointError:
        summary = {}
    return {"evaluations": evaluations, "strategy_evaluations": strategy,
            "summary": summary if isinstance(summary, dict) else {}}


def search_finished(out: str | os.PathLike, budget: int) -> bool:
    """The search in ``out`` ran to ``budget`` evaluations, or stopped for good before (strategy finished)."""
    summary = search_status(out)["summary"]
    if "stopped_because" not in summary:
        return False
    spent = summary.get("strategy_evaluations", summary.get("evaluations", 0))  # runs before completion
    return int(spent) >= budget or summary["stopped_because"] != "budget"


def _comparable(key: str, value: Any) -> Any:
    """An identity entry as --resume compares it: an evaluator option set to None is the same as an
    option not given (its default applies either way)."""
    if key == "evaluator" and isinstance(value, dict):
        return {**value, "options": {k: v for k, v in value.get("options", {}).items() if v is not None}}
    return value


def _files_changed(saved: Any, now: dict[str, Any]) -> str:
    """The identity's files that differ, as one phrase (``benchmark /x.csv changed since ...``)."""
    saved = saved if isinstance(saved, dict) else {}
    parts = []
    for name in sorted(set(saved) | set(now)):
        old, new = saved.get(name), now.get(name)
        if old == new:
            continue
        if old and new and old.get("path") == new.get("path"):
            parts.append(f"{name} {new['path']} changed since the run started (sha256 {str(old.get('sha256'))[:12]} "
                         f"now {str(new.get('sha256'))[:12]})")
        else:
            parts.append(f"{name}: saved {(old or {}).get('path')!r} vs now {(new or {}).get('path')!r}")
    return "; ".join(parts)


class SearchRun:
    """One search writing into ``config.out``; ``run()`` returns the summary also saved in search.json."""

    def __init__(self, config: SearchConfig):
        self.config = config
        self.out = Path(config.out)
        self.evaluator = None
        self.summary: dict[str, Any] = {}
        #: what front completion did this run (search.json ``completion``)
        self._completion: dict[str, int] = {"size": 0, "rounds": 0, "proposed": 0, "evaluated": 0}
        self._completed = 0  # completion rows in the history (generation COMPLETION_GENERATION)

    # ------------------------------------------------------------ set-up
    def _make_evaluator(self):
        c = self.config
        if c.workers > 1 or c.ray_address:
            from oneshot.evaluation.ray_pool import RayEvaluatorPool

            return RayEvaluatorPool(c.evaluator, workers=c.workers, ray_address=c.ray_address, **c.pool_options)
        return c.evaluator.create()

    def _cost_table(self, space):
        c = self.config
        # building a table runs every distinct operator once; repeated searches in one process
        # (benchmarks, notebooks) reuse it
        if c.lut and not os.path.isfile(c.lut):
            raise ConfigError(f"--lut {c.lut}: no such file; create a table with `oneshot lut profile` or "
                              f"`oneshot lut import`")
        lut_stamp = (str(c.lut), os.stat(c.lut).st_mtime_ns) if c.lut else None
        memo_key = (space.fingerprint(), lut_stamp)
        if memo_key not in _COST_TABLES:
            _COST_TABLES[memo_key] = self._build_cost_table(space)
        return _COST_TABLES[memo_key]

    def _build_cost_table(self, space):
        c = self.config
        if c.lut:
            from oneshot.costs.pricing import cost_model

            return cost_model(space, c.lut)
        from oneshot.costs.counting import flops_params_table

        return flops_params_table(space)

    def _identity(self, space) -> dict[str, Any]:
        """What must match for --resume to continue this run (budget and workers may change)."""
        c = self.config
        files = {}
        benchmark = c.evaluator.options.get("path") if c.evaluator.kind == "table" else None
        for name, path in (("supernet", c.supernet), ("lut", c.lut), ("benchmark", benchmark)):
            if path:
                files[name] = {"path": os.path.abspath(path), "sha256": file_sha256(path)}
        return {"space": space.to_json(), "space_fingerprint": space.fingerprint(),
                "evaluator": c.evaluator.to_json(), "strategy": c.strategy,
                "strategy_params": dict(c.strategy_params), "seed": c.seed,
                "objectives": [str(o) for o in c.objectives], "constraints": [str(k) for k in c.constraints],
                "files": files}

    def _prepare_dir(self, identity: dict[str, Any]) -> dict[str, Any] | None:
        """Create or check the run directory; returns the saved strategy state when resuming."""
        meta_path, state_path = self.out / "search.json", self.out / "state.json"
        if not self.config.resume:
            if meta_path.exists() or (self.out / "history.csv").exists():
                raise ConfigError(f"{self.out} already holds a search; pass --resume to continue it or "
                                  f"choose another --out")
            self.out.mkdir(parents=True, exist_ok=True)
            return None
        if not meta_path.exists():
            raise CheckpointError(f"nothing to resume in {self.out}: search.json is missing; start a new "
                                  f"search without --resume")
        saved = read_json(meta_path, "search provenance")
        if not isinstance(saved, dict) or saved.get("format") != FORMAT or "identity" not in saved:
            raise CheckpointError(f"{meta_path} is not a oneshot search record (format {FORMAT})")
        diffs = [k for k in identity if _comparable(k, saved["identity"].get(k)) != _comparable(k, identity[k])]
        if diffs:
            detail = "; ".join(_files_changed(saved["identity"].get(k), identity[k]) if k == "files"
                               else f"{k}: saved {saved['identity'].get(k)!r} vs now {identity[k]!r}"
                               for k in diffs if k != "space")
            raise ConfigError(f"cannot resume {self.out}: it was started with different settings "
                              f"({', '.join(diffs)}{': ' + detail if detail else ''}); use the same options "
                              f"or another --out")
        if not state_path.exists():
            return None  # killed before the first generation finished: the history alone is enough
        state = read_json(state_path, "strategy state")
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{state_path} is not a oneshot search state (format {FORMAT})")
        return state

    # --------------------------------------------------------------- run
    def run(self) -> dict[str, Any]:
        from oneshot.allocator import pin_unless_opted_out

        # evaluation in this process (and priced batches) allocate the same large buffers over and
        # over: keep them mapped (oneshot/allocator.py); ONESHOT_ALLOCATOR=default opts out
        self._allocator = pin_unless_opted_out()
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out} is a file; give a directory for the run")
        self._lock = None
        self.evaluator = evaluator = self._make_evaluator()
        try:
            return self._run(evaluator)
        finally:
            if self._lock is not None:
                self._lock.release()
            evaluator.close()

    def _run(self, evaluator) -> dict[str, Any]:
        c = self.config
        space = evaluator.space
        self._landmarks(space)  # a bad landmarks file fails now, not after the search's evaluations
        table = self._cost_table(space)
        lookup = c.evaluator.cost_lookup()
        if lookup:  # a benchmark file's cost columns: priced per architecture, budgets included
            from oneshot.costs.lookup import LookupCosts

            table = LookupCosts(table, lookup, str(c.evaluator.options.get("path", c.evaluator.kind)))
        metric_names, bounds, problem, strategy = self._problem(evaluator, table)
        identity = self._identity(space)
        state = self._prepare_dir(identity)
        # one search per directory: a second search or --resume on it is refused while this one runs
        # (taken after every check, so a refused command writes nothing; checked again once held, for
        # a search that started in between)
        from oneshot.runlock import RunLock

        self._lock = RunLock(self.out, "search").acquire()
        if not c.resume and (self.out / "search.json").exists():
            raise ConfigError(f"{self.out} already holds a search; pass --resume to continue it or choose "
                              f"another --out")
        meta = self._write_meta(identity, evaluator, table, bounds, state)
        generation = self._restore(strategy, state)
        history = History(self.out / "history.csv", space, metric_names)
        known: dict[str, Row] = {r.key: r for r in history.load()}
        # counted once: completion appends only after the strategy's loop, so during it every new row
        # is the strategy's (``_spent`` stays O(1) on the per-generation path)
        self._completed = sum(1 for r in history.rows if r.generation == COMPLETION_GENERATION)
        self._rows = history.rows
        ranges = self._ranges(bounds)
        bar = self._progress(self._spent(history))
        idle = 0
        finished_by = "budget"
        try:
            while self._spent(history) < c.budget:
                outcome = self._generation(strategy, problem, table, evaluator, history, known, generation, bar, ranges)
                if outcome == "strategy finished":
                    finished_by = outcome
                    break
                if outcome == "budget":  # the budget ended inside this generation
                    break
                generation += 1
                idle = 0 if outcome else idle + 1
                if idle >= c.max_idle_generations:
                    finished_by = f"no new architecture in {idle} generations"
                    break
            bar.close()
            smoothed = self._smoothed_objectives(evaluator, table)
            self._complete(evaluator, space, table, history, known, metric_names, ranges, smoothed)
        finally:
            bar.close()
            history.close()
        return self._finish(evaluator, space, history, metric_names, ranges, meta, finished_by, generation, strategy,
                            smoothed)

    def _problem(self, evaluator, table):
        """Check the objectives and budgets against what is priced and evaluated, then build the
        strategy (so every -p parameter is checked before anything is written: a bad parameter must
        not leave a search.json that refuses the corrected command)."""
        c = self.config
        space = evaluator.space
        cost_metrics = tuple(table.metrics)
        eval_metrics = tuple(m for m in evaluator.metric_names if m not in cost_metrics)
        metric_names = eval_metrics + cost_metrics
        for o in c.objectives:
            if o.metric not in metric_names:
                raise ConfigError(f"objective {o}: unknown metric {o.metric!r}; this search has "
                                  f"{', '.join(metric_names)}" + (" (pass --lut for latency_ms)"
                                                                  if o.metric == "latency_ms" else ""))
        bounds = table.bounds()
        check_budgets(c.constraints, bounds, space.name)
        problem = Problem(space, len(c.objectives),
                          constraints=(lambda m: self._violations(table, m)) if c.constraints else None,
                          constraint_names=tuple(str(k) for k in c.constraints),
                          best_achievable=best_achievable(c.constraints, bounds),
                          observer=self._rejected_observer(table, space) if c.constraints else None)
        strategy = create_strategy(c.strategy, problem, seed=c.seed, **c.strategy_params)
        return metric_names, bounds, problem, strategy

    def _write_meta(self, identity, evaluator, table, bounds, state) -> dict[str, Any]:
        """search.json at the start (provenance; a resumed run keeps its first start time)."""
        c = self.config
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        meta = {"format": FORMAT, "identity": identity, "started": started, "allocator": self._allocator,
                "budget": c.budget, "workers": c.workers, "ray_address": c.ray_address,
                "pool_options": dict(c.pool_options),
                "evaluator_info": getattr(evaluator, "describe", lambda: {})(),
                "cost_conventions": getattr(table, "convention", {}), "cost_bounds": bounds,
                "versions": versions(), "command": " ".join(sys.argv)}
        if state is not None or (self.out / "search.json").exists():
            prev = read_json(self.out / "search.json", "search provenance")
            meta["started"] = prev.get("started", started)
            meta["resumed"] = prev.get("resumed", []) + [started]
        atomic_write_json(self.out / "search.json", meta)
        return meta

    def _restore(self, strategy, state: dict[str, Any] | None) -> int:
        """Load the saved strategy state; returns the generation to continue from."""
        if state is None:
            return 0
        try:
            strategy.load_state_dict(state["strategy"])
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{self.out / 'state.json'} does not match this search ({exc}); "
                                  f"use another --out") from None
        return int(state["generation"])

    def _generation(self, strategy, problem, table, evaluator, history: History, known: dict[str, Row],
                    generation: int, bar, ranges) -> int | str:
        """Ask one batch, price it, evaluate what is new and within budget, tell, save the state.
        Returns the number of new evaluations, or why the search stops ("strategy finished", or
        "budget" when the budget ends inside this generation)."""
        c = self.config
        space = evaluator.space
        batch = strategy.ask()
        if not batch:
            return "strategy finished"
        matrix = np.asarray(batch, dtype=np.int64).reshape(-1, len(space))
        costs = table.price(matrix)                       # one gather for the whole batch
        G = self._violations_from_costs(costs, len(batch))
        keys = [space.key(a) for a in batch]
        if problem.observer is not None and np.any(G > 0):
            problem.observer(matrix, ~np.any(G > 0, axis=1))
        todo, truncated = self._select(batch, keys, G, known, self._spent(history))
        position = {tuple(batch[i]): i for i in todo}
        by_key = {keys[i]: i for i in todo}
        new = 0
        for result in stream_results(evaluator, [batch[i] for i in todo]):
            i = position.get(tuple(int(v) for v in result.arch))
            if i is None:  # an evaluator may answer with an equivalent encoding
                i = by_key[space.key(result.arch)]
            row = self._row(result, keys[i], batch[i], generation, costs, i, len(history.rows))
            history.append(row)
            known[keys[i]] = row
            new += 1
            bar.update(1)
            self._show(bar, history.rows, ranges)
        if truncated:
            # the budget ends inside this generation: do not tell a partial generation, so the saved
            # state stays at its start and a resume with a larger --budget asks the same batch again
            # (its finished evaluations come from the history)
            return "budget"
        trials = []
        for i, arch in enumerate(batch):
            if np.any(G[i] > 0):
                trials.append(Trial(Architecture(arch), np.full(len(c.objectives), WORST), G[i]))
            elif keys[i] in known:
                trials.append(self._trial(known[keys[i]], G[i]))
        strategy.tell(trials)
        atomic_write_json(self.out / "state.json", {"format": FORMAT, "generation": generation + 1,
                                                    "evaluations": self._spent(history),
                                                    "strategy": strategy.state_dict()}, compact=True)
        return new

    def _complete(self, evaluator, space: SearchSpace, table, history: History, known: dict[str, Row],
                  metric_names: Sequence[str], ranges, smoothed: Sequence[str]) -> None:
        """Evaluate the networks the fitted model puts on the front that the strategy never evaluated
        (``oneshot.search.completion``), in up to ``complete_rounds`` rounds: each round is proposed
        from the strategy's rows and the earlier rounds' proposals alone, so that a resumed run
        proposes the same ones; recorded with generation COMPLETION_GENERATION. Over the run's life
        at most ``n`` completion evaluations exist: a resume that proposes anew (more strategy rows,
        other landmarks) evaluates only what the cap leaves."""
        from tqdm import tqdm

        from .outputs import smoothed_view

        n = self._completion_size()
        self._completion = {"size": n, "rounds": 0, "proposed": 0, "evaluated": self._completed}
        if not n or not smoothed or self._completed >= n:
            return
        marks = self._landmarks(space)
        candidates = candidate_matrix(space, self.config.seed)

        def priced(matrix):
            costs = table.price(matrix)
            return costs, ~np.any(self._violations_from_costs(costs, len(matrix)) > 0, axis=1)

        def view(rows):
            fitted, objectives, _, fitted_ranges, _ = smoothed_view(
                space, rows, list(self.config.objectives), metric_names, ranges, smoothed, self._smoothing(), marks)
            return fitted, objectives, fitted_ranges

        used = [r for r in history.rows if r.generation != COMPLETION_GENERATION]
        with tqdm(total=n, initial=self._completed, desc="completion", unit="eval", disable=not self.config.progress,
                  dynamic_ncols=True, file=sys.stderr) as bar:
            for _ in range(self.config.complete_rounds):
                proposals = propose_completion(space, used, candidates, priced, view,
                                               n - self._completion["proposed"])
                if not proposals:
                    break
                self._completion["rounds"] += 1
                self._completion["proposed"] += len(proposals)
                todo = [a for a in proposals if space.key(a) not in known][:max(0, n - self._completed)]
                self._evaluate_completion(evaluator, space, table, history, known, todo, bar)
                used += [known[space.key(a)] for a in proposals if space.key(a) in known]
                if self._completed >= n:
                    break
        self._completion["evaluated"] = self._completed

    def _evaluate_completion(self, evaluator, space: SearchSpace, table, history: History, known: dict[str, Row],
                             todo: list[Architecture], bar) -> None:
        """Evaluate one completion round and append its rows (generation COMPLETION_GENERATION)."""
        if not todo:
            return
        costs = table.price(np.asarray(todo, dtype=np.int64).reshape(-1, len(space)))
        by_key = {space.key(a): i for i, a in enumerate(todo)}
        for result in stream_results(evaluator, todo):
            i = by_key[space.key(result.arch)]
            row = self._row(result, space.key(todo[i]), todo[i], COMPLETION_GENERATION, costs, i, len(history.rows))
            history.append(row)
            known[row.key] = row
            self._completed += 1
            bar.update(1)

    def _spent(self, history: History) -> int:
        """Evaluations the strategy spent of ``--budget``; front completion's come on top of it."""
        return len(history.rows) - self._completed

    def _completion_size(self) -> int:
        c = self.config
        return c.complete if c.complete is not None else (DEFAULT_COMPLETION if c.landmarks else 0)

    def _select(self, batch, keys: list[str], G: np.ndarray, known: dict[str, Row], done: int) -> tuple[list[int], bool]:
        """Indices of the batch to evaluate (within budget, not known, not twice) and whether the
        budget cut the generation. The generation in encoding order, neighbours in the prefix trie
        side by side: the scoring engine (and each Ray worker's share of it) computes a shared prefix
        once. Sorted before the budget cuts it, so an interrupted run resumes in the same order."""
        todo: list[int] = []
        planned: set[str] = set()
        for i in sorted(range(len(keys)), key=lambda j: tuple(int(v) for v in batch[j])):
            key = keys[i]
            if np.any(G[i] > 0) or key in known or key in planned:
                continue
            if done + len(todo) >= self.config.budget:
                return todo, True
            todo.append(i)
            planned.add(key)
        return todo, False

    def _finish(self, evaluator, space, history: History, metric_names, ranges, meta: dict[str, Any],
                finished_by: str, generation: int, strategy, smoothed: Sequence[str]) -> dict[str, Any]:
        """Front, plot and best architecture (``smoothed`` objectives ranked by their fit); search.json."""
        from .outputs import write_outputs

        c = self.config
        summary = write_outputs(self.out, space, history.rows, list(c.objectives), list(c.constraints),
                                metric_names, ranges, smoothed=smoothed, smoother=self._smoothing(),
                                landmarks=self._landmarks(space) if smoothed else None)
        if hasattr(evaluator, "describe"):  # again at the end: pools report their retry/failure counters
            meta["evaluator_info"] = evaluator.describe()
        meta.update({"finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "stopped_because": finished_by, "generations": generation,
                     "strategy_parameters": strategy.params(), **summary,
                     "strategy_evaluations": self._spent(history), "completion": self._completion})
        atomic_write_json(self.out / "search.json", meta)
        self.summary = meta
        return meta

    # ----------------------------------------------------------- helpers
    def _smoothing(self) -> str:
        c = self.config
        return c.smoothing or (DEFAULT_SMOOTHING if c.evaluator.scores_are_estimates() else "none")

    def _landmarks(self, space):
        """The landmarks' (architectures, accuracies), read and checked against ``space``; None without."""
        if self.config.landmarks is None:
            return None
        from .landmarks import read_landmarks

        return read_landmarks(self.config.landmarks, space)

    def _smoothed_objectives(self, evaluator, table) -> list[str]:
        """Objective metrics the front ranks by their fit: the evaluator's scores, never a priced cost."""
        if self._smoothing() == "none":
            return []
        scored = set(evaluator.metric_names) - set(table.metrics)
        return [o.metric for o in self.config.objectives if o.metric in scored]

    def _rejected_observer(self, table, space):
        """Record over-budget candidates (priced, never evaluated) in rejected.csv, for the plot and
        the record: at most ``MAX_REJECTED`` distinct networks; readers de-duplicate by key (a
        resumed run may repeat a few)."""
        path = self.out / "rejected.csv"
        logged: set[str] = set()
        if path.exists():
            from .outputs import read_rejected

            logged = set(read_rejected(path))

        def observe(matrix: np.ndarray, ok: np.ndarray) -> None:
            if len(logged) >= MAX_REJECTED:
                return
            bad = matrix[~ok][: MAX_REJECTED - len(logged)]
            costs = table.price(bad, validate=False)
            lines = []
            for i, row in enumerate(bad):
                key = space.key(row)
                if key not in logged:
                    logged.add(key)
                    lines.append(",".join([key, *(repr(float(costs[m][i])) for m in table.metrics)]))
            if lines:
                new = not path.exists()
                with open(path, "a", encoding="utf-8") as fh:
                    if new:
                        fh.write(",".join(["key", *table.metrics]) + "\n")
                    fh.write("\n".join(lines) + "\n")

        return observe

    def _violations(self, table, matrix: np.ndarray) -> np.ndarray:
        return self._violations_from_costs(table.price(matrix, validate=False), len(matrix))

    def _violations_from_costs(self, costs: dict[str, np.ndarray], n: int) -> np.ndarray:
        if not self.config.constraints:
            return np.zeros((n, 0))
        return np.stack([k.violation(costs[k.metric]) for k in self.config.constraints], axis=1)

    def _row(self, result: EvaluationResult, key: str, arch, generation: int, costs, i: int, index: int) -> Row:
        metrics = {m: float(v) for m, v in result.metrics.items() if np.isfinite(v)} if result.ok else {}
        for m, values in costs.items():
            metrics[m] = float(values[i])
        error = result.error or ""
        missing = [o.metric for o in self.config.objectives if o.metric not in metrics]
        if not error and missing:
            error = f"evaluator returned no {', '.join(missing)}"
        return Row(index, key, Architecture(arch), generation, metrics, feasible=not error,
                   seconds=float(result.seconds), error=error)

    def _trial(self, row: Row, violation: np.ndarray) -> Trial:
        if row.error:
            return Trial(row.arch, np.full(len(self.config.objectives), WORST), violation, failed=True)
        f = np.asarray([o.sign * row.metrics[o.metric] for o in self.config.objectives], dtype=np.float64)
        return Trial(row.arch, f, violation)

    def _ranges(self, bounds: dict[str, tuple[float, float]]) -> list[tuple[float, float] | None]:
        return [KNOWN_RANGES.get(o.metric) or bounds.get(o.metric) for o in self.config.objectives]

    def _progress(self, initial: int):
        from tqdm import tqdm

        return tqdm(total=self.config.budget, initial=initial, desc="search", unit="eval",
                    disable=not self.config.progress, dynamic_ncols=True, file=sys.stderr)

    def _show(self, bar, rows: list[Row], ranges) -> None:
        if bar.disable or (bar.n % 5 and bar.n != self.config.budget):
            return
        front, hv = front_and_hv(rows, self.config.objectives, ranges)
        bar.set_postfix(front=len(front), hv=f"{hv:.4f}", refresh=False)
