"""Objective and budget syntax: units, aliases, and errors that explain the fix."""
from __future__ import annotations

import numpy as np
import pytest

from oneshot.errors import BudgetError, ConfigError
from oneshot.costs.budgets import check_budgets, parse_constraint
from oneshot.search.objectives import parse_objective


@pytest.mark.parametrize("text,metric,op,value", [
    ("flops<=300M", "macs", "<=", 300e6), ("FLOPs <= 0.3G", "macs", "<=", 0.3e9),
    ("macs<=1500K", "macs", "<=", 1.5e6), ("params<=4M", "params", "<=", 4e6),
    ("params>=500k", "params", ">=", 5e5), ("latency_ms<=15", "latency_ms", "<=", 15.0),
    ("latency<=12.5ms", "latency_ms", "<=", 12.5), ("flops=<1e8", "macs", "<=", 1e8),
])
def test_constraints_parse_units_and_aliases(text, metric, op, value):
    c = parse_constraint(text)
    assert (c.metric, c.op) == (metric, op) and c.value == pytest.approx(value)


@pytest.mark.parametrize("text,hint", [
    ("flops<300M", "<= or >="), ("flops<=300Q", "unit 'Q'"), ("params<=1G", "units allowed: K, M"),
    ("accuracy>=90", "cost metrics"), ("flops 300M", "METRIC<=VALUE"), ("latency_ms<=15M", "milliseconds"),
])
def test_bad_constraints_explain(text, hint):
    with pytest.raises(ConfigError, match=hint):
        parse_constraint(text)


def test_objectives():
    assert str(parse_objective("accuracy:max")) == "accuracy:max"
    assert parse_objective("flops:min").metric == "macs"
    assert parse_objective("accuracy:max").sign == -1.0
    with pytest.raises(ConfigError, match="METRIC:max"):
        parse_objective("accuracy")


def test_violation_is_relative_and_signed():
    c = parse_constraint("flops<=100M")
    assert np.allclose(c.violation(np.array([50e6, 100e6, 150e6])), [-0.5, 0.0, 0.5])
    c = parse_constraint("params>=1M")
    assert np.allclose(c.violation(np.array([2e6, 0.5e6])), [-1.0, 0.5])


def test_check_budgets_gives_best_achievable():
    bounds = {"macs": (7.7e6, 105e6), "params": (0.3e6, 2.9e6)}
    check_budgets([parse_constraint("flops<=60M")], bounds, "x")
    with pytest.raises(BudgetError, match="smallest achievable macs is 7.7e\\+06"):
        check_budgets([parse_constraint("flops<=5M")], bounds, "x")
    with pytest.raises(BudgetError, match="largest achievable params is 2.9e\\+06"):
        check_budgets([parse_constraint("params>=3M")], bounds, "x")
    with pytest.raises(ConfigError, match="--lut"):
        check_budgets([parse_constraint("latency_ms<=3")], bounds, "x")
