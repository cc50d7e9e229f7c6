"""The web service: ``create_app(settings)``; ``agentcli serve`` runs it on uvicorn.

Needs the ``server`` extra: ``pip install 'agentcli[server]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ..errors import MissingDependencyError

        try:
            from .app import create_app
        except ImportError as exc:
            if exc.name in {"fastapi", "starlette", "prometheus_client", "uvicorn"}:
                raise MissingDependencyError("the web service", "server") from exc
            raise
        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
