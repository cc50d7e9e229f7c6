"""``Retry-After``: read as the SDKs read it, and put in words (how long, until when).

The SDKs retry 408, 409, 429 and 5xx responses and sleep for what such a response asks;
``agentcli.agents.provider`` fails at once instead when the wait is longer than
``AGENTCLI_MAX_RETRY_AFTER``, with the error made here.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import ProviderError, ProviderUnavailableError, RateLimitError

if TYPE_CHECKING:
    from .registry import ProviderInfo

__all__ = [
    "RETRIED_STATUSES",
    "describe_wait",
    "retry_after_seconds",
    "retry_hint",
    "usable_wait",
    "wait_too_long",
]

# Statuses the SDKs retry (408, 409, 429, 5xx), so the ones whose Retry-After they would honour.
RETRIED_STATUSES = frozenset({408, 409, 429})


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a server asked for, in seconds, read as the SDKs read it: ``retry-after-ms``,
    else ``retry-after`` as seconds or as an HTTP date.

    ``None`` when there is none or it cannot be read (text, NaN); a negative value or a date in
    the past is 0 (retry now); a value too large for a float, or infinity, is ``math.inf``:
    longer than any cap (the anthropic SDK would otherwise sleep for 50 days).
    """
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return _wait(float(value) / scale)
        except ValueError:
            continue  # not a number: the SDKs try the next header, then a date
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        return _wait(when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def _wait(seconds: float) -> float | None:
    return None if math.isnan(seconds) else max(0.0, seconds)


_DAY = 86_400.0
_YEAR = 365 * _DAY


def describe_wait(seconds: float) -> str:
    """A wait in words: ``"300 s"``, or ``"more than a year"`` (infinity included)."""
    return f"{math.ceil(seconds)} s" if seconds <= _YEAR else "more than a year"


def retry_hint(seconds: float) -> str:
    """When to retry: a clock time within a day, a date within a century."""
    if seconds > 100 * _YEAR:  # past what a calendar (or a float of time) holds sensibly
        return f"retry after {describe_wait(seconds)}"
    shape = "%H:%M:%S" if seconds <= _DAY else "%Y-%m-%d %H:%M"
    at = time.strftime(shape, time.localtime(time.time() + seconds))
    return f"retry after {at} (in {describe_wait(seconds)})"


def wait_too_long(
    info: ProviderInfo, status: int, wait: float, cap: float, detail: str
) -> ProviderError:
    """The server asks to wait longer than ``AGENTCLI_MAX_RETRY_AFTER``: the error to fail
    with at once (``detail``, the error body's message, already scrubbed)."""
    reason = f": {detail}" if detail else ""
    message = (
        f"{info.display_name} asks to wait {describe_wait(wait)} before retrying ({status}"
        f"{reason}), longer than AGENTCLI_MAX_RETRY_AFTER ({cap:g} s); {retry_hint(wait)}"
    )
    if status == 429:
        return RateLimitError(message, provider=info.prefix, retry_after=usable_wait(wait))
    return ProviderUnavailableError(message, provider=info.prefix, status=status)


def usable_wait(seconds: float | None) -> float | None:
    """A wait a caller can sleep on (``RateLimitError.retry_after``): infinity is no hint."""
    return seconds if seconds is not None and math.isfinite(seconds) else None
