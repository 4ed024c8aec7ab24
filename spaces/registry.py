"""The registry of search spaces (``SPACES``): ``register_space``, ``create_space(name, **options)``,
``list_spaces``. A space is a factory ``f(**options) -> SearchSpace``; its keyword defaults are the
options ``-o key=value`` may set."""
from __future__ import annotations

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


def space_options(name: str) -> dict[str, Any]:
    """The options a space accepts, with their defaults."""
    sig = inspect.signature(SPACES.get(name))
    return {p.name: p.default for p in sig.parameters.values()}


def create_space(name: str, **options: Any) -> SearchSpace:
    """Build a registered space; unknown names and options get errors listing the valid ones."""
    SPACES.check(name)
    valid = space_options(name)
    unknown = set(options) - set(valid)
    if unknown:
        raise ConfigError(f"space {name!r} has no option(s) {sorted(unknown)}; valid options: "
                          + ", ".join(f"{k} (default {v!r})" for k, v in valid.items()))
    space = SPACES.get(name)(**options)
    space.name = name
    return space
