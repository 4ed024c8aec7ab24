"""The grammar of ``oneshot sweep``: ``--seeds``, ``--sweep-budget`` and ``--grid FLAG=V1,V2`` and the
per-trial command-line arguments they produce (their product), each parsed by the command's own
parser. ``oneshot/cli/sweep.py`` turns every trial's arguments into the library's typed config."""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import re
from typing import Any, Sequence

from oneshot.errors import ConfigError

_UNITS = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9}


# ---------------------------------------------------------------- the grid
def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or a range ``"0:4"`` (4 excluded) / ``"0:10:2"`` -> list of seeds."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            seeds = list(range(*parts))
        else:
            seeds = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give a list '0,1,2' or a range 'START:STOP[:STEP]' "
                          f"(STOP excluded)") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: gives {seeds}; need at least one seed, without repeats")
    return seeds


def _number(text: str, flag: str) -> tuple[float, str]:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMG]?)\s*", text)
    if not m:
        raise ConfigError(f"{flag}: {text!r} is not a number (units K, M, G allowed), e.g. 40M")
    return float(m.group(1)) * _UNITS[m.group(2)], m.group(2)


def _format(value: float, unit: str) -> str:
    return f"{value / _UNITS[unit]:g}{unit}"


def parse_budget_sweep(text: str) -> list[str]:
    """``"flops<=40M,60M,80M"`` or an inclusive range ``"latency_ms<=10:20:5"`` -> constraint strings
    (``["flops<=40M", ...]``), each checked by the search's own constraint parser."""
    from oneshot.costs.budgets import parse_constraint  # the one budget grammar

    m = re.fullmatch(r"\s*([A-Za-z_]+\s*(?:<=|>=|<|>))\s*(.+)", text)
    flag = f"--sweep-budget {text!r}"
    if not m:
        raise ConfigError(f"{flag}: write METRIC<=V1,V2,... or METRIC<=START:STOP:STEP, e.g. 'flops<=40M,60M,80M'")
    head, values = m.group(1).replace(" ", ""), m.group(2)
    if ":" in values:
        parts = values.split(":")
        if len(parts) != 3:
            raise ConfigError(f"{flag}: a range is START:STOP:STEP (STOP included), e.g. 10:20:5")
        (start, unit), (stop, _), (step, _) = (_number(p, flag) for p in parts)
        if step <= 0 or stop < start:
            raise ConfigError(f"{flag}: need STEP > 0 and STOP >= START")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        if n > 1000:
            raise ConfigError(f"{flag}: {n} values; a sweep of more than 1000 trials is surely a typo")
        items = [_format(start + i * step, unit) for i in range(n)]
    else:
        items = [v.strip() for v in values.split(",") if v.strip()]
    out = [f"{head}{v}" for v in items]
    for c in out:
        parse_constraint(c)  # raises naming the bad value
    if len(set(out)) != len(out):
        raise ConfigError(f"{flag}: values repeat ({out})")
    return out


def _slug(text: str) -> str:
    text = text.replace("<=", "-le-").replace(">=", "-ge-").replace("<", "-lt-").replace(">", "-gt-")
    text = text.replace(",", "_").replace("=", "-")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def parse_grid(text: str) -> tuple[str, list[str]]:
    """``"lr=0.1,0.05"`` -> ``("lr", ["0.1", "0.05"])``: one trial per value of ``--lr``."""
    m = re.fullmatch(r"\s*-{0,2}([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.+)", text)
    values = [v.strip() for v in m.group(2).split(",") if v.strip()] if m else []
    if not values:
        raise ConfigError(f"--grid {text!r}: write FLAG=V1,V2,... (FLAG without dashes), e.g. lr=0.1,0.05")
    if len(set(values)) != len(values):
        raise ConfigError(f"--grid {text!r}: values repeat")
    return m.group(1), values


def build_trials(command_args: Sequence[str], seeds: Sequence[int] | None,
                 budgets: Sequence[str] | None,
                 grid: Sequence[tuple[str, list[str]]] = ()) -> list[dict[str, Any]]:
    """One trial per combination of seed, budget and grid values (their product): its display
    name, directory slug and the command's arguments."""
    import itertools

    axes: list[list[tuple[str, str, list[str]]]] = []  # per axis: (name part, column value, args)
    if seeds:
        axes.append([(f"seed={s}", str(s), ["--seed", str(s)]) for s in seeds])
    if budgets:
        axes.append([(b, b, ["--constraint", b]) for b in budgets])
    for flag, values in grid:
        axes.append([(f"{flag}={v}", v, [f"--{flag}", v]) for v in values])
    trials = []
    for combo in itertools.product(*axes):
        name = ",".join(part for part, _, _ in combo)
        args = list(command_args) + [a for _, _, extra in combo for a in extra]
        trial = {"name": name, "slug": _slug(name), "args": args,
                 "seed": int(combo[0][1]) if seeds else None,
                 "budget_constraint": combo[1 if seeds else 0][1] if budgets else None}
        trial["grid"] = {flag: part.split("=", 1)[1]
                         for (flag, _), (part, _, _) in zip(grid, combo[len(combo) - len(grid):])}
        trials.append(trial)
    return trials


# ------------------------------------------------------- command args
#: commands a sweep can run, and the CLI module that defines each one's arguments
COMMANDS = {"search": "search", "train-supernet": "train_supernet"}


def _cli(command: str):
    import importlib

    if command not in COMMANDS:
        raise ConfigError(f"a sweep runs one of {', '.join(COMMANDS)}, not {command!r}")
    return importlib.import_module(f"oneshot.cli.{COMMANDS[command]}")


def parse_command_args(args: Sequence[str], out: str, command: str = "search") -> argparse.Namespace:
    """Parse a trial's arguments with the command's own parser (ConfigError instead of an exit)."""
    parser = argparse.ArgumentParser(prog="oneshot sweep -- ", add_help=False)
    _cli(command).add_parser(parser.add_subparsers(dest="command"))
    argv = [command, *args, "--out", out, "--no-progress"]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit:
        lines = [ln for ln in err.getvalue().strip().splitlines() if ln.strip()]
        raise ConfigError(f"the arguments after `--` are not valid for `oneshot {command}`: "
                          f"{lines[-1] if lines else ' '.join(args)}") from None


def check_args(args: Sequence[str], swept_flags: Sequence[str], command: str = "search") -> None:
    """Refuse flags the sweep sets itself (per trial, or for resuming), then parse the rest."""
    forbidden = {"--out": "each trial gets OUT/trials/<name>", "--resume": "use `oneshot sweep --resume`",
                 "--stop-after": "the sweep runs training in chunks itself"}
    for flag in swept_flags:
        forbidden[flag] = "the sweep sets it per trial"
    for a in args:
        flag = a.split("=", 1)[0]
        if flag in forbidden:
            raise ConfigError(f"do not pass {flag} to the {command} runs of a sweep: {forbidden[flag]}")
    parse_command_args(args, "x", command)
