"""The registry of search spaces (``SPACES``): ``register_space``, ``create_space(target, **options)``,
``list_spaces``. A space is a factory ``f(**options) -> SearchSpace``; its keyword defaults are the
options ``-o key=value`` may set.

``--space`` is resolved here, once, for every command: a registered name (built-ins and the
``oneshot.spaces`` entry points of installed packages), a space file (``PATH.yaml``, ``.yml`` or
``.json``, see ``spec_file``), or a plugin factory ``package.module:factory``."""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Union

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


#: What ``--space`` / ``TrainConfig.space`` may hold: a name, a space file, a plugin target, or a
#: recorded description (``SearchSpace.to_json()``: rebuilds a file space without its file).
SpaceRef = Union[str, dict]


def space_label(target: SpaceRef) -> str:
    """A short name of ``target`` for messages (a recorded description by its name)."""
    return str(target.get("name", "?")) if isinstance(target, dict) else str(target)


def space_ref(space: SearchSpace) -> SpaceRef:
    """What rebuilds ``space`` anywhere: its name, or its recorded description when the name alone
    does not (a space file's space)."""
    data = space.to_json()
    return data if "spec" in data else space.name


def space_options(name: SpaceRef) -> dict[str, Any]:
    """The options a space accepts, with their defaults (a name, a space file, a plugin target or a
    recorded description)."""
    from .spec_file import file_options, is_space_file

    if isinstance(name, dict):
        return dict(name.get("options", {}))
    if is_space_file(name):
        return file_options(name)
    sig = inspect.signature(_factory(name))
    return {p.name: p.default for p in sig.parameters.values()}


def create_space(name: SpaceRef, **options: Any) -> SearchSpace:
    """Build a space from a registered name, a space file (``.yaml``/``.yml``/``.json``), a plugin
    ``package.module:factory`` or a recorded description (``SearchSpace.to_json()``); unknown names
    and options get errors listing the valid ones."""
    from .spec_file import is_space_file, load_space_file, space_from_recorded

    if isinstance(name, dict):
        return space_from_recorded(name, **options)
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
