"""Tools from MCP servers, through the official ``mcp`` SDK (imported only when used).

A server is named by a spec string: ``'command arg1 arg2'`` starts a stdio server (split like a
shell would, without a shell); an ``http://`` or ``https://`` URL reaches a streamable HTTP
server. ``MCPToolset`` connects to each, lists its tools and wraps each as a ``Tool``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import tempfile
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic_core import to_json

from .errors import ConfigError, MissingDependencyError
from .tools import Tool, ToolError

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import CallToolResult, ContentBlock
    from mcp.types import Tool as MCPToolInfo

__all__ = ["MCPServerSpec", "MCPTool", "MCPToolset", "parse_mcp_spec"]

_MAX_PAGES = 100  # a server whose tool listing never ends must not hang the start-up
_STDERR_TAIL = 2000  # characters of a failed server's stderr shown in the error
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class MCPServerSpec:
    """A parsed server spec: ``kind`` ``stdio`` (``argv``) or ``http`` (``url``)."""

    kind: Literal["stdio", "http"]
    text: str
    argv: tuple[str, ...] = ()
    url: str = ""

    @property
    def label(self) -> str:
        """How errors name the server; a URL loses any user:password and query."""
        if self.kind == "stdio":
            return shlex.join(self.argv)
        parts = urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_mcp_spec(spec: str) -> MCPServerSpec:
    """``'command args'`` is a stdio server; an ``http(s)://`` URL is a streamable HTTP server."""
    text = spec.strip()
    if not text:
        raise ConfigError("empty MCP server spec; give a command ('python server.py') or a URL")
    if re.match(r"(?i)^https?://", text):
        parts = urlsplit(text)
        if not parts.hostname:
            raise ConfigError(f"MCP server URL {text!r} has no host")
        return MCPServerSpec("http", text, url=text)
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise ConfigError(f"cannot split MCP server command {text!r}: {exc}") from None
    return MCPServerSpec("stdio", text, argv=argv)


class MCPTool(Tool):
    """One tool of a connected MCP server; ``remote_name`` is its name on the server."""

    def __init__(
        self,
        *,
        client: Client,
        server: MCPServerSpec,
        remote_name: str,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
    ) -> None:
        super().__init__(name=name, description=description, parameters=parameters)
        self.remote_name = remote_name
        self.server = server
        self._client = client

    async def run(self, arguments: dict[str, Any]) -> object:
        from mcp import MCPError

        try:
            self._client.session  # noqa: B018 - raises RuntimeError once the client is closed
        except RuntimeError:
            raise ToolError(
                f"MCP server {self.server.label} is not connected (its toolset was closed)"
            ) from None
        try:
            result = await self._client.call_tool(self.remote_name, arguments)
        except MCPError as exc:
            raise ToolError(f"MCP server {self.server.label} failed: {exc.message}") from exc
        text = _result_text(result)
        if result.is_error:  # the server's word for a failure: a result marked is_error
            raise ToolError(text or f"MCP tool {self.remote_name!r} reported a failure")
        return text


class MCPToolset:
    """Connect to MCP servers; ``tools`` holds their tools while the ``async with`` lasts.

    Two servers offering one tool name is a ``ConfigError``, unless ``prefix=True``, which names
    every tool ``<server>__<tool>``. Names are made API-safe (letters, digits, ``_``, ``-``).
    ``env`` adds variables for stdio servers (the SDK passes them only a few safe ones, such as
    ``PATH`` and ``HOME``, so keys in our environment do not leak to them). Enter and leave it
    in one task: the SDK's clients hold task groups. Its tools may be called from any task.
    """

    def __init__(
        self,
        specs: Iterable[str | MCPServerSpec],
        *,
        prefix: bool = False,
        connect_timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        self.specs = [s if isinstance(s, MCPServerSpec) else parse_mcp_spec(s) for s in specs]
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.tools: list[Tool] = []
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        _require_mcp()
        if self._stack is not None:
            raise RuntimeError("MCPToolset is already open")
        tools: list[Tool] = []
        labels: set[str] = set()
        stack = AsyncExitStack()
        try:
            # One after another in this task: the SDK's clients hold anyio task groups, which
            # must be exited by the task that entered them.
            for index, spec in enumerate(self.specs, start=1):
                client, listing, server_name = await self._connect(stack, spec)
                label = _safe_name(server_name)[:40] or f"mcp{index}"
                if label in labels:  # the same server twice (say, with other arguments)
                    label = f"{label}_{index}"
                labels.add(label)
                tools.extend(self._wrap(client, spec, listing, label))
            _check_unique(tools)
        except BaseException:
            # Closed without the exception: passed through the SDK's task groups, our
            # ConfigError would come out wrapped in nested ExceptionGroups.
            await stack.aclose()
            raise
        self._stack = stack
        self.tools = tools
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        self.tools = []
        if stack is not None:
            await stack.aclose()

    async def _connect(
        self, stack: AsyncExitStack, spec: MCPServerSpec
    ) -> tuple[Client, list[MCPToolInfo], str]:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client

        errlog: IO[str] | None = None
        if spec.kind == "stdio":
            if not spec.argv:
                raise ConfigError("empty MCP server command")
            # A file, not a pipe: nobody has to drain it, and its tail explains a failed start.
            errlog = stack.enter_context(
                tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            )
            params = StdioServerParameters(
                command=spec.argv[0], args=list(spec.argv[1:]), env=self.env, cwd=self.cwd
            )
            client = Client(stdio_client(params, errlog=errlog))
        else:
            client = Client(spec.url)
        try:
            async with asyncio.timeout(self.connect_timeout):
                await stack.enter_async_context(client)
                listing = await _list_tools(client)
        except TimeoutError:
            raise ConfigError(
                _failure(spec, f"no answer within {self.connect_timeout:g} s", errlog)
            ) from None
        except FileNotFoundError:
            raise ConfigError(
                f"MCP server {spec.label!r} could not be started: "
                f"command {spec.argv[0]!r} not found"
            ) from None
        except Exception as exc:
            raise ConfigError(_failure(spec, _summary(exc), errlog)) from exc
        info = client.server_info
        return client, listing, info.name if info is not None else ""

    def _wrap(
        self, client: Client, spec: MCPServerSpec, listing: list[MCPToolInfo], label: str
    ) -> list[Tool]:
        wrapped: list[Tool] = []
        for info in listing:
            name = _safe_name(info.name)
            if self.prefix:
                name = f"{label}__{name}"
            parameters = dict(info.input_schema)
            parameters.setdefault("type", "object")
            wrapped.append(
                MCPTool(
                    client=client,
                    server=spec,
                    remote_name=info.name,
                    name=name[:64] or "tool",
                    description=info.description or info.title or "",
                    parameters=parameters,
                )
            )
        return wrapped

    def __repr__(self) -> str:
        return f"MCPToolset({[s.label for s in self.specs]!r}, tools={len(self.tools)})"


def _require_mcp() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("MCP tools", "mcp") from exc


async def _list_tools(client: Client) -> list[MCPToolInfo]:
    tools: list[MCPToolInfo] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _check_unique(tools: list[Tool]) -> None:
    seen: dict[str, Tool] = {}
    for item in tools:
        first = seen.setdefault(item.name, item)
        if first is item:
            continue
        where = [t.server.label if isinstance(t, MCPTool) else "?" for t in (first, item)]
        raise ConfigError(
            f"two MCP tools are named {item.name!r} (from {where[0]!r} and {where[1]!r}); "
            "use prefixed names (MCPToolset(..., prefix=True)) to tell them apart"
        )


def _safe_name(name: str) -> str:
    return _INVALID_NAME_CHARS.sub("_", name)[:64]


def _result_text(result: CallToolResult) -> str:
    parts = [_content_text(block) for block in result.content]
    if not parts and result.structured_content is not None:
        return to_json(result.structured_content, fallback=str).decode()
    return "\n".join(parts)


def _content_text(block: ContentBlock) -> str:
    # Non-text content is named, not inlined: base64 in a text result only costs tokens.
    if block.type == "text":
        return block.text
    if block.type == "image" or block.type == "audio":  # two tests: "in" would not narrow
        return f"[{block.type} content: {block.mime_type}, {len(block.data)} base64 characters]"
    if block.type == "resource_link":
        return f"[resource: {block.uri}]"
    resource = block.resource
    text = getattr(resource, "text", None)
    return text if isinstance(text, str) else f"[binary resource: {resource.uri}]"


def _summary(exc: BaseException) -> str:
    """The leaf errors of a (possibly nested) exception group, one line."""
    from mcp import MCPError

    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(dict.fromkeys(_summary(inner) for inner in exc.exceptions))
    if isinstance(exc, MCPError):
        return exc.message
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _failure(spec: MCPServerSpec, reason: str, errlog: IO[str] | None) -> str:
    verb = "could not be started" if spec.kind == "stdio" else "could not be reached"
    message = f"MCP server {spec.label!r} {verb}: {reason}"
    tail = _tail(errlog)
    if tail:
        message += f"\nits stderr ended with:\n{tail}"
    return message


def _tail(errlog: IO[str] | None) -> str:
    if errlog is None:
        return ""
    try:
        # Read through the descriptor: the server wrote to it directly, not through our buffer.
        fd = errlog.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - _STDERR_TAIL * 4)
        data = os.pread(fd, size - start, start)
    except (OSError, ValueError):
        return ""
    return data.decode("utf-8", errors="replace")[-_STDERR_TAIL:].strip()
