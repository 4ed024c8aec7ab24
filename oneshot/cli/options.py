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


def parse_pairs(pairs: Sequence[str] | None, flag: str, example: str, *, form: str = "KEY=VALUE",
                strict: bool = False) -> dict[str, str]:
    """``["a=x", "b=y"]`` -> ``{"a": "x", "b": "y"}`` (stripped text); a pair without ``=`` is refused,
    naming ``flag``, the ``form`` and an ``example``. ``strict`` also refuses an empty side and a key
    given twice (a column mapping); otherwise the last value of a key wins."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or (strict and not (key and value)):
            raise ConfigError(f"{flag} {pair!r}: write {form}, e.g. {example}")
        if strict and key in out:
            raise ConfigError(f"{flag} {key!r} is given twice")
        out[key] = value
    return out


def parse_key_values(pairs: Sequence[str] | None, flag: str, example: str) -> dict[str, Any]:
    """``["pop_size=30", "p=0.1"]`` -> ``{"pop_size": 30, "p": 0.1}`` (values read by ``parse_value``)."""
    return {key: parse_value(value) for key, value in parse_pairs(pairs, flag, example).items()}
