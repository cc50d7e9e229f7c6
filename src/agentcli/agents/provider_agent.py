"""``ProviderAgent``: a model behind an official SDK, with tools, as an ``AgentInterface``.

It puts together the parts that each do one job: a ``Provider`` (key, endpoint, SDK client), a
``WireFormat`` (the vendor's requests and answers), a ``Toolbox`` (the tools on offer) and the
``ToolLoop`` (the rounds of a turn). A vendor subclass only says which provider and wire format
it uses; the constructor is this one.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from ..agent import AgentInterface, StreamEvent, TextDelta, TurnComplete
from ..errors import ConfigError
from ._faults import without_userinfo
from .loop import ToolLoop
from .provider import SDKClient
from .registry import PROVIDERS, ProviderInfo
from .toolbox import Toolbox, ToolSource

if TYPE_CHECKING:
    from pydantic import SecretStr

    from ..config import Settings
    from ..messages import AgentContext, AgentResponse
    from ..tools import Tool
    from .provider import Limits, Provider
    from .wire.base import WireFormat

__all__ = ["ProviderAgent", "ToolSource"]

ClientT = TypeVar("ClientT", bound=SDKClient)


class ProviderAgent(AgentInterface, Generic[ClientT]):
    """A model behind an official SDK, with tools.

    ``tools`` are offered to the model and run when it calls them; ``mcp`` takes open
    ``MCPToolset``s whose tools are read on every turn. ``max_tokens`` caps each answer
    (default ``AGENTCLI_MAX_OUTPUT_TOKENS``).
    The SDK client is made on first use, reused across turns (its connection pool), and closed
    by ``aclose()``. The key comes from settings unless ``api_key`` is given, and is never
    shown (``repr`` omits it, errors scrub it).
    """

    providers: ClassVar[tuple[str, ...]]
    """The registry prefixes this class serves; the first is the default."""

    def __init__(
        self,
        model: str,
        settings: Settings | None = None,
        *,
        tools: Sequence[Tool] = (),
        mcp: Sequence[ToolSource] = (),
        max_tokens: int | None = None,
        context_window: int | None = None,
        name: str | None = None,
        provider: str | None = None,
        api_key: SecretStr | None = None,
        base_url: str | None = None,
    ) -> None:
        """``settings`` (loaded from the environment when ``None``) give the limits, and the
        key and base URL unless ``api_key`` or ``base_url`` is given."""
        if not model:
            raise ConfigError("a provider agent needs a model name, e.g. openai:gpt-4o-mini")
        if settings is None:
            from ..config import load_settings

            settings = load_settings()
        info = self._info(provider)
        self.model = model
        self.provider = info.prefix
        self.name = name or f"{info.prefix}:{model}"
        if max_tokens is None:  # the operator's cap, however the agent was built
            max_tokens = settings.max_output_tokens
        self.max_tokens = max_tokens
        self._provider = self._connect(info, settings, api_key=api_key, base_url=base_url)
        self._wire = self._wire_format(info, model, max_tokens, settings)
        self._toolbox = Toolbox(tools, mcp, self._wire.tool_schema)
        self._loop = ToolLoop(
            name=self.name,
            provider=self._provider,
            wire=self._wire,
            toolbox=self._toolbox,
            faults=self._provider.faults(model, self._wire.classify),
        )
        self._window = context_window or settings.context_window
        self._window_known = self._window is not None

    @classmethod
    def from_settings(cls, model: str, settings: Settings, **options: Any) -> Self:
        """The agent a ``provider:MODEL`` spec names, its key and endpoint from ``settings``
        (the variables the provider registry names, such as ``OPENAI_API_KEY``)."""
        return cls(model, settings, **options)

    # ------------------------------------------------------------------ what it is

    @property
    def info(self) -> ProviderInfo:
        return self._provider.info

    @property
    def display_name(self) -> str:
        return self.info.display_name

    @property
    def base_url(self) -> str | None:
        return self._provider.base_url

    @property
    def limits(self) -> Limits:
        return self._provider.limits

    @property
    def tools(self) -> list[Tool]:
        return self._toolbox.tools

    @property
    def mcp(self) -> list[ToolSource]:
        return self._toolbox.sources

    @property
    def context_window(self) -> int | None:
        """The model's window in tokens: the setting, else genai-prices or a small table."""
        if not self._window_known:
            from ..pricing import context_window

            self._window = context_window(self.model, self.provider)
            self._window_known = True
        return self._window

    @context_window.setter
    def context_window(self, value: int | None) -> None:
        self._window, self._window_known = value, True

    def __repr__(self) -> str:
        where = f", base_url={without_userinfo(self.base_url)!r}" if self.base_url else ""
        return f"{type(self).__name__}(model={self.model!r}, provider={self.provider!r}{where})"

    # ------------------------------------------------------------------ turns

    async def process(self, context: AgentContext) -> AgentResponse:
        async with aclosing(self._loop.run(context, stream=False)) as events:
            async for event in events:
                if isinstance(event, TurnComplete):
                    return event.response
        raise AssertionError("a turn always ends with TurnComplete")  # pragma: no cover

    # These two return iterators rather than being async generators themselves: a generator
    # wrapping another is closed by the garbage collector concurrently with the one inside it
    # when a consumer drops it unclosed, and the inner close then fails ("already running").
    def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        return _TextOnly(self._loop.run(context, stream=True))

    def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        return self._loop.run(context, stream=True)

    async def aclose(self) -> None:
        """Close the SDK client and its connections (call it on the loop that used them)."""
        await self._provider.aclose()

    # ------------------------------------------------------------------ vendor hooks

    @classmethod
    def _info(cls, prefix: str | None) -> ProviderInfo:
        name = prefix or cls.providers[0]
        if name not in cls.providers:
            raise ConfigError(
                f"{cls.__name__} serves {', '.join(cls.providers)}, not provider {name!r}"
            )
        return PROVIDERS[name]

    @abstractmethod
    def _connect(
        self,
        info: ProviderInfo,
        settings: Settings,
        *,
        api_key: SecretStr | None,
        base_url: str | None,
    ) -> Provider[ClientT]:
        """The provider (key, endpoint, SDK client) for ``info``."""

    @abstractmethod
    def _wire_format(
        self, info: ProviderInfo, model: str, max_tokens: int | None, settings: Settings
    ) -> WireFormat[ClientT]:
        """The wire format requests to ``info`` use (``settings`` for vendor options)."""


class _TextOnly:
    """The text of a turn's events, as an async iterator that closes the turn with it."""

    __slots__ = ("_events",)

    def __init__(self, events: AsyncGenerator[StreamEvent, None]) -> None:
        self._events = events

    def __aiter__(self) -> _TextOnly:
        return self

    async def __anext__(self) -> str:
        while True:
            event = await self._events.__anext__()
            if isinstance(event, TextDelta):
                return event.text

    async def aclose(self) -> None:
        await self._events.aclose()
