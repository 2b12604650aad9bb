"""How one environment value is read: the parsers ``config.Settings.from_env`` applies.

Each takes the raw text and returns the value, or raises ``ValueError`` with a
message that completes "REGISTRY_X ..." (``must be ...``), which start-up
prints, one line per bad value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def integer(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``."""
    return _within(int, "an integer", low, high)


def number(low: float, high: float) -> Callable[[str], float]:
    """A number from ``low`` to ``high``."""
    return _within(float, "a number", low, high)


def _within(kind: Callable[[str], N], what: str, low: N, high: N) -> Callable[[str], N]:
    def parse(raw: str) -> N:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"must be {what}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def choice(*options: str, upper: bool = False) -> Callable[[str], str]:
    """One of ``options`` (compared in upper case when ``upper``)."""

    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def url(*schemes: str) -> Callable[[str], str]:
    """A URL with one of ``schemes``."""

    def parse(raw: str) -> str:
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme not in schemes or not rest:
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return raw

    return parse


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def token(raw: str) -> str:
    value = raw.strip()
    if len(value) < 16:
        raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 32`)")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain spaces")
    return value


def nonempty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be blank")
    return raw
