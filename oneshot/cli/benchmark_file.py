"""``--benchmark NAME|PATH`` and its column mapping, shared by ``search``, ``eval-ranking`` and the
search-quality benchmark: a registered benchmark by name, or a user's CSV/JSON file read with
``--arch-column``, ``--metric NAME=COLUMN`` and ``--cost METRIC=COLUMN[*SCALE]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oneshot.errors import ConfigError
from oneshot.evaluation.tabular import BENCHMARKS

from .options import parse_pairs


def add_mapping_arguments(p: argparse.ArgumentParser) -> None:
    """The column-mapping flags of ``--benchmark PATH``."""
    g = p.add_argument_group("a benchmark file (--benchmark PATH.csv|PATH.json)")
    g.add_argument("--arch-column", metavar="COLUMN",
                   help="column of the architecture strings (any form the space reads, e.g. NAS-Bench-201's "
                        "'|nor_conv_3x3~0|+|...|'); omit for a JSON object keyed by architecture")
    g.add_argument("--metric", action="append", default=[], metavar="NAME=COLUMN",
                   help="a measured metric, e.g. accuracy=CIFAR10TestAccuracy200Epochs (repeatable)")
    g.add_argument("--cost", action="append", default=[], metavar="METRIC=COLUMN[*SCALE]",
                   help="a cost column, usable as objective and --constraint: macs, params or latency_ms, e.g. "
                        "macs=FLOPs*1e6 (repeatable; without it macs/params come from the space's exact model)")
    g.add_argument("--space", metavar="NAME",
                   help="the space the file's architectures belong to (default: inferred when unambiguous)")


def benchmark_spec(args: argparse.Namespace, announce: bool = True):
    """The ``EvaluatorSpec`` of ``--benchmark``: a registered name (no mapping flags), or a file read
    once here to check the mapping (every bad input is one line) and to print its report."""
    from oneshot.costs.budgets import canonical_metric
    from oneshot.evaluation import EvaluatorSpec

    mapping_given = args.arch_column or args.metric or args.cost or args.space
    if args.benchmark in BENCHMARKS:
        if mapping_given:
            raise ConfigError(f"--benchmark {args.benchmark} is a built-in benchmark; --arch-column, --metric, "
                              f"--cost and --space map the columns of a benchmark file")
        return EvaluatorSpec(args.benchmark, {})
    if not Path(args.benchmark).is_file():
        raise ConfigError(f"--benchmark {args.benchmark}: neither a built-in benchmark ({', '.join(BENCHMARKS.names())}) "
                          f"nor a file")
    metrics = parse_pairs(args.metric, "--metric", "--metric accuracy=test_acc", form="NAME=COLUMN", strict=True)
    if not metrics:
        raise ConfigError(f"--benchmark {args.benchmark}: give at least one --metric NAME=COLUMN, e.g. "
                          f"--metric accuracy=test_acc")
    costs = {canonical_metric(k): v for k, v in parse_pairs(args.cost, "--cost", "--cost macs=FLOPs*1e6", form="NAME=COLUMN",
                                                                    strict=True).items()}
    from oneshot.evaluation.table_file import TableEvaluator, infer_space
    from oneshot.spaces.registry import SPACES

    space = SPACES.check(args.space, "--space") if args.space else infer_space(args.benchmark, args.arch_column)
    options = {"path": str(Path(args.benchmark).resolve()), "space": space, "arch_column": args.arch_column,
               "metrics": metrics, "costs": costs}
    evaluator = TableEvaluator(**options)
    if announce:
        for line in evaluator.report.lines(args.benchmark):
            print(line, file=sys.stderr)
    return EvaluatorSpec("table", options)
