"""Built-in agents. Provider agents import their SDK only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .offline import EchoAgent, FunctionAgent

if TYPE_CHECKING:
    from .anthropic import AnthropicAgent
    from .factory import create_agent
    from .openai import OpenAIAgent

__all__ = ["AnthropicAgent", "EchoAgent", "FunctionAgent", "OpenAIAgent", "create_agent"]

_LAZY = {"create_agent": ".factory", "OpenAIAgent": ".openai", "AnthropicAgent": ".anthropic"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module, __name__), name)
