"""Logging setup for the command line: plain text or one JSON object a line.

The library itself only logs to ``logging.getLogger("agentcli...")``; it never configures
handlers. Records carry structured fields in ``extra`` (session id, lengths, tokens, duration,
outcome); at INFO level no message content and no secret is ever logged.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["JSONFormatter", "configure_logging"]

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            base += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return base


def configure_logging(
    level: str = "WARNING",
    fmt: Literal["text", "json"] = "text",
    stream: Any = None,
) -> logging.Handler:
    """Attach one handler to the ``agentcli`` logger (replacing any it had before)."""
    from ._redact import RedactingFilter

    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())  # a driver's error may quote a URL with its password
    handler.setFormatter(
        JSONFormatter() if fmt == "json" else _TextFormatter("%(levelname)s %(name)s: %(message)s")
    )
    logger = logging.getLogger("agentcli")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler
