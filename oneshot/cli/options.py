"""``KEY=VALUE`` options of the command line (space options, strategy parameters, evaluator options)."""
from __future__ import annotations

import json
from typing import Any, Sequence

from oneshot.errors import ConfigError


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"none"`` -> None, JSON (lists, booleans) as JSON, else the text."""
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text.lower() in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_key_values(pairs: Sequence[str] | None, flag: str, example: str) -> dict[str, Any]:
    """``["pop_size=30", "p=0.1"]`` -> ``{"pop_size": 30, "p": 0.1}``; a pair without ``=`` is refused,
    naming ``flag`` and an ``example``."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise ConfigError(f"{flag} {pair!r}: write KEY=VALUE, e.g. {example}")
        key, value = pair.split("=", 1)
        out[key.strip()] = parse_value(value.strip())
    return out
