"""Bad input on the command line: exit status 2, one line on stderr, no traceback, nothing lost.

Every case runs the real CLI entry point (in-process) next to a run directory that already holds
results; after the refused command that directory must be byte-for-byte what it was.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from oneshot.cli.main import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import torch

    from oneshot.checkpoint import save_checkpoint
    from oneshot.data import load_data
    from oneshot.latency import Entry, LatencyTable
    from oneshot.spaces import create_space
    from oneshot.supernet import Supernet

    root = tmp_path_factory.mktemp("bad")
    torch.manual_seed(0)
    space = create_space("tiny")
    data = load_data("digits", space.resolution, seed=0)
    ckpt = root / "supernet.pt"
    save_checkpoint(ckpt, {"space": space.to_json(), "model": Supernet(space).state_dict(), "data": data.info,
                           "config": {}, "versions": {}, "epoch": 1})
    LatencyTable({op.signature(): Entry(0.5) for op in space.distinct_ops()}).save(root / "tiny.json")
    (root / "nan.json").write_text(json.dumps({"format": "oneshot-lut", "version": 1,
                                               "entries": {"a": {"ms": "nan"}}}).replace('"nan"', "NaN"))
    (root / "neg.csv").write_text("key,latency_ms\nconv-x,-4.33\n")
    (root / "garbage.bin").write_bytes(bytes(range(128, 256)) * 4)
    (root / "corrupt.pt").write_bytes(b"PK\x03\x04 not really a zip")
    (root / "bad.yaml").write_text("epochs: [1, 2\n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    np.savez(root / "mismatch.npz", train_x=np.zeros((10, 8, 8, 3), np.uint8), train_y=np.zeros(9, np.int64))
    (root / "afile").write_text("I am a file")
    run = root / "run"  # a run directory with results that a refused command must not touch
    run.mkdir()
    (run / "history.csv").write_text("eval_index,key\n0,000000\n")
    (run / "note.txt").write_text("keep")
    return root


def _snapshot(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


CASES = {
    # spaces and architectures
    "spaces-unknown-action": "spaces proxylessnas",
    "spaces-show-unknown": "spaces show nosuchspace",
    "spaces-show-no-name": "spaces show",
    "spaces-bad-option": "spaces show tiny -o nosuch=1",
    "spaces-option-not-pair": "spaces show tiny -o resolution",
    "arch-info-unknown-space": "arch-info nosuch 0000",
    "arch-info-short-key": "arch-info nas-bench-macro 0123",
    "arch-info-out-of-range": "arch-info nas-bench-macro 99999999",
    "arch-info-garbage": "arch-info tiny hello",
    "arch-info-unknown-dim": "arch-info tiny nosuch=e3k3",
    "arch-info-wrong-space-ref": "arch-info proxylessnas proxylessnas_mobile",
    "arch-info-no-arch": "arch-info tiny",
    # training
    "train-unknown-space": "train-supernet --space nosuch --out {run}/t",
    "train-bad-sampling": "train-supernet --sampling lucky --out {run}/t",
    "train-zero-epochs": "train-supernet --epochs 0 --out {run}/t",
    "train-negative-lr": "train-supernet --lr -1 --out {run}/t",
    "train-bad-val-fraction": "train-supernet --val-fraction 1.5 --out {run}/t",
    "train-bad-data-spec": "train-supernet --data ftp:x --out {run}/t",
    "train-missing-npz": "train-supernet --data npz:{root}/nope.npz --out {run}/t",
    "train-npz-mismatch": "train-supernet --data npz:{root}/mismatch.npz --out {run}/t",
    "train-bad-yaml": "train-supernet --config {root}/bad.yaml --out {run}/t",
    "train-yaml-not-mapping": "train-supernet --config {root}/list.yaml --out {run}/t",
    "train-missing-yaml": "train-supernet --config {root}/none.yaml --out {run}/t",
    "train-resume-nothing": "train-supernet --resume --out {run}",
    "train-split-unknown-dim": "train-supernet --split l99 --out {run}/t",
    "train-split-epochs-alone": "train-supernet --split-epochs 2 --out {run}/t",
    "train-bad-resolution": "train-supernet --resolution 3 --out {run}/t",
    # search
    "search-missing-supernet": "search --supernet {root}/nope.pt --out {run}",
    "search-corrupt-supernet": "search --supernet {root}/corrupt.pt --out {root}/s1",
    "search-unknown-strategy": "search --benchmark nas-bench-macro --strategy magic --out {run}",
    "search-bad-param-value": "search --benchmark nas-bench-macro -p crossover_prob=5 --out {root}/s2",
    "search-zero-pop": "search --benchmark nas-bench-macro -p pop_size=0 --out {root}/s3",
    "search-param-not-pair": "search --benchmark nas-bench-macro -p pop_size --out {root}/s4",
    "search-unknown-objective": "search --benchmark nas-bench-macro --objective speed:max --out {root}/s5",
    "search-bad-objective-form": "search --benchmark nas-bench-macro --objective accuracy --out {root}/s6",
    "search-impossible-budget": "search --benchmark nas-bench-macro --constraint flops<=1 --out {root}/s7",
    "search-bad-constraint": "search --benchmark nas-bench-macro --constraint flops~3 --out {root}/s8",
    "search-zero-budget": "search --benchmark nas-bench-macro --budget 0 --out {root}/s9",
    "search-missing-lut": "search --benchmark nas-bench-macro --lut {root}/none.json --out {root}/s10",
    "search-nan-lut": "search --benchmark nas-bench-macro --lut {root}/nan.json --out {root}/s11",
    "search-out-is-file": "search --benchmark nas-bench-macro --out {root}/afile",
    "search-val-images-zero": "search --supernet {root}/supernet.pt --val-images 0 --budget 2 --out {root}/s12",
    "search-pool-options-alone": "search --benchmark nas-bench-macro --eval-batch 4 --out {root}/s13",
    "search-resume-foreign-dir": "search --benchmark nas-bench-macro --resume --out {run}",
    # latency tables
    "lut-import-existing": "lut import --format csv {root}/neg.csv --out {run}/note.txt",
    "lut-import-negative": "lut import --format csv {root}/neg.csv --out {root}/l1.json",
    "lut-import-binary": "lut import --format csv {root}/garbage.bin --out {root}/l2.json",
    "lut-import-missing": "lut import --format csv {root}/none.csv --out {root}/l3.json",
    "lut-show-nan": "lut show {root}/nan.json",
    "lut-check-missing": "lut check --space tiny --lut {root}/none.json",
    # export and ranking
    "export-missing-front": "export --from {root}/nope/pareto.csv --out {root}/e1",
    "eval-ranking-too-few": "eval-ranking --supernet {root}/supernet.pt --n 2 --out {root}/r1",
    "eval-ranking-wrong-benchmark-space": "eval-ranking --supernet {root}/supernet.pt --n 4 --benchmark "
                                          "nas-bench-macro --out {root}/r2",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_loses_nothing(name, files, capsys):
    run = files / "run"
    before = _snapshot(run)
    argv = CASES[name].format(root=files, run=run).split()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == 2, f"{name}: exit {rc}, stderr {err!r}"
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if not lines[0].startswith("usage:"):  # argparse prints usage + one error line
        assert len(lines) == 1, f"{name}: {err!r}"
    assert _snapshot(run) == before, f"{name} changed the existing run directory"


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


def test_a_full_quickstart_on_a_fast_one_says_how_to_continue(tmp_path, capsys):
    out = tmp_path / "qs"
    out.mkdir()
    (out / "quickstart.json").write_text(json.dumps({"mode": "fast"}))
    assert main(["quickstart", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds a fast quickstart; continue it with `oneshot quickstart --fast" in err
    assert sorted(p.name for p in out.iterdir()) == ["quickstart.json"]
