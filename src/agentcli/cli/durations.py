"""Durations as people type them: ``30d``, ``12h``, ``90m``, ``2w``, ``1d12h``, ``45s``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])", re.IGNORECASE)
_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """Raises ``ValueError`` with an example when ``text`` is not a duration."""
    compact = text.strip().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"cannot read {text!r} as a duration: use e.g. 30d, 12h, 90m or 1d12h")
    seconds = sum(float(number) * _SECONDS[unit.lower()] for number, unit in parts)
    if seconds <= 0:
        raise ValueError("the duration must be more than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"the duration {text!r} is too long") from None
