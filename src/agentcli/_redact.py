"""Store URLs carry passwords: this is the one place that hides them before anything is shown
(``config``, ``doctor``, logs, error messages)."""

from __future__ import annotations

import logging
import re

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
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def redact_logger(name: str) -> None:
    """Give the ``name`` logger a :class:`RedactingFilter` (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
