"""One turn, as a sequence of small steps (the session's lease is already held):

1. store the user's message (it is never lost, whatever happens next) and trim if needed;
2. build the window the agent may see and stream the agent's events;
3. store what the agent produced: whole tool units and the answer, with its usage; a failure is
   stored as a failed entry, a cancelled stream as an interrupted answer;
4. trim the window if it is too full, and report how full it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncGenerator, Callable

from pydantic import JsonValue

from .._units import complete_units
from ..agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from ..errors import AgentCLIError, AgentError, ContextLengthError
from ..messages import AgentContext, AgentResponse, Message, ToolCall, is_storable, make_storable
from ..observability import tracing
from ..observability.reporting import report_error
from ..request_options import OPTIONS_KEY
from ..usage import MAX_TOKENS, CleanupReport, ContextReport, Usage, checked_usage
from .window_cache import OVERHEAD_KEY
from .writer import SessionWriter

__all__ = ["Turn", "TurnLog"]

logger = logging.getLogger("agentcli.session")


class TurnLog:
    """Collects the fields of the one structured log record a turn writes."""

    __slots__ = ("history_length", "input_length", "outcome", "session_id", "started", "tokens")

    def __init__(self, session_id: str, input_length: int) -> None:
        self.session_id = session_id
        self.input_length = input_length
        self.history_length = 0
        self.tokens = 0
        self.outcome = "ok"
        self.started = time.perf_counter()

    def emit(self, agent: str) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        level = logging.INFO if self.outcome in {"ok", "interrupted"} else logging.WARNING
        logger.log(
            level,
            "turn %s",
            self.outcome,
            extra={
                "session_id": self.session_id,
                "agent": agent,
                "input_length": self.input_length,
                "history_length": self.history_length,
                "tokens": self.tokens,
                "duration_ms": round((time.perf_counter() - self.started) * 1000, 3),
                "outcome": self.outcome,
            },
        )


class _Progress:
    """What a turn's event stream has delivered so far."""

    __slots__ = ("calls", "chunks", "response", "results", "unstorable")

    def __init__(self) -> None:
        self.calls: dict[str, ToolCall] = {}
        self.results: list[Message] = []
        self.chunks: list[str] = []
        self.response: AgentResponse | None = None
        self.unstorable = False  # the text held a NUL or a lone surrogate

    def observe(self, event: StreamEvent) -> bool:
        """Record ``event``; ``False`` for the final one, which the turn re-issues."""
        if isinstance(event, TurnComplete):
            self.response = event.response
            return False
        if isinstance(event, TextDelta):
            self.chunks.append(event.text)
            if not self.unstorable and not is_storable(event.text):
                self.unstorable = True
        elif isinstance(event, ToolCallEvent):
            self.calls[event.call.id] = event.call
        elif isinstance(event, ToolResultEvent):
            self.results.append(event.message)
        return True

    @property
    def started_answering(self) -> bool:
        """Whether text reached the caller or tools ran (a retry could repeat their effects)."""
        return bool(self.chunks or self.calls)

    def finished_tools(self) -> list[Message]:
        """The tool calls whose results arrived, as whole units."""
        done = [r for r in self.results if r.tool_call_id in self.calls]
        if not done:
            return []
        answered = tuple(self.calls[r.tool_call_id] for r in done if r.tool_call_id)
        return complete_units([Message(role="assistant", tool_calls=answered), *done])


class Turn:
    """Runs one turn of ``agent`` on the session ``writer`` writes to."""

    __slots__ = ("agent", "count", "log", "progress", "text", "writer")

    def __init__(
        self,
        agent: AgentInterface,
        writer: SessionWriter,
        text: str,
        *,
        count_tokens: Callable[[str], int],
        log: TurnLog,
    ) -> None:
        self.agent = agent
        self.writer = writer
        self.text = text
        self.count = count_tokens
        self.log = log
        self.progress = _Progress()

    async def run(self) -> AsyncGenerator[StreamEvent, None]:
        writer = self.writer
        await writer.append([Message(role="user", content=self.text, tokens=self.count(self.text))])
        # Checked here: a turn that cleans nothing up pays for no extra step.
        cleanup = await self._first_cleanup() if writer.state.tracker.needs_cleanup else None
        self.log.history_length = len(writer.state.window) - 1
        span = self._span()
        try:
            for attempt in (1, 2):
                # Consumed here rather than through another generator: one layer less for
                # every event of every turn. Each step runs with the turn's span current,
                # so the agent's own spans are its children.
                events = self.agent.stream_events(self._context())
                try:
                    while (event := await span.within(anext(events, None))) is not None:
                        if self.progress.observe(event):
                            yield event
                    break
                except ContextLengthError:
                    # The provider counted more than we did: trim harder and retry once,
                    # unless part of the answer already went out.
                    if attempt == 2 or self.progress.started_answering:
                        raise
                    cleanup = await writer.apply(writer.plan(hard=True), reason="context_length")
                finally:
                    # Closed here, not by the garbage collector, so an interrupted turn ends
                    # the provider's stream (and returns its connection) at once.
                    close = getattr(events, "aclose", None)
                    if close is not None:
                        await close()
        except (GeneratorExit, asyncio.CancelledError) as exc:
            span.fail(tracing.error_type(exc))
            await asyncio.shield(self._store_outcome(self._interrupted))
            raise
        except Exception as exc:
            span.fail(tracing.error_type(exc))
            await asyncio.shield(self._store_outcome(functools.partial(self._failed, exc)))
            if isinstance(exc, AgentCLIError):
                raise
            report_error(exc)  # outside our error tree: a bug in the agent (or in us)
            raise AgentError(f"the agent failed: {type(exc).__name__}: {exc}") from exc
        else:
            _finish_span(span, self.progress.response)
        finally:
            span.end()
        progress = self.progress
        response = progress.response or AgentResponse(
            output=make_storable("".join(progress.chunks))
        )
        response = await self._record(response, cleanup)
        self.log.tokens = response.tokens or 0
        if response.is_error:
            self.log.outcome = "agent_error"
        yield TurnComplete(response)

    async def _first_cleanup(self) -> CleanupReport | None:
        """The cleanup before the agent is asked (it may wait for a summariser)."""
        try:
            return await self.writer.maybe_trim()
        except asyncio.CancelledError:
            # Cancelled before the agent was asked: the question stays, with no answer.
            await asyncio.shield(self._store_outcome(self._interrupted))
            raise

    def _span(self) -> tracing.Span:
        name = self.agent.name
        return tracing.start(
            f"invoke_agent {name}",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": name,
                "gen_ai.conversation.id": self.writer.session_id,
            },
        )

    def _context(self) -> AgentContext:
        state = self.writer.state
        # Built without re-validation: every message in the window was validated when made,
        # and walking 1,000 of them again would make each turn cost grow with the history.
        return AgentContext.model_construct(
            input=self.text,
            session_id=self.writer.session_id,
            conversation_history=state.window[:-1],
            system_prompt=state.system_prompt,
            metadata={OPTIONS_KEY: state.options} if state.options else {},
        )

    async def _record(
        self, response: AgentResponse, cleanup: CleanupReport | None
    ) -> AgentResponse:
        """Store the agent's tool units and answer, calibrate tokens, trim, and report."""
        writer, state = self.writer, self.writer.state
        usage = checked_usage(response.usage)
        units = [self._counted(m) for m in complete_units(response.messages)]
        self._warn_if_replaced()
        # After tool rounds, output tokens sum every round; the rounds' own tokens are on
        # their tool-call messages, so the answer is counted on its own.
        reported = None if units or usage is None else usage.output_tokens
        tokens = reported or self.count(response.output)
        failed = response.is_error
        added = sum(m.tokens for m in units) + (0 if failed else tokens)
        overhead = _reported_overhead(usage, state.tracker.tokens - state.overhead + added)
        metadata: dict[str, JsonValue] = {}
        if overhead is not None:
            # Kept on the answer, so a later process starts from the provider's exact count.
            metadata[OVERHEAD_KEY] = overhead
        if response.error is not None:
            metadata["error"] = response.error
        answer = Message(
            role="assistant",
            content=response.output,
            tokens=tokens,
            status="failed" if failed else "complete",
            usage=usage,
            metadata=metadata or None,
        )
        await writer.append([*units, answer])
        if overhead is not None:
            state.tracker.tokens += overhead - state.overhead
            state.overhead = overhead
        cleanup = await writer.maybe_trim() or cleanup
        tracker = state.tracker
        context = ContextReport.model_construct(
            tokens=tracker.tokens,
            window=tracker.window_size,
            fraction=round(tracker.fraction, 4),
            level=tracker.level,
        )
        return response.model_copy(update={"context": context, "cleanup": cleanup})

    def _failed(self, exc: BaseException) -> list[Message]:
        """Keep the tool calls that finished (their effects happened) and mark the failure."""
        failed = Message(
            role="assistant",
            status="failed",
            metadata={"error": f"{type(exc).__name__}: {_short(str(exc))}"},
        )
        return [*self.progress.finished_tools(), failed]

    def _interrupted(self) -> list[Message]:
        """What an interrupted turn keeps: the tool calls that finished, and the partial text.
        Interrupted before either, it keeps nothing: the question stays, without an empty
        answer the transcript would show and the model would be sent."""
        tools = self.progress.finished_tools()
        if not self.progress.chunks and not tools:
            return []
        text = make_storable("".join(self.progress.chunks))
        self._warn_if_replaced()
        partial = Message(
            role="assistant", content=text, tokens=self.count(text), status="interrupted"
        )
        return [*tools, partial]

    def _counted(self, message: Message) -> Message:
        """``message``, its token count recounted if the agent gave one no store can hold."""
        if message.tokens <= MAX_TOKENS:
            return message
        logger.warning(
            "ignored an absurd token count from the agent: %d (more than %d)",
            message.tokens,
            MAX_TOKENS,
            extra={"session_id": self.writer.session_id},
        )
        return dataclasses.replace(message, tokens=self.count(message.content))

    def _warn_if_replaced(self) -> None:
        if self.progress.unstorable:
            logger.warning(
                "the answer held characters that cannot be stored (a NUL or a lone "
                "surrogate); they were stored as U+FFFD",
                extra={"session_id": self.writer.session_id},
            )

    async def _store_outcome(self, make: Callable[[], list[Message]]) -> None:
        try:
            # Made here, inside the guard: a message that cannot be made must not replace
            # the turn's own error (or its cancellation) with a validation error.
            await self.writer.append(make())
        except Exception:
            # The turn is already failing; keep its original error, log this one.
            logger.exception(
                "could not record the outcome of a turn",
                extra={"session_id": self.writer.session_id},
            )
            self.writer.cache.drop(self.writer.session_id)


def _reported_overhead(usage: Usage | None, message_tokens: int) -> int | None:
    """What the window costs beyond its messages (system prompt, tool schemas, framing), from
    the provider's own count: ``context_tokens``, else input plus output tokens."""
    if usage is None:
        return None
    used = usage.context_tokens
    if used is None:
        if usage.input_tokens is None or usage.output_tokens is None:
            return None
        used = usage.input_tokens + usage.output_tokens
    return max(0, used - message_tokens)


def _finish_span(span: tracing.Span, response: AgentResponse | None) -> None:
    """The turn's token counts, and its failure when the agent answered with an error."""
    usage = response.usage if response is not None else None
    if usage is not None:
        span.set(
            {
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
            }
        )
    if response is not None and response.is_error:
        span.fail("agent_error")


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
