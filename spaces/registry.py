"""The registry of search spaces (``SPACES``): ``register_space``, ``create_space(target, **options)``,
``list_spaces``. A space is a factory ``f(**options) -> SearchSpace``; its keyword defaults are the
options ``-o key=value`` may set.

``--space`` is resolved here, once, for every command: a registered name (built-ins and the
``oneshot.spaces`` entry points of installed packages), a space file (``PATH.yaml``, ``.yml`` or
``.json``, see ``spec_file``), or a plugin factory ``package.module:factory``."""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

from oneshot.errors import ConfigError
from oneshot.registry import Registry

from .core import SearchSpace

SPACES: Registry[Callable[..., SearchSpace]] = Registry("spaces", "search space", builtins="oneshot.spaces.builtin",
                                                    valid_label="valid spaces")


def register_space(name: str, description: str = "") -> Callable:
    """Decorator: register a factory ``f(**options) -> SearchSpace`` under ``name``."""
    return SPACES.decorator(name, description)


def list_spaces() -> list[str]:
    """Names of all registered spaces, sorted."""
    return sorted(SPACES.names())


def space_description(name: str) -> str:
    return SPACES.description(name)


def is_plugin_target(target: str) -> bool:
    """``package.module:factory`` (and not a registered name)."""
    return isinstance(target, str) and target.count(":") == 1 and all(target.split(":")) and target not in SPACES


def plugin_factory(target: str) -> Callable[..., SearchSpace]:
    """Import ``package.module:factory``; a missing package is one line naming what to install."""
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or module_name).split(".")[0]
        raise ConfigError(f"space {target!r} comes from the Python package {missing!r}, which is not installed "
                          f"here: install it (pip install {missing}) on this machine") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"space {target!r}: module {module_name!r} has no factory {attr!r}")
    return factory


def _factory(target: str) -> Callable[..., SearchSpace]:
    if is_plugin_target(target):
        return plugin_factory(target)
    SPACES.check(target)
    return SPACES.get(target)


def space_options(name: str) -> dict[str, Any]:
    """The options a space accepts, with their defaults (a name, a space file or a plugin target)."""
    from .spec_file import file_options, is_space_file

    if is_space_file(name):
        return file_options(name)
    sig = inspect.signature(_factory(name))
    return {p.name: p.default for p in sig.parameters.values()}


def create_space(name: str, **options: Any) -> SearchSpace:
    """Build a space from a registered name, a space file (``.yaml``/``.yml``/``.json``) or a plugin
    ``package.module:factory``; unknown names and options get errors listing the valid ones."""
    from .spec_file import is_space_file, load_space_file

    if is_space_file(name):
        return load_space_file(name, **options)
    factory = _factory(name)
    valid = space_options(name)
    unknown = set(options) - set(valid)
    if unknown:
        raise ConfigError(f"space {name!r} has no option(s) {sorted(unknown)}; valid options: "
                          + ", ".join(f"{k} (default {v!r})" for k, v in valid.items()))
    space = factory(**options)
    space.name = name
    return space
