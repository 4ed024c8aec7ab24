"""The docs' real-output blocks are what their commands print now (docs/gen_outputs.py)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_outputs", ROOT / "docs" / "gen_outputs.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules["gen_outputs"] = gen
_spec.loader.exec_module(gen)

DOC = """# A doc

Prose stays as it is.

<!-- output
$ echo "hello from $(basename "$PWD")"
$ python -c "import time; print('took', time.monotonic() % 1, 's')"
vary: (?<=took )[\\d.e+-]+
-->
```
OLD
```

<!-- output
$ sh -c 'echo refused >&2; exit 2'
rc: 2
-->
```
```

<!-- output-expensive
$ sleep 1000
-->
```
$ sleep 1000
never run by --check
```
"""


def _doc(tmp_path, text=DOC):
    (tmp_path / "d.md").write_text(text)
    return tmp_path


def test_generate_then_check_then_a_hand_edit_fails_naming_doc_and_block(tmp_path):
    root = _doc(tmp_path)
    assert gen.process(["d.md"], check=True, everything=False, root=root, log=lambda m: None)  # stale
    assert gen.process(["d.md"], check=False, everything=False, root=root, log=lambda m: None) == []
    text = (root / "d.md").read_text()
    assert '$ echo "hello from $(basename "$PWD")"\nhello from w\n\n$ python -c' in text
    assert "$ sh -c 'echo refused >&2; exit 2'\nrefused\n```" in text
    assert "never run by --check" in text and "OLD" not in text
    # the variable part (a timing) does not count, the rest does
    assert gen.process(["d.md"], check=True, everything=False, root=root, log=lambda m: None) == []
    (root / "d.md").write_text(text.replace("took 0.", "took 9.", 1).replace("took 1.", "took 9.", 1))
    assert gen.process(["d.md"], check=True, everything=False, root=root, log=lambda m: None) == []
    (root / "d.md").write_text(text.replace("hello from w", "hello from the docs"))
    problems = gen.process(["d.md"], check=True, everything=False, root=root, log=lambda m: None)
    assert len(problems) == 1 and problems[0].startswith("d.md:5 (cheap: $ echo")
    assert "-hello from the docs" in problems[0] and "+hello from w" in problems[0]
    # the command line (main) exits 1 and names the block
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_outputs.py"), "--check", "--root", str(root),
                          "d.md"], capture_output=True, text=True)
    assert out.returncode == 1 and "d.md:5" in out.stderr


def test_a_wrong_exit_status_and_a_tampered_expensive_block_are_problems(tmp_path):
    root = _doc(tmp_path, DOC.replace("rc: 2\n", "").replace("$ sleep 1000\nnever", "$ sleep 5\nnever"))
    problems = gen.process(["d.md"], check=True, everything=False, root=root, log=lambda m: None)
    assert any("exited 2, the marker expects 0" in p for p in problems)
    assert any("d.md:20 (expensive" in p and "regenerate with --all" in p for p in problems)


@pytest.mark.parametrize("text, match", [
    ("<!-- output\nvary: x\n-->\n```\n```\n", "no '$ COMMAND'"),
    ("<!-- output\n$ true\n-->\nprose\n", "followed directly by a fenced block"),
    ("<!-- output\n$ true\n", "not closed"),
    ("<!-- output $ true -->\n```\n```\n", "alone on its line"),
])
def test_malformed_markers_name_the_line(tmp_path, text, match):
    problems = gen.process(["d.md"], check=True, everything=False, root=_doc(tmp_path, text), log=lambda m: None)
    assert len(problems) == 1 and match in problems[0] and problems[0].startswith("d.md:1")


@pytest.mark.slow
def test_every_cheap_block_of_the_docs_is_current():
    """Runs every cheap block of README.md and docs/*.md (about 2 minutes on 2 cores)."""
    problems = gen.process(gen.DOCS, check=True, everything=False, log=lambda m: None)
    assert not problems, "\n\n".join(problems)
