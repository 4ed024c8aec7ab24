import json
import os
import stat

import pytest

from oneshot.atomic import atomic_open, atomic_write_bytes, atomic_write_json, atomic_write_text


def test_writes_and_replaces(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "old")
    atomic_write_text(p, "new\n")
    assert p.read_text() == "new\n"
    atomic_write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]


def test_json_formats(tmp_path):
    p = tmp_path / "d.json"
    atomic_write_json(p, {"b": 1, "a": [1, 2]})
    assert p.read_text() == json.dumps({"b": 1, "a": [1, 2]}, indent=1)
    atomic_write_json(p, {"b": 1, "a": 2}, compact=True)
    assert p.read_text() == '{"b":1,"a":2}'
    atomic_write_json(p, {"b": 1, "a": 2}, indent=2, sort_keys=True, end="\n")
    assert p.read_text() == json.dumps({"a": 2, "b": 1}, indent=2) + "\n"


def test_error_leaves_target_and_no_temp(tmp_path):
    p = tmp_path / "keep.bin"
    p.write_bytes(b"before")
    with pytest.raises(RuntimeError):
        with atomic_open(p, binary=True) as fh:
            fh.write(b"half")
            raise RuntimeError("crash")
    assert p.read_bytes() == b"before"
    assert [f.name for f in tmp_path.iterdir()] == ["keep.bin"]


def test_mode(tmp_path):
    p = tmp_path / "shared.json"
    atomic_write_json(p, {}, mode=0o644)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o644


def test_spaces_import_stays_stdlib():
    import subprocess
    import sys

    code = "import sys, oneshot.atomic; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_savefig_png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oneshot.atomic import atomic_savefig

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    p = atomic_savefig(fig, tmp_path / "plot.png")
    plt.close(fig)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [f.name for f in tmp_path.iterdir()] == ["plot.png"]
