"""The tool loop: one turn of a provider agent, as a sequence of rounds (one request each).

A round that asks for tools runs them (concurrently) and feeds the results to the next round;
after ``max_tool_rounds`` rounds of tools the model is asked once more with tools switched off,
and the answer says that it was stopped. Tool calls are reported only once their round has
finished, so a stream cut in the middle of a call raises and never hands out half a call.

A streamed round is read here, in the turn's one generator (through ``_StreamedRound``, a plain
object, not a nested generator), so that closing or cancelling the turn closes the stream at
once. This module never repeats a request: retries belong to the SDK.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from .._units import complete_units
from ..agent import StreamEvent, TextDelta, ToolCallEvent, ToolResultEvent, TurnComplete
from ..messages import SUMMARY_REQUEST, AgentContext, AgentResponse, Message
from ..observability import tracing
from ..request_options import turn_options
from ..tokens import count_message_tokens
from ..tools import run_tool_calls
from ._faults import Failure, Faults
from ._watchdog import EventStream, IdleWatchdog
from .accounting import TurnUsage

if TYPE_CHECKING:
    from ..tools import Tool
    from .provider import Provider
    from .toolbox import Toolbox
    from .wire.base import Conversation, Round, StreamState, WireFormat

__all__ = ["ToolLoop"]

logger = logging.getLogger("agentcli.agents")

T = TypeVar("T")


class ToolLoop:
    """Runs turns for one agent: its provider's client, its wire format, its tools."""

    def __init__(
        self,
        *,
        name: str,
        provider: Provider[Any],
        wire: WireFormat[Any],
        toolbox: Toolbox,
        faults: Faults,
    ) -> None:
        self.name = name
        self.provider = provider
        self.wire = wire
        self.toolbox = toolbox
        self.faults = faults
        self.limits = provider.limits

    async def run(
        self, context: AgentContext, *, stream: bool
    ) -> AsyncGenerator[StreamEvent, None]:
        """The turn's events: text (when streamed), tool calls and results, then the answer."""
        client = await self.provider.client()
        tools, schemas = self.toolbox.current()
        if SUMMARY_REQUEST in context.metadata:
            tools, schemas = {}, []  # a summary is text only: no tool may run while writing it
        conversation = self._start(context)
        totals = TurnUsage()
        produced: list[Message] = []
        output = ""
        shown = ""  # the last text streamed, from any round
        rounds = self.limits.max_tool_rounds
        for number in range(rounds + 1):
            allow = number < rounds
            self._log_request(number, conversation, schemas, allow)
            chat = self._chat_span()
            try:
                if stream:
                    opening = self.wire.open_stream(client, conversation, schemas, allow)
                    reader = _StreamedRound(
                        await chat.within(self._guard(opening)),
                        self.wire.stream_state(),
                        self._watchdog(),
                        self.faults,
                        after=shown,
                    )
                    try:
                        while (text := await chat.within(reader.next_text())) is not None:
                            yield TextDelta(text)
                    finally:
                        await reader.close()
                    shown = reader.last
                    result = self._checked(reader.result())
                else:
                    request = self.wire.complete(client, conversation, schemas, allow)
                    result = self._checked(await chat.within(self._guard(request)))
                chat.set(_round_attributes(result))
            except BaseException as exc:
                chat.fail(tracing.error_type(exc))
                raise
            finally:
                chat.end()
            totals.add(result)
            if not result.tool_calls or not allow:
                output = result.text if allow else self._stopped(result)
                if stream and len(output) > len(result.text):
                    yield TextDelta(output[len(result.text) :])
                break
            for call in result.tool_calls:
                yield ToolCallEvent(call)
            unit = await self._run_tools(tools, result)
            for message in unit[1:]:
                yield ToolResultEvent(message)
            produced.extend(unit)
            self.wire.extend(conversation, unit)
        yield TurnComplete(self._response(output, totals, produced))

    def _chat_span(self) -> tracing.Span:
        """The span of one request to the model (names and limits only, never content)."""
        model = self.wire.model
        return tracing.start(
            f"chat {model}",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": self.faults.provider,
                "gen_ai.request.model": model,
                "gen_ai.request.max_tokens": self.wire.max_tokens,
            },
            kind="client",
        )

    def _start(self, context: AgentContext) -> Conversation:
        history = [m for m in context.conversation_history if m.in_window]
        new = Message(role="user", content=context.input)
        conversation = self.wire.start(context.system_prompt, [*complete_units(history), new])
        conversation.options = turn_options(context.metadata, self.provider.info.wire)
        return conversation

    def _response(self, output: str, totals: TurnUsage, produced: list[Message]) -> AgentResponse:
        faults = self.faults
        usage = totals.usage(faults.model, faults.provider, faults.display_name)
        # The final answer hit max_tokens: said in metadata, as the specification has no field.
        metadata = {"truncated": True} if totals.cut_short else {}
        return AgentResponse(output=output, usage=usage, metadata=metadata, messages=produced)

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
            error, cause = self.faults.translate(exc)
            raise error from cause

    def _watchdog(self) -> IdleWatchdog:
        return IdleWatchdog(
            self.limits.stream_idle_timeout, lambda: self.faults.error(Failure("stalled"))
        )

    def _checked(self, result: Round) -> Round:
        """Refuse a round whose token limit cut a tool call's arguments short."""
        if result.cut_short:
            for call in result.tool_calls:
                try:
                    if call.arguments.strip():
                        json.loads(call.arguments)
                except ValueError:
                    raise self.faults.error(Failure("cut_call", detail=repr(call.name))) from None
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
        counted = (
            m if m.tokens else replace(m, tokens=count_message_tokens(m.content)) for m in results
        )
        return [call, *counted]

    def _stopped(self, result: Round) -> str:
        """The last answer, with a note that the round limit stopped the tools."""
        rounds = self.limits.max_tool_rounds
        insisted = bool(result.tool_calls)
        what = "still asked for tools" if insisted else "was asked to answer without tools"
        note = (
            f"[stopped calling tools after {rounds} rounds (AGENTCLI_MAX_TOOL_ROUNDS): the model "
            f"{what}, so this answer may be incomplete]"
        )
        return f"{result.text}\n\n{note}" if result.text else note


def _round_attributes(result: Round) -> tracing.Attributes:
    """What a finished request reports: the model that answered, and its tokens."""
    usage = result.usage
    if usage is None:
        return {"gen_ai.response.model": result.model}
    return {
        "gen_ai.response.model": result.model,
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_tokens,
        "gen_ai.usage.reasoning.output_tokens": usage.reasoning_tokens,
    }


def paragraph_break(before: str, after: str) -> str:
    """The line breaks that make ``after`` start a new paragraph after ``before`` (counting the
    ones they already have), so text from two rounds is never glued into one word."""
    have = len(before) - len(before.rstrip("\n")) + len(after) - len(after.lstrip("\n"))
    return "\n" * max(0, 2 - have)


class _StreamedRound:
    """Reads one streamed answer under the idle watchdog: its text pieces, then its round."""

    __slots__ = ("_before", "_events", "_faults", "_state", "_watchdog", "last")

    def __init__(
        self,
        events: EventStream,
        state: StreamState,
        watchdog: IdleWatchdog,
        faults: Faults,
        *,
        after: str = "",
    ) -> None:
        # The last text streamed so far (by earlier rounds until this one streams its own).
        self.last = self._before = after
        self._events = events
        self._state = state
        self._watchdog = watchdog
        self._faults = faults

    async def next_text(self) -> str | None:
        """The next piece of text; ``None`` once the stream has ended."""
        state, watchdog = self._state, self._watchdog
        try:
            while (event := await watchdog.next(self._events)) is not None:
                text = state.take(event)
                if state.moved:
                    watchdog.progress()
                if text:
                    if self._before:  # the round's first text, after an earlier round's
                        text = paragraph_break(self._before, text) + text
                        self._before = ""
                    self.last = text
                    return text
        except Exception as exc:
            error, cause = self._faults.translate(exc)
            raise error from cause
        return None

    def result(self) -> Round:
        """The whole answer; the stream must have ended with it (a partial one is never used)."""
        problem = self._state.problem()
        if problem:
            raise self._faults.error(Failure("incomplete", detail=problem))
        return self._state.result()

    async def close(self) -> None:
        self._watchdog.close()
        # Returns the connection, or closes it when the body was not read to the end: on
        # cancellation, on the watchdog's timeout, on a consumer that left.
        await self._events.close()
