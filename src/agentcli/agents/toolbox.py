"""The tools a provider agent offers: its own, plus those of tool sources read on every turn."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError
from ..tools import tools_by_name

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["ToolSource", "Toolbox"]

Schema = Callable[["Tool"], dict[str, Any]]


class ToolSource(Protocol):
    """Anything that offers tools, read on every turn (an open ``agentcli.mcp.MCPToolset``)."""

    @property
    def tools(self) -> Sequence[Tool]: ...


class Toolbox:
    """Tools by name and their schemas in one wire format; fixed tools' schemas are built once."""

    def __init__(self, tools: Sequence[Tool], sources: Sequence[ToolSource], schema: Schema):
        self.tools = list(tools)
        self.sources = list(sources)
        self._schema = schema
        self._fixed = _by_name(self.tools)
        self._fixed_schemas = [schema(t) for t in self._fixed.values()]

    def current(self) -> tuple[dict[str, Tool], list[dict[str, Any]]]:
        """The tools on offer this turn, by name, and their schemas."""
        if not self.sources:
            return self._fixed, self._fixed_schemas
        tools = _by_name([*self.tools, *(t for source in self.sources for t in source.tools)])
        return tools, [self._schema(t) for t in tools.values()]


def _by_name(tools: Iterable[Tool]) -> dict[str, Tool]:
    try:
        return tools_by_name(tools)
    except ValueError as exc:  # two tools with one name: the agent's configuration is wrong
        raise ConfigError(str(exc)) from None
