"""One registry type for every extension point: spaces, strategies, evaluators, LUT formats,
samplers, BN policies, benchmarks and CLI commands are all ``Registry`` instances.

A name maps to a *target*: an object, or a lazy ``"package.module:attribute"`` string imported on
first use, so that listing names (``--help``, ``choices``) imports nothing heavy. Every entry has a
one-line description. Registering a name twice with a different target is refused (a plugin cannot
silently replace a built-in); registering the same target again is a no-op, because a module that
registers itself may be imported once per process (every Ray worker imports it again).

Third-party packages extend a registry without touching this project: an entry point in the group
``oneshot.<registry name>`` (e.g. ``oneshot.spaces``) named like the entry, whose value is the
``module:attribute`` target. Entry points are read on first lookup.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

from oneshot.errors import ConfigError

T = TypeVar("T")


@dataclass
class _Entry:
    target: Any           # the object, or a "module:attribute" string until first resolved
    description: str
    resolved: bool


class Registry(Generic[T]):
    """Named, described, lazily imported extension targets of one kind."""

    def __init__(self, name: str, what: str, builtins: str | None = None, valid_label: str = "valid"):
        """``name``: the registry's id (also the entry-point group ``oneshot.<name>``); ``what``: the
        singular noun in messages ("search space"); ``builtins``: a package whose modules register
        the built-in entries: on first lookup every module of it whose name does not start with
        ``_`` is imported, so adding a built-in is adding one file; ``valid_label`` introduces the
        list of valid names in the unknown-name error."""
        self.name = name
        self.what = what
        self.valid_label = valid_label
        self._builtins = builtins
        self._entries: dict[str, _Entry] = {}
        self._loaded = builtins is None
        self._plugins_loaded = False

    # ------------------------------------------------------------ writing
    def register(self, name: str, target: T | str, description: str = "") -> None:
        """Add ``name``; ``target`` is the object or ``"module:attribute"``. A different target under
        a taken name raises ``ValueError``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} needs a non-empty name, got {name!r}")
        if isinstance(target, str) and target.count(":") != 1:
            raise ValueError(f"{self.what} {name!r}: a lazy target is 'package.module:attribute', got {target!r}")
        old = self._entries.get(name)
        if old is not None:
            if old.target is target or _target_path(old.target) == _target_path(target):
                return
            raise ValueError(f"{self.what} {name!r} is already registered ({_target_path(old.target)}); "
                             f"choose another name")
        if not description and not isinstance(target, str):
            description = (getattr(target, "__doc__", None) or "").strip().split("\n")[0]
        self._entries[name] = _Entry(target, description, not isinstance(target, str))

    def decorator(self, name: str, description: str = "") -> Callable[[T], T]:
        """``@REGISTRY.decorator("name", "one line")`` on a class or factory function."""

        def wrap(target: T) -> T:
            self.register(name, target, description)
            return target

        return wrap

    # ------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """Every registered name, in registration order (built-ins first, then plugins)."""
        self._load()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def description(self, name: str) -> str:
        return self._entry(name).description

    def get(self, name: str) -> T:
        """The target of ``name``, imported if it was lazy; an unknown name lists the valid ones."""
        entry = self._entry(name)
        if not entry.resolved:
            module_name, attr = entry.target.split(":")
            try:
                entry.target = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"{self.what} {name!r} cannot be loaded from {entry.target!r} ({exc}); "
                                  f"reinstall the package that provides it") from None
            entry.resolved = True
        return entry.target

    def target_path(self, name: str) -> str:
        """``"module:attribute"`` of ``name`` (without importing it), e.g. to rebuild it in a worker."""
        return _target_path(self._entry(name).target)

    def check(self, name: str, flag: str | None = None) -> str:
        """``name`` if registered, else a ``ConfigError`` listing the valid names."""
        self._entry(name, flag)
        return name

    def help_text(self) -> str:
        """``name: description`` per entry, one line each (for ``--help`` and listings)."""
        return "; ".join(f"{n}: {self._entries[n].description}" if self._entries[n].description else n
                         for n in self.names())

    # ------------------------------------------------------------ internals
    def _entry(self, name: str, flag: str | None = None) -> _Entry:
        self._load()
        if name not in self._entries:
            where = f"{flag} {name!r}: unknown {self.what}" if flag else f"unknown {self.what} {name!r}"
            raise ConfigError(f"{where}; {self.valid_label}: {', '.join(self.names())}")
        return self._entries[name]

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            import pkgutil

            package = importlib.import_module(self._builtins)
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self._builtins}.{info.name}")
        self._load_plugins()

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=f"oneshot.{self.name}"):
            self.register(ep.name, ep.value, f"plugin from {ep.value}")


def _target_path(target: Any) -> str:
    # a module imported twice (every Ray worker imports its registrations again) defines equal but
    # distinct objects: the same "module:qualified name" counts as the same target
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', type(target).__name__)}"
