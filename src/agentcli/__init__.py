"""agentcli: build, run and serve LLM agents.

Write an agent once (subclass ``AgentInterface``, implement ``async process(context)``) and get
a terminal chat, persistent sessions with safe context cleanup, provider agents with tools,
token and cost accounting, and a web service.

Names are imported on first use, so ``import agentcli`` costs almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .agent import (
        AgentInterface,
        StreamEvent,
        TextDelta,
        ToolCallEvent,
        ToolResultEvent,
        TurnComplete,
    )
    from .agents import EchoAgent, FunctionAgent
    from .config import Settings, load_settings
    from .context import ContextTracker, ContextUsage, UsageLevel
    from .messages import AgentContext, AgentResponse, Message, ToolCall, messages_adapter
    from .session import CleanupReport, SessionManager
    from .stores import MemoryStore, SessionInfo, SessionStore, SQLiteStore, open_store

__all__ = [
    "AgentContext",
    "AgentInterface",
    "AgentResponse",
    "CleanupReport",
    "ContextTracker",
    "ContextUsage",
    "EchoAgent",
    "FunctionAgent",
    "MemoryStore",
    "Message",
    "SQLiteStore",
    "SessionInfo",
    "SessionManager",
    "SessionStore",
    "Settings",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolCallEvent",
    "ToolResultEvent",
    "TurnComplete",
    "UsageLevel",
    "__version__",
    "load_settings",
    "messages_adapter",
    "open_store",
]

_WHERE = {
    "AgentInterface": ".agent",
    "StreamEvent": ".agent",
    "TextDelta": ".agent",
    "ToolCallEvent": ".agent",
    "ToolResultEvent": ".agent",
    "TurnComplete": ".agent",
    "EchoAgent": ".agents",
    "FunctionAgent": ".agents",
    "Settings": ".config",
    "load_settings": ".config",
    "ContextTracker": ".context",
    "ContextUsage": ".context",
    "UsageLevel": ".context",
    "AgentContext": ".messages",
    "AgentResponse": ".messages",
    "Message": ".messages",
    "ToolCall": ".messages",
    "messages_adapter": ".messages",
    "CleanupReport": ".session",
    "SessionManager": ".session",
    "MemoryStore": ".stores",
    "SessionInfo": ".stores",
    "SessionStore": ".stores",
    "SQLiteStore": ".stores",
    "open_store": ".stores",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'agentcli' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
