"""Numeric options in store URLs, range-checked where they are read: a timeout of ``1e400``,
``nan`` or ``-1`` would otherwise wait forever or fail later in a driver's own words."""

from __future__ import annotations

import math
import re

from ..errors import ConfigError

__all__ = ["check_postgres_numbers", "check_redis_numbers", "seconds_option", "whole_option"]

_WHOLE = re.compile(r"[+-]?[0-9]{1,18}")  # ASCII digits only, and never a huge int() to parse


def seconds_option(name: str, value: str, where: str, *, low: float, high: float) -> float:
    """``value`` as seconds in ``[low, high]``; ``ConfigError`` naming the option otherwise."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and low <= seconds <= high):
        raise ConfigError(
            f"{name}={value!r} in {where!r} must be a number of seconds from {low:g} to {high:g}"
        )
    return seconds


def whole_option(name: str, value: str, where: str, *, low: int, high: int) -> int:
    """``value`` as a whole number in ``[low, high]``; ``ConfigError`` naming the option."""
    text = value.strip()
    number = int(text) if _WHOLE.fullmatch(text) else None
    if number is None or not low <= number <= high:
        raise ConfigError(
            f"{name}={value!r} in {where!r} must be a whole number from {low} to {high}"
        )
    return number


# Redis (redis-py reads these from the URL): name -> (seconds?, low, high).
_REDIS_NUMBERS: dict[str, tuple[bool, float, float]] = {
    "socket_timeout": (True, 0.001, 3600),
    "socket_connect_timeout": (True, 0.001, 3600),
    "health_check_interval": (False, 0, 86_400),
}
# PostgreSQL (libpq's parameters, whole numbers): name -> (low, high).
_POSTGRES_NUMBERS = {
    "connect_timeout": (0, 3600),
    "keepalives_idle": (0, 86_400),
    "keepalives_interval": (0, 86_400),
    "keepalives_count": (0, 1000),
    "tcp_user_timeout": (0, 3_600_000),  # milliseconds
}


def check_redis_numbers(query: list[tuple[str, str]], where: str) -> None:
    for name, value in query:
        if name in _REDIS_NUMBERS:
            seconds, low, high = _REDIS_NUMBERS[name]
            if seconds:
                seconds_option(name, value, where, low=low, high=high)
            else:
                whole_option(name, value, where, low=int(low), high=int(high))


def check_postgres_numbers(params: dict[str, str], where: str) -> None:
    for name, (low, high) in _POSTGRES_NUMBERS.items():
        value = params.get(name)
        if value is not None:
            whole_option(name, str(value), where, low=low, high=high)
