"""The package layers (docs/architecture.md): lower layers never import upper ones, so no import cycle
between packages can come back; every package imports on its own."""
from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: where the installed package ``oneshot.*`` lives in the source tree
SOURCES = {"oneshot": ROOT / "oneshot", "oneshot.spaces": ROOT / "spaces", "oneshot.strategies": ROOT / "strategies"}

#: lowest first; a component may import only components of lower layers (and itself)
LAYERS = [
    ["oneshot.errors"],
    ["oneshot.atomic", "oneshot.registry", "oneshot.runlock", "oneshot.allocator", "oneshot.pareto", "oneshot.provenance",
     "oneshot.distributed"],
    ["oneshot.spaces", "oneshot.data"],
    ["oneshot.latency", "oneshot.strategies", "oneshot.sampling", "oneshot.supernet"],
    ["oneshot.costs", "oneshot.checkpoint"],
    ["oneshot.training"],
    ["oneshot.evaluation"],
    ["oneshot.export"],
    ["oneshot.standalone", "oneshot.search"],
    ["oneshot.ranking", "oneshot.sweep", "oneshot.landmark_runs"],
    ["oneshot.cli"],
]
#: the public facade (``oneshot.__version__``, the lazy ``oneshot.load_model``) and ``python -m oneshot``
FACADE = {"oneshot", "oneshot.__main__"}
LAYER = {component: i for i, layer in enumerate(LAYERS) for component in layer}


def _module_name(path: Path) -> tuple[str, bool]:
    for prefix, root in sorted(SOURCES.items(), key=lambda kv: -len(kv[0])):
        if path.is_relative_to(root):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_init = parts[-1] == "__init__"
            return ".".join([prefix, *(parts[:-1] if is_init else parts)]), is_init
    raise AssertionError(path)


def _component(module: str) -> str:
    return ".".join(module.split(".")[:2])


def import_edges() -> list[tuple[str, str, str]]:
    """(importing module, imported module, file:line) for every import of the project by the project,
    function-level (lazy) imports included: a lazy import is still a dependency."""
    edges = []
    for root in SOURCES.values():
        for path in sorted(root.rglob("*.py")):
            module, is_init = _module_name(path)
            package = module if is_init else module.rsplit(".", 1)[0]
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom):
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                    targets = [".".join(base + ([node.module] if node.module else []))]
                    if node.level and not node.module:  # `from . import x`: the submodules
                        targets = [f"{targets[0]}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                for target in targets:
                    if target == "oneshot" or target.startswith("oneshot."):
                        edges.append((module, target, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return edges


def test_every_component_has_a_layer():
    components = {_component(m) for m, _, _ in import_edges()} | {_component(t) for _, t, _ in import_edges()}
    missing = sorted(components - set(LAYER) - FACADE)
    assert not missing, f"place these in LAYERS (and docs/architecture.md): {missing}"


def test_lower_layers_never_import_upper_ones():
    bad = []
    for module, target, where in import_edges():
        src, dst = _component(module), _component(target)
        if src == dst or src in FACADE or dst in FACADE:
            continue
        if LAYER[dst] >= LAYER[src]:
            bad.append(f"{where}: {src} (layer {LAYER[src]}) imports {dst} (layer {LAYER[dst]})")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_the_checker_sees_lazy_and_relative_imports():
    edges = {(m, t) for m, t, _ in import_edges()}
    assert ("oneshot.costs.pricing", "oneshot.costs.counting") in edges       # relative
    assert ("oneshot.search.run", "oneshot.runlock") in edges                 # inside a function
    assert ("oneshot.spaces.registry", "oneshot.registry") in edges          # spaces/ maps to oneshot.spaces


def _import_alone(module: str) -> tuple[str, int, str]:
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT)
    return module, proc.returncode, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""


@pytest.mark.slow
def test_each_package_imports_alone():
    packages = sorted(c for c in LAYER)
    with ThreadPoolExecutor(2) as pool:
        failures = [r for r in pool.map(_import_alone, packages) if r[1] != 0]
    assert not failures, failures


def test_no_function_is_longer_than_80_lines():
    """Long functions are split along their sections (issue 14's bar), so each reads on one screen."""
    long = []
    for root in SOURCES.values():
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > 80:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "split these along their sections:\n" + "\n".join(long)
