"""Request middleware (to be completed): request ids, one log line a request, metrics, the
body limit, CORS."""

from __future__ import annotations

from fastapi import FastAPI

from ..config import Settings

__all__ = ["install_middleware"]


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Nothing yet."""
