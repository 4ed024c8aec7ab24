"""Profiling and validation on the tiny space with a very short protocol (fast, CPU, one thread)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from oneshot.errors import LUTError
from oneshot.latency import load_table, missing_entries
from oneshot.latency.pricing import latency_table
from oneshot.latency.profile import (CALIBRATION_NETWORKS, covering_architectures, partial_path, profile_space, reference_architecture,
                                     space_reference)
from oneshot.allocator import pin_allocator
from oneshot.latency.timing import Protocol, fold_batchnorm, summarise
from oneshot.latency.validate import error_stats, fit_correction, spearman, validate_table
from oneshot.spaces import create_space

FAST = Protocol(warmup=1, repeats=3)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_profile_covers_space_with_provenance(tmp_path):
    space = create_space("tiny")
    out = tmp_path / "tiny.json"
    table = profile_space(space, out, FAST, progress=False)
    assert missing_entries(space, table) == []
    timed = {op.signature() for op in space.distinct_ops() if not op.is_identity}
    assert set(table.entries) == timed  # each distinct signature once, identities not timed
    assert all(e.ms > 0 and e.count == 3 for e in table.entries.values())
    prov = load_table(out).provenance
    for key in ("device", "device_name", "torch", "threads", "batch", "resolution", "date", "protocol", "bn"):
        assert key in prov, key
    assert prov["threads"] == 1 and prov["resolution"] == 32 and "folded" in prov["bn"]
    assert not partial_path(out).exists()


def test_profile_records_reference_network_and_entries_are_means(tmp_path):
    space = create_space("tiny")
    out = tmp_path / "tiny.json"
    table = profile_space(space, out, Protocol(warmup=1, repeats=4), progress=False)
    ref = space_reference(load_table(out), space)
    assert ref is not None and ref["ms"] > 0 and ref["count"] >= 4
    assert ref["arch"] == [int(v) for v in reference_architecture(space, 0)]
    assert space_reference(table, create_space("tiny", resolution=64)) is None  # another space: none
    # the measured network overhead is part of every price of this space (and only this space)
    record = table.profiled_space(space.fingerprint())
    assert len(record["overhead"]["per_network_ms"]) == CALIBRATION_NETWORKS and np.isfinite(record["overhead_ms"])
    arch = space.sample(np.random.default_rng(0))
    ops_sum = sum(table.entries[op.signature()].ms for _, op in space.active_ops(arch) if not op.is_identity)
    price = latency_table(space, table).price(np.asarray([arch]))["latency_ms"][0]
    assert price == pytest.approx(ops_sum + record["overhead_ms"], rel=1e-9)
    assert summarise([1.0, 1.0, 1.0, 5.0])["ms"] == pytest.approx(2.0)  # the mean, not the median (1.0)
    entry = next(iter(load_table(out).entries.values()))
    assert entry.median is not None and entry.median > 0 and entry.std >= 0  # median and spread kept


def test_covering_architectures_use_every_choice(rng):
    for name in ("tiny", "proxylessnas"):
        space = create_space(name)
        archs = covering_architectures(space, rng)
        for d in range(len(space.dimensions)):
            assert set(archs[:, d]) == set(range(space.dimensions[d].size))


def test_profile_resumes_after_interruption(tmp_path, monkeypatch):
    space = create_space("tiny")
    out = tmp_path / "tiny.json"
    import oneshot.latency.profile as prof

    real = prof.atomic_write_json
    calls = {"n": 0}

    def crash_after_first_save(path, data, **options):
        real(path, data, **options)
        calls["n"] += 1
        raise KeyboardInterrupt  # the process is killed right after a round was saved

    monkeypatch.setattr(prof, "atomic_write_json", crash_after_first_save)
    with pytest.raises(KeyboardInterrupt):
        profile_space(space, out, Protocol(warmup=0, repeats=4), progress=False)
    saved = json.loads(partial_path(out).read_text())["samples"]
    assert saved and not out.exists()
    first_round = {k: list(v) for k, v in saved.items()}
    monkeypatch.setattr(prof, "atomic_write_json", real)
    seen = {}
    real_measure = prof.measure_chained

    def spy(space_, modules, x, protocol, wanted, done=None, **kw):
        seen["done"] = {k: list(v) for k, v in (done or {}).items()}
        return real_measure(space_, modules, x, protocol, wanted, done, **kw)

    monkeypatch.setattr(prof, "measure_chained", spy)
    table = profile_space(space, out, Protocol(warmup=0, repeats=4), progress=False)
    assert seen["done"] == first_round  # resumed from the saved samples, nothing re-timed
    assert missing_entries(space, table) == [] and not partial_path(out).exists()
    assert all(e.count == 4 for e in table.entries.values())


def test_profile_extends_existing_table_and_refuses_other_protocol(tmp_path):
    out = tmp_path / "t.json"
    profile_space(create_space("tiny"), out, FAST, progress=False)
    before = load_table(out).entries
    table = profile_space(create_space("tiny", resolution=64), out, FAST, progress=False)
    assert all(table.entries[k] == v for k, v in before.items())  # kept, not re-timed
    assert missing_entries(create_space("tiny", resolution=64), table) == []
    assert len(table.provenance["spaces"]) == 2
    with pytest.raises(LUTError, match="different protocol"):
        profile_space(create_space("tiny"), out, Protocol(warmup=1, repeats=3, batch=2), progress=False)


def test_fold_batchnorm_keeps_outputs():
    space = create_space("tiny")
    net = space.build(space.sample(np.random.default_rng(1))).eval()
    for m in net.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        folded = fold_batchnorm(net)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    torch.testing.assert_close(folded, ref, rtol=1e-4, atol=1e-4)


def test_allocator_is_pinned_by_default_and_recorded():
    import platform

    assert Protocol().allocator == "pinned" and Protocol().to_json()["allocator"] == "pinned"
    with pytest.raises(ValueError, match="allocator"):
        Protocol(allocator="jemalloc")
    if platform.libc_ver()[0] == "glibc":
        assert pin_allocator() is True


def test_protocol_rejects_bad_values():
    with pytest.raises(ValueError, match="device"):
        Protocol(device="tpu")
    with pytest.raises(ValueError, match="thread-cpu"):
        Protocol(threads=2, timer="thread-cpu")
    assert Protocol().resolved_timer == "thread-cpu" and Protocol(threads=2).resolved_timer == "wall"


def test_validate_writes_report_plot_and_correction(tmp_path):
    space = create_space("tiny")
    out = tmp_path / "tiny.json"
    profile_space(space, out, FAST, progress=False)
    report = validate_table(space, out, n=5, progress=False)
    assert report["n"] == 5 and len(report["architectures"]) == 5
    for key in ("median_abs_rel_error", "p90_abs_rel_error"):
        assert 0 <= report["raw"][key] < 10
    assert (tmp_path / "tiny.validate.json").is_file() and (tmp_path / "tiny.validate.png").stat().st_size > 1000
    table = load_table(out)
    assert table.correction["offset_ms"] == pytest.approx(report["correction"]["offset_ms"])
    # the reference network was timed again: raw and drift-normalised errors are both reported
    drift = report["drift"]
    assert drift["reference_ms_now"] > 0
    assert drift["speed_ratio"] == pytest.approx(drift["reference_ms_now"] / drift["reference_ms_at_profile"])
    predicted = np.array([a["predicted_ms"] for a in report["architectures"]])
    measured = np.array([a["measured_ms"] for a in report["architectures"]])
    assert report["drift_normalised"] == pytest.approx(error_stats(predicted, measured / drift["speed_ratio"]))
    assert [a["measured_ms"] > 0 for a in report["architectures"]] == [True] * 5


def test_spearman_and_correction_fit():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(a, a ** 3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(np.array([1.0, 2, 2, 3]), np.array([1.0, 2, 3, 4])) == pytest.approx(0.9486833)
    measured = 2.0 * a + 1.0
    assert fit_correction(a, measured, fit_scale=True) == pytest.approx({"scale": 2.0, "offset_ms": 1.0})
    assert fit_correction(a, a + 0.5, fit_scale=False) == {"scale": 1.0, "offset_ms": 0.5}
