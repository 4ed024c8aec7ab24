"""The CLI offers exactly what the registries hold, with the defaults defined once."""
from __future__ import annotations

import argparse
import inspect

import pytest

from oneshot.cli.main import COMMANDS, build_parser
from oneshot.evaluation.base import EVALUATORS
from oneshot.evaluation.bn_policies import BN_POLICIES, DEFAULT_BN_POLICY
from oneshot.evaluation.tabular import BENCHMARKS
from oneshot.latency.formats import FORMATS
from oneshot.sampling import SAMPLERS
from oneshot.search.smoothing import SMOOTHERS
from oneshot.spaces.registry import SPACES
from oneshot.strategies import STRATEGIES


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


COMMANDS_TREE = _subcommands(build_parser())  # the shipped defaults, read once at collection


def _fresh_tree():
    """The parser as built now: other tests register plugins (e.g. a spy evaluator) after collection,
    so a choices-vs-registry comparison must read both at the same time."""
    return _subcommands(build_parser())


@pytest.mark.parametrize("command, flag, registry", [
    ("search", "--strategy", STRATEGIES),
    ("search", "--bn-policy", BN_POLICIES),
    ("search", "--evaluator", EVALUATORS),
    ("search", "--smoothing", SMOOTHERS),
    ("eval-ranking", "--bn-policy", BN_POLICIES),
    ("train-supernet", "--sampling", SAMPLERS),
    ("lut import", "--format", FORMATS),
])
def test_cli_choices_are_the_registry_names(command, flag, registry):
    parser = _fresh_tree()[command.split()[0]]
    if " " in command:
        parser = _subcommands(parser)[command.split()[1]]
    assert list(_option(parser, flag).choices) == registry.names()


@pytest.mark.parametrize("command", ["search", "eval-ranking"])
def test_benchmark_help_names_every_builtin_benchmark(command):
    # --benchmark takes a built-in name or a file, so it has no argparse choices: its help lists them
    help_text = _option(COMMANDS_TREE[command], "--benchmark").help
    assert all(name in help_text for name in BENCHMARKS.names())


def test_subcommands_are_the_command_registry():
    assert list(COMMANDS_TREE) == COMMANDS.names()


def test_oneshot_spaces_lists_every_registered_space(capsys):
    from oneshot.cli.main import main

    assert main(["spaces"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:] if line.strip()]
    assert sorted(listed) == sorted(SPACES.names())


def test_the_scoring_defaults_are_defined_once():
    from oneshot.evaluation.supernet_evaluator import SupernetEvaluator
    from oneshot.ranking.report import RankingConfig

    assert _option(COMMANDS_TREE["search"], "--bn-policy").default == DEFAULT_BN_POLICY
    assert inspect.signature(SupernetEvaluator).parameters["bn_policy"].default == DEFAULT_BN_POLICY
    assert RankingConfig(supernet="x", out="y").bn_policies == (DEFAULT_BN_POLICY,)
    from oneshot.evaluation.bn_policies import DEFAULT_CALIB_BATCH, DEFAULT_CALIB_IMAGES

    signature = inspect.signature(SupernetEvaluator).parameters
    assert signature["calib_images"].default == DEFAULT_CALIB_IMAGES == RankingConfig("x", "y").calib_images
    assert _option(COMMANDS_TREE["search"], "--calib-images").default == DEFAULT_CALIB_IMAGES
    assert _option(COMMANDS_TREE["eval-ranking"], "--calib-images").default == DEFAULT_CALIB_IMAGES
    assert signature["calib_batch"].default == DEFAULT_CALIB_BATCH == _option(COMMANDS_TREE["search"],
                                                                               "--calib-batch").default


def test_every_benchmark_is_an_evaluator_kind_and_every_target_loads():
    assert set(BENCHMARKS.names()) <= set(EVALUATORS.names())
    for registry in (STRATEGIES, BN_POLICIES, BENCHMARKS, EVALUATORS, FORMATS, SAMPLERS, SMOOTHERS, COMMANDS):
        for name in registry.names():
            assert registry.get(name) is not None
            if registry is not COMMANDS and registry.target_path(name).startswith("oneshot."):
                assert registry.description(name), f"{registry.name}: {name} has no description"  # built-ins


def test_any_registered_evaluator_is_reachable_from_search(tmp_path, capsys):
    from oneshot.cli.main import main

    rc = main(["search", "--evaluator", "synthetic", "-e", "space=tiny", "--strategy", "random", "--budget", "5",
               "--objective", "accuracy:max", "--out", str(tmp_path / "s"), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "s" / "pareto.csv").is_file()
    assert main(["search", "--benchmark", "nas-bench-macro", "-e", "x=1", "--out", str(tmp_path / "t")]) == 2
    assert "configures --evaluator" in capsys.readouterr().err
