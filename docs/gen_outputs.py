#!/usr/bin/env python3
"""Regenerate (or check) every "real output" block of the docs from the commands that produce it.

A real-output block is a fenced code block preceded by a marker comment that holds its commands:

    <!-- output
    $ oneshot search --benchmark nas-bench-macro --budget 50 --seed 0 --out s --no-progress
    $ head -3 s/pareto.csv
    vary: (?<=,1,)[0-9.e-]+(?=,$)
    -->
    ```
    (generated: each "$ command" line followed by what it printed)
    ```

Marker lines:

- ``$ COMMAND``: a command, shown in the block exactly as written and run with ``bash -c``. Lines
  after it that are not marker keywords belong to it (``\\`` continuations, heredocs).
  ``oneshot`` runs ``python -m oneshot`` and ``python`` is the running interpreter, both importing
  this checkout's package. stdout and stderr are shown together, in order.
- ``setup: COMMAND``: run before the shown commands, output not shown (e.g. a checkpoint a shown
  command needs). Say in the doc's text what it did.
- ``vary: REGEX``: text of the output that is inherently variable (wall times, throughput,
  measured latencies, the CPU's name). Matches keep their real value in the doc but are replaced by
  a placeholder on both sides before ``--check`` compares, so only the rest is checked. Applied per
  line. Every block also has the default patterns of ``DEFAULT_VARY`` (images/s, evaluations/s).
- ``rc: N``: the command just before this line must exit with N (default 0; any other exit code
  is an error, its output shown). Before any command, it sets the default of the block.
- ``cwd: repo``: run in the repository root instead of the doc's temporary directory (benchmark
  scripts that read and write ``benchmarks/``).
- ``compact``: no blank line between the outputs of consecutive commands.

``<!-- output-expensive ... -->`` has the same syntax for blocks that cannot rerun in CI (a
30-epoch supernet, a ranking benchmark, a Ray cluster, a machine's own latency measurements): they
are regenerated only with ``--all``; ``--check`` verifies that their marker parses and that the
block shows the marker's commands. The doc's text says which command or benchmark produced them.

The commands of one doc run in order in one temporary directory (so a block may use what an
earlier block of the same doc wrote; a cheap block must not need an expensive one). The repository's
``oneshot/``, ``benchmarks/``, ``spaces/`` and ``strategies/`` folders are linked into it, so
``oneshot/data/luts/...`` paths work; ``../shared`` is the shared data folder where one exists
(the repository's ``shared/`` or the one next to it). Normalisation of the output (always, documented rule): the
temporary directory's path followed by ``/`` is removed (paths read as relative to where the
command ran), the repository's path becomes ``.``, trailing spaces are removed, and the terminal
width is fixed (``COLUMNS=100``).

Usage:
    python docs/gen_outputs.py            # rewrite the cheap blocks of README.md and docs/*.md
    python docs/gen_outputs.py --all      # also the expensive ones (minutes to hours)
    python docs/gen_outputs.py --check    # exit 1 with a diff naming doc and block if any differs
    python docs/gen_outputs.py --list     # the marked blocks, cheap or expensive

A block whose regenerated text differs from the doc only in ``vary`` parts is left as it is, so
rewriting does not churn timings. The README's results table (between ``<!-- results:start -->`` and
``<!-- results:end -->``) is generated separately, by ``benchmarks/run_all.py``.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
LINKED = ["oneshot", "benchmarks", "spaces", "strategies"]
DEFAULT_VARY = [r"\d+(\.\d+)? ?img/s", r"\d+(\.\d+)? ?eval/s", r"\d+(\.\d+)? ?it/s"]
PLACEHOLDER = "<varies>"
KEYWORDS = ("setup:", "vary:", "rc:", "cwd:", "compact")
MARKER = re.compile(r"^<!-- output(-expensive)?\s*$")


class MarkerError(Exception):
    """A malformed marker or block: names the doc and line."""


@dataclass
class Block:
    doc: str
    line: int                      # 1-based line of the marker
    expensive: bool
    commands: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    vary: list[str] = field(default_factory=list)
    rc: int = 0
    rcs: list[int | None] = field(default_factory=list)   # per command (None: the block's rc)
    cwd_repo: bool = False
    compact: bool = False
    start: int = 0                 # index of the opening fence line
    end: int = 0                   # index of the closing fence line
    body: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        first = self.commands[0].splitlines()[0] if self.commands else "?"
        return f"{self.doc}:{self.line} ({'expensive' if self.expensive else 'cheap'}: $ {first[:70]})"


def parse(doc: str, text: str) -> list[Block]:
    """The marked blocks of one document, in order."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if not m:
            if lines[i].startswith("<!-- output"):
                raise MarkerError(f"{doc}:{i + 1}: a marker is '<!-- output' or '<!-- output-expensive' "
                                  f"alone on its line, the commands on the next lines")
            i += 1
            continue
        b = Block(doc, i + 1, bool(m.group(1)))
        j = i + 1
        current: list[str] | None = None
        while j < len(lines) and lines[j].strip() != "-->":
            ln = lines[j]
            if ln.startswith("$ "):
                current = [ln[2:]]
                b.commands.append(current)  # type: ignore[arg-type]
                b.rcs.append(None)
            elif ln.startswith("setup:"):
                current = None
                b.setup.append(ln[len("setup:"):].strip())
            elif ln.startswith("vary:"):
                current = None
                pat = ln[len("vary:"):].strip()
                try:
                    re.compile(pat)
                except re.error as e:
                    raise MarkerError(f"{doc}:{j + 1}: bad vary regex {pat!r}: {e}") from None
                b.vary.append(pat)
            elif ln.startswith("rc:"):
                current = None
                if b.commands:
                    b.rcs[-1] = int(ln[3:].strip())
                else:
                    b.rc = int(ln[3:].strip())
            elif ln.startswith("cwd:"):
                current = None
                if ln[4:].strip() != "repo":
                    raise MarkerError(f"{doc}:{j + 1}: cwd: takes only 'repo'")
                b.cwd_repo = True
            elif ln.strip() == "compact":
                current = None
                b.compact = True
            elif current is not None:
                current.append(ln)
            elif ln.strip():
                raise MarkerError(f"{doc}:{j + 1}: marker line is not '$ COMMAND' or one of {KEYWORDS}: {ln!r}")
            j += 1
        if j >= len(lines):
            raise MarkerError(f"{doc}:{i + 1}: marker is not closed by a '-->' line")
        b.commands = ["\n".join(c) for c in b.commands]  # type: ignore[misc]
        if not b.commands:
            raise MarkerError(f"{doc}:{i + 1}: marker has no '$ COMMAND' line")
        k = j + 1
        if k >= len(lines) or not lines[k].startswith("```"):
            raise MarkerError(f"{doc}:{i + 1}: a marker must be followed directly by a fenced block (```)")
        e = k + 1
        while e < len(lines) and lines[e].rstrip() != "```":
            e += 1
        if e >= len(lines):
            raise MarkerError(f"{doc}:{k + 1}: fenced block is not closed")
        b.start, b.end, b.body = k, e, lines[k + 1:e]
        blocks.append(b)
        i = e + 1
    return blocks


def shown_commands(b: Block) -> str:
    return "\n".join("$ " + c for c in b.commands)


class Runner:
    """Runs the commands of one doc in one temporary directory."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="oneshot-docs-"))
        self.work = self.tmp / "w"
        self.bin = self.tmp / "bin"
        self.work.mkdir()
        self.bin.mkdir()
        for name in LINKED:
            if (ROOT / name).exists():
                (self.work / name).symlink_to(ROOT / name)
        for shared in (ROOT / "shared", ROOT.parent / "shared"):   # ../shared/data (not in CI)
            if shared.is_dir():
                (self.tmp / "shared").symlink_to(shared)
                break
        py = sys.executable
        (self.bin / "oneshot").write_text(f'#!/bin/sh\nexec "{py}" -m oneshot "$@"\n')
        (self.bin / "python").write_text(f'#!/bin/sh\nexec "{py}" "$@"\n')
        for f in self.bin.iterdir():
            f.chmod(0o755)
        self.env = dict(os.environ)
        self.env.update(PATH=f"{self.bin}{os.pathsep}{self.env.get('PATH', '')}",
                        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [self.env.get("PYTHONPATH")])]),
                        PYTHONUNBUFFERED="1", COLUMNS="100", LINES="50", TQDM_DISABLE="1")
        self.env.pop("PYTHONSTARTUP", None)
        # numpy picks its SIMD kernels per CPU, and the last bits of some float reductions differ
        # between them; an NSGA-II run breaks near-ties by those bits, so a search's trajectory (not
        # its front's best) can differ between machines. The docs pin the kernels to the AVX2 level
        # every x86-64 machine of the last decade has, so their blocks read the same everywhere.
        self.env.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def normalise(self, text: str) -> str:
        for p in {str(self.work), os.path.realpath(self.work)}:
            text = text.replace(p + "/", "").replace(p, ".")
        text = text.replace(str(self.bin) + "/", "")
        text = text.replace(str(ROOT) + "/", "").replace(str(ROOT), ".")
        return "\n".join(ln.rstrip() for ln in text.split("\n")).strip("\n")

    def run(self, cmd: str, b: Block) -> tuple[int, str]:
        cwd = ROOT if b.cwd_repo else self.work
        p = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return p.returncode, self.normalise(p.stdout.decode("utf-8", "replace"))

    def generate(self, b: Block) -> list[str]:
        for cmd in b.setup:
            rc, out = self.run(cmd, b)
            if rc != 0:
                raise RuntimeError(f"{b.name}: setup command failed (exit {rc}): {cmd}\n{out}")
        parts: list[str] = []
        for cmd, want in zip(b.commands, b.rcs):
            want = b.rc if want is None else want
            rc, out = self.run(cmd, b)
            if rc != want:
                raise RuntimeError(f"{b.name}: `{cmd.splitlines()[0]}` exited {rc}, the marker expects "
                                   f"{want}; output:\n{out}")
            if parts and not b.compact:
                parts.append("")
            parts.append("$ " + cmd)
            if out:
                parts.append(out)
        return "\n".join(parts).split("\n")


def masked(lines: list[str], vary: list[str]) -> list[str]:
    pats = [re.compile(p) for p in [*DEFAULT_VARY, *vary]]
    out = []
    for ln in lines:
        for p in pats:
            ln = p.sub(PLACEHOLDER, ln)
        out.append(ln.rstrip())
    return out


def process(docs: list[str], *, check: bool, everything: bool, root: Path = ROOT,
            log=print) -> list[str]:
    """Regenerate (or, with ``check``, compare) the blocks of ``docs``; returns the problems found."""
    problems: list[str] = []
    for doc in docs:
        path = root / doc
        text = path.read_text()
        try:
            blocks = parse(doc, text)
        except MarkerError as e:
            problems.append(str(e))
            continue
        if not blocks:
            continue
        lines = text.split("\n")
        runner = Runner()
        changed = False
        try:
            for b in blocks:
                if b.expensive and not everything:
                    want = [ln for ln in b.body if ln.startswith("$ ")]
                    have = ["$ " + c.splitlines()[0] for c in b.commands]
                    if want != have:
                        problems.append(f"{b.name}: the block's '$' lines {want} are not the marker's "
                                        f"commands {have}; regenerate with --all")
                    continue
                t0 = time.monotonic()
                try:
                    new = runner.generate(b)
                except RuntimeError as e:
                    problems.append(str(e))
                    continue
                log(f"{b.name}: {time.monotonic() - t0:.1f} s")
                if masked(new, b.vary) == masked(b.body, b.vary):
                    continue
                if check:
                    diff = difflib.unified_diff(b.body, new, f"{doc} (in the doc)", f"{doc} (generated)",
                                                lineterm="", n=2)
                    problems.append(f"{b.name}: the block differs from what its commands print now "
                                    f"(rerun `python docs/gen_outputs.py`):\n" + "\n".join(diff))
                else:
                    lines[b.start + 1:b.end] = new
                    # later blocks' indices move with the replacement
                    shift = len(new) - len(b.body)
                    for later in blocks:
                        if later.start > b.start:
                            later.start += shift
                            later.end += shift
                    b.end += shift
                    changed = True
        finally:
            runner.close()
        if changed:
            path.write_text("\n".join(lines))
            log(f"rewrote {doc}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare instead of rewriting; exit 1 on a difference")
    ap.add_argument("--all", action="store_true", help="also run the expensive blocks")
    ap.add_argument("--list", action="store_true", help="list the marked blocks and exit")
    ap.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    ap.add_argument("docs", nargs="*", help=f"docs relative to the repository (default: {' '.join(DOCS)})")
    args = ap.parse_args(argv)
    docs = args.docs or DOCS
    if args.list:
        for doc in docs:
            for b in parse(doc, (args.root / doc).read_text()):
                print(b.name)
        return 0
    problems = process(docs, check=args.check, everything=args.all, root=args.root,
                       log=lambda m: print(m, file=sys.stderr))
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} block(s) out of date or broken", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
