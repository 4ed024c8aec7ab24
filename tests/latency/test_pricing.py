"""Combined cost model (MACs + params + latency), coverage errors and impossible budgets."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.costs import check_budget as costs_check_budget
from oneshot.costs import cost_model as costs_cost_model
from oneshot.errors import BudgetError, ConfigError, LUTError
from oneshot.costs import check_budget, cost_model, parse_constraint
from oneshot.latency import Entry, LatencyTable, missing_entries
from oneshot.latency.pricing import slot_labels
from oneshot.spaces import create_space


def fake_lut(space, constant=0.25) -> LatencyTable:
    """Deterministic distinct latencies: a function of the signature (so sums are checkable)."""
    entries = {}
    for i, op in enumerate(space.distinct_ops()):
        if not op.is_identity:
            entries[op.signature()] = Entry(0.1 + 0.01 * i + op.mid * 1e-3, 0.01, 5)
    return LatencyTable(entries, constant_ms=constant, provenance={"device": "fake"})


def per_arch_sum(space, lut, arch) -> float:
    total = lut.constant_ms
    for slot, op in space.active_ops(arch):
        labels = slot_labels(space, slot)
        label = labels[0] if slot.dim is None else labels[arch[slot.dim]]
        e = lut.lookup(op.signature(), slot.name, label)
        total += 0.0 if e is None else e.ms
    return total


@pytest.mark.parametrize("name, options", [("tiny", {}), ("proxylessnas", {"resolution": 32}),
                                           ("nas-bench-macro", {}), ("mobilenetv3", {"resolution": 32})])
def test_batch_price_equals_per_architecture_sums(name, options, rng):
    space = create_space(name, **options)  # small resolutions: MACs counting stays fast
    lut = fake_lut(space)
    table = cost_model(space, lut)
    assert table.metrics == ("macs", "params", "latency_ms")
    m = space.sample_matrix(rng, 64)
    priced = table.price(m)
    expected = np.array([per_arch_sum(space, lut, row) for row in m])
    np.testing.assert_allclose(priced["latency_ms"], expected, rtol=0, atol=1e-9)
    from oneshot.costs.counting import flops_params_table
    ref = flops_params_table(space).price(m)
    np.testing.assert_array_equal(priced["macs"], ref["macs"])
    np.testing.assert_array_equal(priced["params"], ref["params"])


def test_bounds_are_exact_on_an_enumerable_space():
    space = create_space("tiny")
    table = cost_model(space, fake_lut(space))
    all_archs = np.array(list(space.enumerate()))
    priced = table.price(all_archs)
    for metric, (lo, hi) in table.bounds().items():
        assert lo == pytest.approx(priced[metric].min(), abs=1e-9)
        assert hi == pytest.approx(priced[metric].max(), abs=1e-9)


def test_positional_entries_override_signatures(rng):
    space = create_space("tiny")
    lut = fake_lut(space)
    slot = next(s for s in space.slots if s.dim is not None)
    lut.positional[slot.name] = {lab: Entry(100.0 + i) for i, lab in enumerate(slot_labels(space, slot))}
    table = cost_model(space, lut)
    m = space.sample_matrix(rng, 32)
    expected = np.array([per_arch_sum(space, lut, row) for row in m])
    np.testing.assert_allclose(table.price(m)["latency_ms"], expected, atol=1e-9)
    assert table.price(m)["latency_ms"].min() > 100


def test_missing_entry_names_signature_and_fix():
    space = create_space("tiny")
    lut = fake_lut(space)
    victim = next(op for op in space.distinct_ops() if op.kind == "mbconv")
    del lut.entries[victim.signature()]
    missing = missing_entries(space, lut)
    assert {m.signature for m in missing} == {victim.signature()}
    with pytest.raises(LUTError) as err:
        cost_model(space, lut)
    assert victim.signature() in str(err.value) and "oneshot lut profile" in str(err.value)


def test_correction_is_applied_only_when_asked(rng):
    space = create_space("tiny")
    lut = fake_lut(space)
    lut.correction = {"offset_ms": 2.0, "scale": 1.5}
    m = space.sample_matrix(rng, 8)
    raw = cost_model(space, lut).price(m)["latency_ms"]
    fixed = cost_model(space, lut, apply_correction=True).price(m)["latency_ms"]
    np.testing.assert_allclose(fixed, 1.5 * raw + 2.0)


def test_check_budget_reports_smallest_achievable():
    space = create_space("tiny")
    table = cost_model(space, fake_lut(space))
    lo, hi = table.bounds()["latency_ms"]
    assert check_budget(table, {"latency_ms": lo})  # feasible at exactly the minimum
    with pytest.raises(BudgetError, match=f"{lo:.6g}"):
        check_budget(table, [f"latency_ms<={lo * 0.9}"])
    with pytest.raises(BudgetError, match="largest"):
        check_budget(table, [("params", ">=", hi * 1e9)])
    macs_lo = table.bounds()["macs"][0]
    with pytest.raises(BudgetError, match="smallest achievable macs"):
        check_budget(table, [f"flops<={macs_lo / 2 / 1e6}M"])
    with pytest.raises(ConfigError, match="not priced"):
        check_budget(costs_cost_model(space), ["latency_ms<=5"])
    assert costs_check_budget is check_budget


def test_parse_constraint_units():
    c = parse_constraint("flops<=300M")
    assert (c.metric, c.op, c.value) == ("macs", "<=", 300e6)
    c = parse_constraint(" latency_ms <= 12.5 ")
    assert (c.metric, c.op, c.value) == ("latency_ms", "<=", 12.5)
    with pytest.raises(ConfigError):
        parse_constraint("latency about 5")


def test_table_round_trips_through_json(tmp_path):
    space = create_space("tiny")
    lut = fake_lut(space)
    lut.positional["s1.l1"] = {"e3k3": Entry(1.0, 0.1, 3)}
    lut.correction = {"offset_ms": 0.5, "scale": 1.0}
    from oneshot.latency import load_table
    path = lut.save(tmp_path / "t.json")
    again = load_table(path)
    assert again == lut and again.digest() == lut.digest()
    path.write_text('{"a": 1}')
    with pytest.raises(LUTError, match="not a oneshot latency table"):
        load_table(path)
