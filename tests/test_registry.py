"""The one registry type behind every extension point (oneshot/registry.py)."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from oneshot.errors import ConfigError
from oneshot.registry import Registry


def factory():
    """A factory whose first docstring line becomes its description."""


def test_names_descriptions_and_unknown_names():
    r = Registry("things", "thing")
    r.register("b", factory)
    r.register("a", "json:dumps", "lazy, imported on first use")
    assert r.names() == ["b", "a"] and "a" in r and list(r) == ["b", "a"]
    assert r.description("b") == "A factory whose first docstring line becomes its description."
    with pytest.raises(ConfigError, match=r"unknown thing 'c'; valid: b, a"):
        r.get("c")
    with pytest.raises(ConfigError, match=r"--thing 'c': unknown thing; valid: b, a"):
        r.check("c", "--thing")


def test_duplicates_are_refused_unless_the_same_target():
    r = Registry("things", "thing")
    r.register("x", factory)
    r.register("x", factory)                          # a module imported again: a no-op
    r.register("x", f"{__name__}:factory")           # the same target, named lazily
    with pytest.raises(ValueError, match="already registered"):
        r.register("x", "json:dumps")
    with pytest.raises(ValueError, match="module:attribute"):
        r.register("y", "no-colon")


def test_lazy_targets_import_on_first_use(monkeypatch):
    r = Registry("things", "thing")
    r.register("lazy", "oneshot_registry_probe:target")
    assert "oneshot_registry_probe" not in sys.modules and r.target_path("lazy") == "oneshot_registry_probe:target"
    with pytest.raises(ConfigError, match="cannot be loaded"):
        r.get("lazy")
    monkeypatch.setitem(sys.modules, "oneshot_registry_probe", SimpleNamespace(target=42))
    assert r.get("lazy") == 42


def test_entry_point_plugins_are_registered(monkeypatch):
    import importlib.metadata as md

    ep = SimpleNamespace(name="plugged", value="json:loads")
    monkeypatch.setattr(md, "entry_points", lambda group: [ep] if group == "oneshot.things" else [])
    r = Registry("things", "thing")
    r.register("builtin", factory)
    assert r.names() == ["builtin", "plugged"]
    import json

    assert r.get("plugged") is json.loads and "plugin" in r.description("plugged")
