"""Spaces from other packages: ``--space package.module:factory`` and the ``oneshot.spaces`` entry
point group; a plugin space records its import target and fails in one line where it is missing."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from oneshot.errors import ConfigError
from oneshot.spaces import create_space, space_from_json, space_options

PLUGIN = textwrap.dedent('''
    from oneshot.spaces.builder import LayoutBuilder, mb, skip
    from oneshot.spaces.layout import LayeredSpace, ResolutionPolicy


    def small(resolution: int = 16, num_classes: int = 10, width: int = 8) -> LayeredSpace:
        b = LayoutBuilder(ResolutionPolicy(resolution, 1, (), "stem stride 1"))
        b.stem(8, "relu")
        for i in range(2):
            cin = b.channels
            b.choice(f"l{i}", [("e3k3", mb(width, 3, 3, 1 + (i == 0), "relu", cin)),
                               ("e6k5", mb(width, 6, 5, 1 + (i == 0), "relu", cin))] + ([("skip", skip(width))] if i else []))
        b.head([32], "relu", num_classes)
        return b.space(LayeredSpace, {"resolution": resolution, "num_classes": num_classes, "width": width}, "plugin")
''')


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    pkg = tmp_path / "myspaces"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(PLUGIN)
    dist = tmp_path / "myspaces-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myspaces\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[oneshot.spaces]\nplug-small = myspaces.mod:small\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_module_factory_target(plugin_dir):
    space = create_space("myspaces.mod:small", width=16)
    assert space.name == "myspaces.mod:small" and space.options["width"] == 16
    assert space_options("myspaces.mod:small") == {"resolution": 16, "num_classes": 10, "width": 8}
    data = space.to_json()
    assert data["name"] == "myspaces.mod:small"  # the import target is what is recorded
    assert space_from_json(data).fingerprint() == space.fingerprint()
    with pytest.raises(ConfigError, match="has no option"):
        create_space("myspaces.mod:small", depth=3)
    with pytest.raises(ConfigError, match="module 'myspaces.mod' has no factory 'nothing'"):
        create_space("myspaces.mod:nothing")


def test_missing_plugin_package_is_one_line_naming_it():
    record = {"name": "acme_nas_spaces.zoo:big", "options": {}, "dimensions": []}
    with pytest.raises(ConfigError) as info:
        space_from_json(record)  # what a worker without the package does with a checkpoint's space
    message = str(info.value)
    assert "\n" not in message and "'acme_nas_spaces'" in message and "pip install acme_nas_spaces" in message


def test_entry_point_group_adds_a_space_to_every_command(plugin_dir):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])}
    run = lambda *argv: subprocess.run([sys.executable, "-m", "oneshot", *argv], env=env, capture_output=True,
                                       text=True, timeout=120)
    listed = run("spaces")
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith("plug-small"))
    assert "plugin from myspaces.mod:small" in line
    shown = run("arch-info", "plug-small", "02", "-o", "width=16")
    assert shown.returncode == 0, shown.stderr
    assert "space plug-small {'resolution': 16, 'num_classes': 10, 'width': 16}" in shown.stdout
