"""Store URLs carry passwords: this is the one place that hides them before anything is shown
(``config``, ``doctor``, logs, error messages)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

__all__ = ["RedactingFilter", "redact_logger", "redact_text", "redact_url"]

_SECRET_PARAMS = re.compile(r"(?i)([?&](?:password|passwd|pass|token|secret)=)[^&#\s]*")
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]*):([^/\s]*)@")


def redact_url(url: str) -> str:
    """``scheme://user:****@host/...`` with secret query parameters masked too."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """``text`` with every URL's password (and secret query parameters) replaced by ****."""
    text = _CREDENTIALS.sub(lambda m: f"{m[1]}{m[2]}:****@", text)
    return _SECRET_PARAMS.sub(lambda m: f"{m[1]}****", text)


class RedactingFilter(logging.Filter):
    """Hides passwords in a record's message (drivers log their connection errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The template and its arguments are cleaned apart, never merged: an error tracker
        # that sees this record later (Sentry) sends the template only, without the arguments,
        # which may hold what a user wrote.
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redact_arg(a) for a in args)
        elif isinstance(args, Mapping):
            record.args = {k: _redact_arg(v) for k, v in args.items()}
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad template: logging reports it itself
            return True
        cleaned = redact_text(message)
        if cleaned != message:  # an argument's own str() held a password: merge, to hide it
            record.msg, record.args = cleaned, ()
        return True


def _redact_arg(value: object) -> object:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, BaseException):  # a driver's error quoting its connection URL
        text = str(value)
        cleaned = redact_text(text)
        return cleaned if cleaned != text else value
    return value


def redact_logger(name: str) -> None:
    """Give the ``name`` logger a :class:`RedactingFilter` (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
