"""Unexpected errors to the error tracker (Sentry), without importing it.

``report_error`` does nothing until ``configure`` installs a reporter (``_sentry.py``). It is
called only where an error is a bug rather than a known failure: an exception outside the
library's error tree during a turn, an unhandled exception in a request. Provider failures,
store outages and the caller's mistakes are answered with their status and are not reported.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["report_error"]

_reporter: Callable[[BaseException], object] | None = None


def install(reporter: Callable[[BaseException], object] | None) -> None:
    """Send reported errors to ``reporter`` from now on (``None``: nowhere). For ``_setup``."""
    global _reporter
    _reporter = reporter


def report_error(exc: BaseException) -> None:
    """Send ``exc`` to the error tracker, if one is configured (scrubbed there of content)."""
    reporter = _reporter
    if reporter is not None:
        reporter(exc)
