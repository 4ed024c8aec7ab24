"""``oneshot`` entry point: builds the sub-command parsers and dispatches.

Command modules import only argparse-level code at module import; torch, Ray and pymoo are imported
inside ``run`` so that ``oneshot --help`` and ``oneshot spaces`` answer in well under a second.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: command modules under ``oneshot.cli``, in the order ``--help`` lists them
COMMAND_MODULES = [
    "spaces_cmd",
    "arch_info",
    "lut",
    "train_supernet",
    "search",
    "sweep",
    "export",
    "train_arch",
    "eval_ranking",
    "quickstart",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oneshot",
        description="One-shot neural architecture search: train a supernet once, then search it "
                    "under FLOPs / params / latency budgets and export the Pareto front.",
        epilog="Run `oneshot COMMAND --help` for the options of a command.",
    )
    from oneshot import __version__

    parser.add_argument("--version", action="version", version=f"oneshot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"oneshot.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; user errors print one line and return status 2."""
    from oneshot.errors import OneshotError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        result = args.func(args)
    except (OneshotError, ValueError, KeyError, FileNotFoundError) as exc:
        # one line naming the problem and the fix; tracebacks are for bugs, not bad input
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # output piped into `head` and closed early: not an error of ours
        sys.stderr.close()
        return 0
    except OSError as exc:  # a full disk, a path that is a file, no permission: the file and the fix
        import errno

        where = exc.filename or "a file"
        fix = {errno.ENOSPC: "free disk space, then rerun (with --resume where the command has it)",
               errno.EEXIST: "it exists and is not a directory: choose another --out",
               errno.ENOTDIR: "a part of the path is a file, not a directory: choose another --out",
               errno.EACCES: "no permission: choose a path you can write"}.get(exc.errno, "check the path")
        print(f"error: {where}: {exc.strerror or exc}; {fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
