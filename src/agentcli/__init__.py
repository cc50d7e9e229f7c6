"""agentcli: build and run LLM agents.

Write an agent once (subclass ``AgentInterface``, implement ``async process(context)``) and get
a terminal chat, persistent sessions with safe context cleanup, provider agents with tools, and
token and cost accounting.

Names are imported on first use, so ``import agentcli`` costs almost nothing. ``_WHERE`` is the
one list of the public names: ``__all__`` and the lazy imports are made from it, and a test
checks that the ``TYPE_CHECKING`` imports below (for type checkers) say the same.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    # ``X as X``: an explicit re-export for type checkers (mypy --strict, ruff).
    from agentcli.agent import AgentInterface as AgentInterface
    from agentcli.agent import StreamEvent as StreamEvent
    from agentcli.agent import TextDelta as TextDelta
    from agentcli.agent import ToolCallEvent as ToolCallEvent
    from agentcli.agent import ToolResultEvent as ToolResultEvent
    from agentcli.agent import TurnComplete as TurnComplete
    from agentcli.agents import AnthropicAgent as AnthropicAgent
    from agentcli.agents import EchoAgent as EchoAgent
    from agentcli.agents import FunctionAgent as FunctionAgent
    from agentcli.agents import OpenAIAgent as OpenAIAgent
    from agentcli.agents.factory import create_agent as create_agent
    from agentcli.config import Settings as Settings
    from agentcli.config import load_settings as load_settings
    from agentcli.context import ContextTracker as ContextTracker
    from agentcli.context import ContextUsage as ContextUsage
    from agentcli.errors import AgentCLIError as AgentCLIError
    from agentcli.errors import AgentError as AgentError
    from agentcli.errors import AuthenticationError as AuthenticationError
    from agentcli.errors import BudgetExceededError as BudgetExceededError
    from agentcli.errors import ConfigError as ConfigError
    from agentcli.errors import ContextLengthError as ContextLengthError
    from agentcli.errors import InvalidInputError as InvalidInputError
    from agentcli.errors import MissingDependencyError as MissingDependencyError
    from agentcli.errors import ModelNotFoundError as ModelNotFoundError
    from agentcli.errors import ProviderError as ProviderError
    from agentcli.errors import ProviderTimeoutError as ProviderTimeoutError
    from agentcli.errors import ProviderUnavailableError as ProviderUnavailableError
    from agentcli.errors import RateLimitError as RateLimitError
    from agentcli.errors import RuntimeFailure as RuntimeFailure
    from agentcli.errors import SessionBusyError as SessionBusyError
    from agentcli.errors import SessionConflictError as SessionConflictError
    from agentcli.errors import SessionNotFoundError as SessionNotFoundError
    from agentcli.errors import StoreError as StoreError
    from agentcli.errors import UserError as UserError
    from agentcli.messages import AgentContext as AgentContext
    from agentcli.messages import AgentResponse as AgentResponse
    from agentcli.messages import Message as Message
    from agentcli.messages import ToolCall as ToolCall
    from agentcli.messages import messages_adapter as messages_adapter
    from agentcli.session import SessionManager as SessionManager
    from agentcli.stores import MemoryStore as MemoryStore
    from agentcli.stores import SessionInfo as SessionInfo
    from agentcli.stores import SessionStore as SessionStore
    from agentcli.stores import SQLiteStore as SQLiteStore
    from agentcli.stores import open_store as open_store
    from agentcli.tools import Tool as Tool
    from agentcli.tools import tool as tool
    from agentcli.usage import CleanupReport as CleanupReport
    from agentcli.usage import ContextReport as ContextReport
    from agentcli.usage import Usage as Usage
    from agentcli.usage import UsageLevel as UsageLevel

# Public name -> the module it is imported from. A package here (``agentcli.agents``,
# ``agentcli.stores``, ``agentcli.session``) may define the name in a private submodule.
_WHERE = {
    # the agent interface and its stream events
    "AgentInterface": "agentcli.agent",
    "StreamEvent": "agentcli.agent",
    "TextDelta": "agentcli.agent",
    "ToolCallEvent": "agentcli.agent",
    "ToolResultEvent": "agentcli.agent",
    "TurnComplete": "agentcli.agent",
    # agents
    "AnthropicAgent": "agentcli.agents",
    "EchoAgent": "agentcli.agents",
    "FunctionAgent": "agentcli.agents",
    "OpenAIAgent": "agentcli.agents",
    "create_agent": "agentcli.agents.factory",
    # tools
    "Tool": "agentcli.tools",
    "tool": "agentcli.tools",
    # settings
    "Settings": "agentcli.config",
    "load_settings": "agentcli.config",
    # messages
    "AgentContext": "agentcli.messages",
    "AgentResponse": "agentcli.messages",
    "Message": "agentcli.messages",
    "ToolCall": "agentcli.messages",
    "messages_adapter": "agentcli.messages",
    # usage and the context window
    "CleanupReport": "agentcli.usage",
    "ContextReport": "agentcli.usage",
    "Usage": "agentcli.usage",
    "UsageLevel": "agentcli.usage",
    "ContextTracker": "agentcli.context",
    "ContextUsage": "agentcli.context",
    # sessions and stores
    "SessionManager": "agentcli.session",
    "MemoryStore": "agentcli.stores",
    "SQLiteStore": "agentcli.stores",
    "SessionInfo": "agentcli.stores",
    "SessionStore": "agentcli.stores",
    "open_store": "agentcli.stores",
    # the error tree
    "AgentCLIError": "agentcli.errors",
    "AgentError": "agentcli.errors",
    "AuthenticationError": "agentcli.errors",
    "BudgetExceededError": "agentcli.errors",
    "ConfigError": "agentcli.errors",
    "ContextLengthError": "agentcli.errors",
    "InvalidInputError": "agentcli.errors",
    "MissingDependencyError": "agentcli.errors",
    "ModelNotFoundError": "agentcli.errors",
    "ProviderError": "agentcli.errors",
    "ProviderTimeoutError": "agentcli.errors",
    "ProviderUnavailableError": "agentcli.errors",
    "RateLimitError": "agentcli.errors",
    "RuntimeFailure": "agentcli.errors",
    "SessionBusyError": "agentcli.errors",
    "SessionConflictError": "agentcli.errors",
    "SessionNotFoundError": "agentcli.errors",
    "StoreError": "agentcli.errors",
    "UserError": "agentcli.errors",
}

__all__ = [*sorted(_WHERE), "__version__"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'agentcli' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
