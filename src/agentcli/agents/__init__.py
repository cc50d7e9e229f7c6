"""Built-in agents. Provider agents import their SDK only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .offline import EchoAgent, FunctionAgent

if TYPE_CHECKING:
    from .factory import create_agent

__all__ = ["EchoAgent", "FunctionAgent", "create_agent"]


def __getattr__(name: str) -> Any:
    if name == "create_agent":
        from .factory import create_agent

        return create_agent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
