"""``oneshot`` entry point: builds the sub-command parsers and dispatches.

Command modules import only argparse-level code at module import; torch, Ray and pymoo are imported
inside ``run`` so that ``oneshot --help`` and ``oneshot spaces`` answer in well under a second.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, Sequence

from oneshot.registry import Registry

#: sub-commands: name -> the ``add_parser(subparsers)`` of its module, in the order ``--help`` lists them
COMMANDS: Registry[Any] = Registry("commands", "command")
for _name, _module in [("spaces", "spaces_cmd"), ("arch-info", "arch_info"), ("lut", "lut"),
                       ("train-supernet", "train_supernet"), ("search", "search"), ("sweep", "sweep"),
                       ("export", "export"), ("train-arch", "train_arch"), ("landmarks", "landmarks"), ("eval-ranking", "eval_ranking"),
                       ("quickstart", "quickstart")]:
    COMMANDS.register(_name, f"oneshot.cli.{_module}:add_parser")


class OneLineParser(argparse.ArgumentParser):
    """argparse with the project's error style: one line naming the problem, status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # the registries' wording for an unknown name, and in their order
        if action.choices is not None and value not in action.choices:
            raise argparse.ArgumentError(action, f"invalid choice {value!r}; valid: "
                                                 f"{', '.join(map(str, action.choices))}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``oneshot`` parser; ``only`` builds just that sub-command (a command line that names one
    needs no other: building every sub-command reads every registry, a tenth of a second)."""
    parser = OneLineParser(
        prog="oneshot",
        description="One-shot neural architecture search: train a supernet once, then search it "
                    "under FLOPs / params / latency budgets and export the Pareto front.",
        epilog="Run `oneshot COMMAND --help` for the options of a command.",
    )
    from oneshot import __version__

    parser.add_argument("--version", action="version", version=f"oneshot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS.names():
        if only is None or name == only:
            COMMANDS.get(name)(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; user errors print one line and return status 2."""
    from oneshot.errors import OneshotError

    words = list(sys.argv[1:] if argv is None else argv)
    first = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS.names() else None)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return int(exc.code or 0)
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
