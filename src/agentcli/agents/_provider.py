"""What the provider agents share: the tool loop, usage and cost, turning failures into our
errors (read by ``_faults``), the cap on ``Retry-After`` and the stream idle watchdog
(``_watchdog``). The vendor modules only translate wire formats.

A turn is a sequence of rounds (one model request each). A round that asks for tools runs them
(concurrently) and feeds the results to the next round; after ``max_tool_rounds`` rounds of tools
the model is asked once more with tools switched off, and the answer says that it was stopped.
Tool calls are reported only once their round has finished, so a stream cut in the middle of a
call raises and never hands out half a call.

Retries belong to the SDK alone (``max_retries``); this module never repeats a request.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import math
import sys
from abc import abstractmethod
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, Self, TypeVar

from pydantic import SecretStr

from .._units import complete_units
from ..agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from ..errors import (
    AuthenticationError,
    ConfigError,
    ContextLengthError,
    MissingDependencyError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from ..messages import AgentContext, AgentResponse, Message, ToolCall
from ..pricing import Price, price
from ..tokens import count_message_tokens
from ..tools import run_tool_calls, tools_by_name
from ._faults import (
    RETRIED_STATUSES,
    Failure,
    body_message,
    retry_after_seconds,
    retry_hint,
    scrub,
    transport_failure,
)
from ._watchdog import EventStream, IdleWatchdog

if TYPE_CHECKING:
    from ..config import Settings
    from ..tools import Tool

__all__ = [
    "Conversation",
    "Limits",
    "ProviderAgent",
    "Round",
    "RoundUsage",
    "StreamState",
    "ToolSource",
    "parsed_arguments",
]

logger = logging.getLogger("agentcli.agents")


class _Client(Protocol):
    """What the base class needs of an SDK client (``AsyncOpenAI``, ``AsyncAnthropic``)."""

    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Client)
T = TypeVar("T")

_DISPLAY = {"openai": "OpenAI", "anthropic": "Anthropic", "ollama": "Ollama"}


@dataclass(frozen=True, slots=True)
class Limits:
    """The settings a provider agent runs with (see ``Settings`` for their meaning)."""

    request_timeout: float
    max_retries: int
    max_retry_after: float
    stream_idle_timeout: float
    max_tool_rounds: int
    tool_timeout: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            max_retry_after=settings.max_retry_after,
            stream_idle_timeout=settings.stream_idle_timeout,
            max_tool_rounds=settings.max_tool_rounds,
            tool_timeout=settings.tool_timeout,
        )


@dataclass(frozen=True, slots=True)
class RoundUsage:
    """What one request used. ``input_tokens`` counts every prompt token, cached ones too."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True)
class Round:
    """The outcome of one complete request: its text, tool calls and usage."""

    text: str
    tool_calls: list[ToolCall]
    usage: RoundUsage | None
    model: str | None = None
    cut_short: bool = False  # the answer hit its token limit


@dataclass(slots=True)
class Conversation:
    """A turn's request in the vendor's wire format, extended round by round."""

    messages: list[dict[str, Any]]
    system: list[str] = field(default_factory=list)


class StreamState(Protocol):
    """Assembles one streamed answer from its events (one per vendor)."""

    moved: bool  # whether the last event carried content (resets the idle watchdog)

    def take(self, event: Any) -> str:
        """Record ``event``; return the text it carries ("" if none)."""

    def problem(self) -> str | None:
        """Why the answer is incomplete, once the stream ended; ``None`` if it is whole."""

    def result(self) -> Round: ...


class ToolSource(Protocol):
    """Anything that offers tools, read on every turn (an open ``agentcli.mcp.MCPToolset``)."""

    @property
    def tools(self) -> Sequence[Tool]: ...


@dataclass(slots=True)
class _Totals:
    """What a turn's rounds used, kept per request: price tiers apply per request."""

    usages: list[RoundUsage] = field(default_factory=list)
    requests: int = 0
    complete: bool = True  # every request reported its usage
    cut_short: bool = False  # the last answer hit its token limit
    model: str | None = None

    def add(self, result: Round) -> None:
        self.requests += 1
        self.cut_short = result.cut_short
        self.model = result.model or self.model
        if result.usage is None:
            self.complete = False
        else:
            self.usages.append(result.usage)


def _total(values: Iterable[int | None]) -> int | None:
    """The sum of the values reported; ``None`` if none was."""
    present = [value for value in values if value is not None]
    return sum(present) if present else None


class ProviderAgent(AgentInterface, Generic[ClientT]):
    """A model behind an official SDK, with tools. Subclasses translate the wire format.

    The SDK client is made on first use, reused across turns (its connection pool), and closed
    by ``aclose()``. The key is read from settings then and never shown (``repr`` omits it).
    """

    key_variable: ClassVar[str]
    base_url_variable: ClassVar[str]
    sdk_module: ClassVar[str]

    def __init__(
        self,
        model: str,
        settings: Settings | None,
        *,
        provider: str,
        api_key: SecretStr | None,
        base_url: str | None,
        tools: Sequence[Tool] = (),
        mcp: Sequence[ToolSource] = (),
        max_tokens: int | None = None,
        context_window: int | None = None,
        name: str | None = None,
    ) -> None:
        """``settings`` (loaded from the environment when ``None``) give the limits, and the
        key and base URL unless ``api_key`` or ``base_url`` is given."""
        if not model:
            raise ConfigError("a provider agent needs a model name, e.g. openai:gpt-4o-mini")
        if settings is None:
            from ..config import load_settings

            settings = load_settings()
        default_key, default_url = self._endpoint(settings)
        self.model = model
        self.provider = provider
        self.name = name or f"{provider}:{model}"
        self.base_url = base_url if base_url is not None else default_url
        self.limits = Limits.from_settings(settings)
        self.max_tokens = max_tokens
        self.tools = list(tools)
        self.mcp = list(mcp)
        self._static_tools = _by_name(self.tools)
        self._static_schemas = [self._tool_schema(t) for t in self._static_tools.values()]
        self._key = api_key if api_key is not None else default_key
        self._window = context_window or settings.context_window
        self._window_known = self._window is not None
        self._client: ClientT | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ public API

    @classmethod
    def from_settings(cls, model: str, settings: Settings, **options: Any) -> Self:
        """The agent a ``provider:MODEL`` spec names, its key and endpoint from ``settings``
        (``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``, or the ``ANTHROPIC_`` pair)."""
        return cls(model, settings, **options)

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

    @property
    def display_name(self) -> str:
        return _DISPLAY.get(self.provider, self.provider)

    async def process(self, context: AgentContext) -> AgentResponse:
        async with aclosing(self._turn(context, stream=False)) as events:
            async for event in events:
                if isinstance(event, TurnComplete):
                    return event.response
        raise AssertionError("a turn always ends with TurnComplete")  # pragma: no cover

    # These two return iterators rather than being async generators themselves: a generator
    # wrapping another is closed by the garbage collector concurrently with the one inside it
    # when a consumer drops it unclosed, and the inner close then fails ("already running").
    def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        return _TextOnly(self._turn(context, stream=True))

    def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        return self._turn(context, stream=True)

    async def aclose(self) -> None:
        """Close the SDK client and its connections (call it on the loop that used them)."""
        client, self._client = self._client, None
        loop, self._client_loop = self._client_loop, None
        # A client from a loop that has ended cannot be closed from this one.
        if client is not None and loop is asyncio.get_running_loop():
            await client.close()

    def __repr__(self) -> str:
        where = f", base_url={_without_userinfo(self.base_url)!r}" if self.base_url else ""
        return f"{type(self).__name__}(model={self.model!r}, provider={self.provider!r}{where})"

    # ------------------------------------------------------------------ vendor hooks

    @staticmethod
    @abstractmethod
    def _endpoint(settings: Settings) -> tuple[SecretStr | None, str | None]:
        """The vendor's key and base URL in ``settings``."""

    @abstractmethod
    def _create_client(self, api_key: str) -> ClientT:
        """Make the SDK client (timeout, retries and the Retry-After cap configured)."""

    @abstractmethod
    def _start(self, system_prompt: str | None, messages: Sequence[Message]) -> Conversation:
        """Translate the window (and the new input, last) into the wire format."""

    @abstractmethod
    def _extend(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        """Append a tool unit (the call and its results) to the conversation."""

    @abstractmethod
    def _tool_schema(self, tool: Tool) -> dict[str, Any]: ...

    @abstractmethod
    async def _open_stream(
        self,
        client: ClientT,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> EventStream:
        """Send one streamed request; return the SDK's event stream."""

    @abstractmethod
    def _stream_state(self) -> StreamState:
        """A fresh assembler for the events of one streamed answer."""

    @abstractmethod
    async def _complete_round(
        self,
        client: ClientT,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> Round:
        """Send one request without streaming."""

    @abstractmethod
    def _classify(self, exc: BaseException) -> Failure | None:
        """Read an SDK exception; ``None`` if it is not one of the SDK's."""

    # ------------------------------------------------------------------ the turn

    async def _turn(
        self, context: AgentContext, *, stream: bool
    ) -> AsyncGenerator[StreamEvent, None]:
        client = await self._get_client()
        tools, schemas = self._current_tools()
        history = [m for m in context.conversation_history if m.in_window]
        conversation = self._start(
            context.system_prompt,
            [*complete_units(history), Message(role="user", content=context.input)],
        )
        totals = _Totals()
        produced: list[Message] = []
        output = ""
        rounds = self.limits.max_tool_rounds
        for number in range(rounds + 1):
            allow = number < rounds
            self._log_request(number, conversation, schemas, allow)
            if stream:
                # The round's stream is read here, in the one generator of the turn, so that
                # closing or cancelling the turn closes the stream at once.
                events = await self._guard(self._open_stream(client, conversation, schemas, allow))
                state = self._stream_state()
                watchdog = self._watchdog()
                try:
                    while (event := await watchdog.next(events)) is not None:
                        text = state.take(event)
                        if state.moved:
                            watchdog.progress()
                        if text:
                            yield TextDelta(text)
                except Exception as exc:
                    error, cause = self._provider_error(exc)
                    raise error from cause
                finally:
                    watchdog.close()
                    # Returns the connection, or closes it when the body was not read to the
                    # end: on cancellation, on the watchdog's timeout, on a consumer that left.
                    await events.close()
                result = self._finished(state)
            else:
                result = self._checked(
                    await self._guard(self._complete_round(client, conversation, schemas, allow))
                )
            totals.add(result)
            if not result.tool_calls or not allow:
                output = result.text
                if not allow:
                    note = self._rounds_note(bool(result.tool_calls))
                    output = f"{output}\n\n{note}" if output else note
                    if stream:
                        yield TextDelta(output[len(result.text) :])
                break
            for call in result.tool_calls:
                yield ToolCallEvent(call)
            unit = await self._run_tools(tools, result)
            for message in unit[1:]:
                yield ToolResultEvent(message)
            produced.extend(unit)
            self._extend(conversation, unit)
        yield TurnComplete(
            AgentResponse(output=output, metadata=self._metadata(totals), messages=produced)
        )

    def _log_request(
        self, number: int, conversation: Conversation, tools: list[Any], allow: bool
    ) -> None:
        # Counts only: message content never goes to the log.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s request %d: %d messages, %d tools%s",
                self.name,
                number + 1,
                len(conversation.messages),
                len(tools),
                "" if allow else " (tools off: round limit reached)",
            )

    async def _guard(self, step: Awaitable[T]) -> T:
        """Await ``step``, turning SDK and transport errors into our error tree."""
        try:
            return await step
        except Exception as exc:
            error, cause = self._provider_error(exc)
            raise error from cause

    def _finished(self, state: StreamState) -> Round:
        problem = state.problem()
        if problem:
            raise self._incomplete(problem)
        return self._checked(state.result())

    def _checked(self, result: Round) -> Round:
        """Refuse a round whose token limit cut a tool call's arguments short."""
        if result.cut_short:
            for call in result.tool_calls:
                try:
                    if call.arguments.strip():
                        json.loads(call.arguments)
                except ValueError:
                    raise ProviderError(
                        f"{self.display_name}'s answer hit its token limit in the middle of a "
                        f"call to tool {call.name!r}; raise max_tokens and try again",
                        provider=self.provider,
                    ) from None
        return result

    async def _run_tools(self, tools: Mapping[str, Tool], result: Round) -> list[Message]:
        """Run the round's calls; return the unit: the assistant call message, then results."""
        usage = result.usage
        call = Message(
            role="assistant",
            content=result.text,
            tool_calls=tuple(result.tool_calls),
            tokens=usage.output_tokens if usage else count_message_tokens(result.text),
        )
        results = await run_tool_calls(tools, result.tool_calls, timeout=self.limits.tool_timeout)
        return [
            call,
            *(
                m if m.tokens else replace(m, tokens=count_message_tokens(m.content))
                for m in results
            ),
        ]

    def _rounds_note(self, insisted: bool) -> str:
        rounds = self.limits.max_tool_rounds
        what = "still asked for tools" if insisted else "was asked to answer without tools"
        return (
            f"[stopped calling tools after {rounds} rounds (AGENTCLI_MAX_TOOL_ROUNDS): the model "
            f"{what}, so this answer may be incomplete]"
        )

    def _current_tools(self) -> tuple[dict[str, Tool], list[dict[str, Any]]]:
        """The tools on offer this turn, by name, and their schemas in the wire format."""
        if not self.mcp:
            return self._static_tools, self._static_schemas
        tools = _by_name([*self.tools, *(t for source in self.mcp for t in source.tools)])
        return tools, [self._tool_schema(t) for t in tools.values()]

    def _metadata(self, totals: _Totals) -> dict[str, Any]:
        model = totals.model or self.model
        metadata: dict[str, Any] = {
            "model": model,
            "provider": self.provider,
            "requests": totals.requests,
        }
        if totals.cut_short:
            metadata["truncated"] = True  # the final answer hit max_tokens
        usages = totals.usages
        if not totals.complete or not usages:
            metadata["cost_note"] = (
                f"{self.display_name} did not report token usage, so the cost is unknown"
            )
            return metadata
        prompt = sum(u.input_tokens for u in usages)
        completion = sum(u.output_tokens for u in usages)
        last = usages[-1]
        metadata.update(
            tokens=prompt + completion,
            prompt_tokens=prompt,
            completion_tokens=completion,
            context_tokens=last.input_tokens + last.output_tokens,
        )
        optional = {
            "cached_tokens": _total(u.cache_read_tokens for u in usages),
            "cache_write_tokens": _total(u.cache_write_tokens for u in usages),
            "reasoning_tokens": _total(u.reasoning_tokens for u in usages),
        }
        metadata.update((key, value) for key, value in optional.items() if value is not None)
        metadata.update(self._price(model, usages).as_metadata())
        return metadata

    def _price(self, model: str, usages: Sequence[RoundUsage]) -> Price:
        def for_model(name: str) -> Price:
            total = 0.0
            for usage in usages:
                found = price(
                    name,
                    self.provider,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens or 0,
                    cache_write_tokens=usage.cache_write_tokens or 0,
                )
                if found.cost is None:
                    return found
                total += found.cost
            return Price(total)

        found = for_model(model)
        if found.cost is None and model != self.model:
            # The server named a snapshot the price table lacks; the requested alias may be known.
            found = for_model(self.model)
        return found

    # ------------------------------------------------------------------ client and errors

    async def _get_client(self) -> ClientT:
        loop = asyncio.get_running_loop()
        if self._client is not None and self._client_loop is loop:
            return self._client
        if sys.modules.get(self.sdk_module) is None:
            # Importing an SDK takes 0.7-1.8 s: do it off the event loop, so a server's other
            # sessions keep moving while the first turn of this agent starts.
            try:
                await asyncio.to_thread(importlib.import_module, self.sdk_module)
            except ImportError as exc:  # the extra is named after its SDK
                raise MissingDependencyError(f"the {self.provider} agent", self.sdk_module) from exc
        if self._client is None or self._client_loop is not loop:
            # A pooled connection belongs to the loop that opened it; a new loop needs a new
            # client (the old one cannot be closed from here and is left to the collector).
            key = self._key.get_secret_value() if self._key is not None else ""
            if not key:
                raise AuthenticationError(
                    f"no API key for {self.display_name}: set {self.key_variable} in the "
                    "environment or in .env",
                    provider=self.provider,
                )
            self._client = self._create_client(key)
            self._client_loop = loop
        return self._client

    def _secret(self) -> str | None:
        """The key to keep out of messages (``None`` for a placeholder, such as Ollama's)."""
        return self._key.get_secret_value() if self._key is not None else None

    def _idle_error(self) -> ProviderError:
        return ProviderTimeoutError(
            f"{self.display_name} sent nothing new for {self.limits.stream_idle_timeout:g} s "
            "(AGENTCLI_STREAM_IDLE_TIMEOUT), so the stream was closed; try again",
            provider=self.provider,
        )

    def _watchdog(self) -> IdleWatchdog:
        return IdleWatchdog(self.limits.stream_idle_timeout, self._idle_error)

    def _incomplete(self, what: str) -> ProviderError:
        """The stream ended without the end of the answer (a partial answer is never used)."""
        return self._build_error(Failure("incomplete", detail=what))

    async def _check_retry_after(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        """Fail fast when the server asks to wait longer than ``max_retry_after``.

        Called on every response, before the SDK would sleep; ``body`` is the error body.
        """
        if status not in RETRIED_STATUSES and status < 500:
            return
        wait = retry_after_seconds(headers)
        cap = self.limits.max_retry_after
        if wait is None or wait <= cap:
            return
        detail = body_message(body)
        reason = f": {scrub(detail, self._secret())}" if detail else ""
        message = (
            f"{self.display_name} asks to wait {math.ceil(wait)} s before retrying ({status}"
            f"{reason}), longer than AGENTCLI_MAX_RETRY_AFTER ({cap:g} s); {retry_hint(wait)}"
        )
        if status == 429:
            raise RateLimitError(message, provider=self.provider, retry_after=wait)
        raise ProviderUnavailableError(message, provider=self.provider, status=status)

    def _provider_error(self, exc: BaseException) -> tuple[ProviderError, BaseException | None]:
        """Our error for ``exc``, and the cause to chain: the SDK's exception only when it
        cannot hold the provider's body (a 401 body may echo part of the key)."""
        if isinstance(exc, ProviderError):
            return exc, exc.__cause__
        failure = self._classify(exc) or transport_failure(exc)
        if failure is None:
            failure = Failure("other", detail=f"{type(exc).__name__}: {exc}", chain=True)
        return self._build_error(failure), exc if failure.chain else None

    def _build_error(self, failure: Failure) -> ProviderError:
        who, status = self.display_name, failure.status
        detail = scrub(failure.detail, self._secret())
        code = f" ({status})" if status else ""
        says = f": {detail}" if detail else ""
        kind = failure.kind
        kw: dict[str, Any] = {"provider": self.provider, "status": status}
        if kind == "auth":
            return AuthenticationError(
                f"{who} rejected the API key{code}{says}; check {self.key_variable}", **kw
            )
        if kind == "permission":
            return AuthenticationError(
                f"{who} refused the request{code}{says}; the key in {self.key_variable} may "
                f"not have access to model {self.model!r}",
                **kw,
            )
        if kind == "not_found":
            where = f" and {self.base_url_variable}" if self.base_url else ""
            return ModelNotFoundError(
                f"{who} does not know model {self.model!r}{code}{says}; check the model "
                f"name{where}",
                **kw,
            )
        if kind == "rate_limit":
            hint = f"; {retry_hint(failure.retry_after)}" if failure.retry_after else ""
            return RateLimitError(
                f"{who} is rate limiting requests{code}{says}{hint}",
                retry_after=failure.retry_after,
                **kw,
            )
        if kind == "context":
            return ContextLengthError(
                f"the conversation is too long for model {self.model!r}{code}{says}", **kw
            )
        if kind == "timeout":
            return ProviderTimeoutError(
                f"{who} did not answer within {self.limits.request_timeout:g} s "
                f"(AGENTCLI_REQUEST_TIMEOUT){says}",
                **kw,
            )
        if kind == "connection":
            return ProviderUnavailableError(self._unreachable(detail), **kw)
        if kind == "unavailable":
            return ProviderUnavailableError(
                f"{who} is unavailable{code}{says}; try again later", **kw
            )
        if kind == "incomplete":
            return ProviderUnavailableError(
                f"{who} ended the answer early ({detail}); nothing from it was kept, try again",
                **kw,
            )
        return ProviderError(f"{who} could not answer{code}{says}", **kw)

    def _unreachable(self, detail: str) -> str:
        where = f" at {_without_userinfo(self.base_url)}" if self.base_url else ""
        reason = f" ({detail})" if detail else ""
        fix = (
            "is `ollama serve` running? (AGENTCLI_OLLAMA_BASE_URL)"
            if self.provider == "ollama"
            else "check the network" + (f" and {self.base_url_variable}" if self.base_url else "")
        )
        return f"cannot reach {self.display_name}{where}{reason}; {fix}"


def parsed_arguments(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as an object for wire formats that need one ({} if unreadable)."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _by_name(tools: Iterable[Tool]) -> dict[str, Tool]:
    try:
        return tools_by_name(tools)
    except ValueError as exc:  # two tools with one name: the agent's configuration is wrong
        raise ConfigError(str(exc)) from None


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


def _without_userinfo(url: str | None) -> str:
    if not url:
        return ""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url
