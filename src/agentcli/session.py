"""The session manager: runs a turn and owns the context window policy.

A turn, as a sequence of small steps:
1. check the input (length, storable text) before anything is stored;
2. store the user's message (it is never lost, whatever happens next);
3. build the window the agent may see and call the agent;
4. store what the agent produced: whole tool units and the answer, with usage and cost;
   a failure is stored as a failed entry, a cancelled stream as an interrupted answer;
5. trim the window if it is too full (the store keeps the whole transcript);
6. log one structured record.

Turns on one session are serialised by a per-session lock; the window and its token count are
cached per session so a turn costs the same at 1,000 messages as at none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ._units import complete_units
from .agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from .context import (
    DEFAULT_CLEANUP_TARGET,
    DEFAULT_CLEANUP_THRESHOLD,
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_MIN_MESSAGES_TO_KEEP,
    ContextTracker,
    ContextUsage,
    TrimPlan,
    apply_trim,
)
from .errors import AgentCLIError, AgentError, ContextLengthError, InvalidInputError
from .messages import AgentContext, AgentResponse, Message, ToolCall, check_storable
from .stores.base import SessionStore, validate_session_id

__all__ = ["CleanupReport", "SessionManager"]

logger = logging.getLogger("agentcli.session")

_SYSTEM_PROMPT_KEY = "system_prompt"
_OVERHEAD_KEY = "overhead_tokens"


@dataclass(frozen=True, slots=True)
class CleanupReport:
    """What automatic cleanup did after a turn (also in ``response.metadata["cleanup"]``)."""

    trimmed: int
    tokens_before: int
    tokens_after: int
    window: int
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "trimmed": self.trimmed,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "window": self.window,
            "warning": self.warning,
        }


@dataclass(slots=True)
class _State:
    """The cached window of one session."""

    window: list[Message]
    tracker: ContextTracker
    last_seq: int
    overhead: int
    trimmed: int
    system_prompt: str | None
    warning: str | None = None


class _Progress:
    """What a turn's event stream has delivered so far."""

    __slots__ = ("calls", "chunks", "response", "results")

    def __init__(self) -> None:
        self.calls: dict[str, ToolCall] = {}
        self.results: list[Message] = []
        self.chunks: list[str] = []
        self.response: AgentResponse | None = None

    def observe(self, event: StreamEvent) -> bool:
        """Record ``event``; ``False`` for the final one, which the manager re-issues."""
        if isinstance(event, TurnComplete):
            self.response = event.response
            return False
        if isinstance(event, TextDelta):
            self.chunks.append(event.text)
        elif isinstance(event, ToolCallEvent):
            self.calls[event.call.id] = event.call
        elif isinstance(event, ToolResultEvent):
            self.results.append(event.message)
        return True


class _TurnLog:
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


class SessionManager:
    """Runs turns for many sessions against one agent and one store.

    The defaults are the specification's: a 100,000-token window (or the agent's own, when it
    knows its model's), cleanup at 90 % down to 60 %, always keeping the last 5 messages.
    """

    def __init__(
        self,
        agent: AgentInterface,
        *,
        store: SessionStore | None = None,
        context_window_size: int | None = None,
        cleanup_threshold: float = DEFAULT_CLEANUP_THRESHOLD,
        cleanup_target: float = DEFAULT_CLEANUP_TARGET,
        min_messages_to_keep: int = DEFAULT_MIN_MESSAGES_TO_KEEP,
        max_input_chars: int = 100_000,
        system_prompt: str | None = None,
        token_counter: Callable[[str], int] | None = None,
        cache_size: int = 512,
    ) -> None:
        if store is None:
            from .stores.memory import MemoryStore

            store = MemoryStore()
        self.agent = agent
        self.store = store
        self._window_override = context_window_size
        # Validates the numbers once, up front, with a clear message.
        ContextTracker(
            self.context_window_size,
            threshold=cleanup_threshold,
            target=cleanup_target,
            min_keep=min_messages_to_keep,
        )
        self.cleanup_threshold = cleanup_threshold
        self.cleanup_target = cleanup_target
        self.min_messages_to_keep = min_messages_to_keep
        self.max_input_chars = max_input_chars
        self.system_prompt = system_prompt
        self._count = token_counter
        self._cache: OrderedDict[str, _State] = OrderedDict()
        self._cache_size = cache_size
        self._locks: dict[str, list[Any]] = {}

    # ------------------------------------------------------------------ public API

    @property
    def context_window_size(self) -> int:
        return self._window_override or self.agent.context_window or DEFAULT_CONTEXT_WINDOW

    def set_agent(self, agent: AgentInterface) -> None:
        """Switch the agent for later turns (the window size may change with it)."""
        self.agent = agent
        for state in self._cache.values():
            state.tracker.window_size = self.context_window_size

    async def chat(self, session_id: str, text: str) -> AgentResponse:
        """Run one turn and return the agent's response, with usage and cleanup recorded."""
        response: AgentResponse | None = None
        async for event in self.stream_events(session_id, text):
            if isinstance(event, TurnComplete):
                response = event.response
        assert response is not None  # stream_events always ends with TurnComplete
        return response

    async def stream(self, session_id: str, text: str) -> AsyncGenerator[str, None]:
        """Run one turn, yielding the answer's text as it arrives."""
        events = self.stream_events(session_id, text)
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    yield event.text
        finally:
            await events.aclose()

    async def stream_events(self, session_id: str, text: str) -> AsyncGenerator[StreamEvent, None]:
        """Run one turn, yielding text, tool calls and tool results, then ``TurnComplete``.

        If the consumer stops early (Ctrl-C, a client that went away), the partial answer is
        stored marked ``interrupted`` and the session stays usable.
        """
        if session_id not in self._cache:  # ids in the cache were checked when they came in
            validate_session_id(session_id)
        self._check_input(text)
        turn = _TurnLog(session_id, len(text))
        async with self._session_lock(session_id):
            inner = self._run_turn(session_id, text, turn)
            try:
                async for event in inner:
                    yield event
            except (GeneratorExit, asyncio.CancelledError):
                turn.outcome = "interrupted"
                raise
            except AgentCLIError:
                turn.outcome = "error"
                raise
            finally:
                # Closing the turn here (not at garbage collection) stores a partial answer
                # while this turn still holds the session's lock.
                await inner.aclose()
                turn.emit(self.agent.name)

    async def history(self, session_id: str) -> list[Message]:
        """The whole transcript, trimmed part included, in order."""
        return await self.store.read(validate_session_id(session_id))

    async def window(self, session_id: str) -> list[Message]:
        """The messages the agent sees on the next turn."""
        async with self._session_lock(session_id):
            state = await self._state(validate_session_id(session_id))
            return list(state.window)

    async def usage(self, session_id: str) -> ContextUsage:
        """How full the session's window is: tokens, window size, fraction, level, trimmed."""
        async with self._session_lock(session_id):
            state = await self._state(validate_session_id(session_id))
            return state.tracker.usage(len(state.window), state.trimmed, state.warning)

    async def compact(self, session_id: str) -> CleanupReport:
        """Trim the window to the cleanup target now, whatever its level."""
        async with self._session_lock(session_id):
            state = await self._state(validate_session_id(session_id))
            return await self._apply(session_id, state, self._plan(state))

    async def clear(self, session_id: str) -> None:
        """Delete the session and its transcript."""
        async with self._session_lock(session_id):
            await self.store.delete(validate_session_id(session_id))
            self._cache.pop(session_id, None)

    async def system_prompt_for(self, session_id: str) -> str | None:
        """The system prompt the session's next turn will use (its own, else the default)."""
        async with self._session_lock(session_id):
            return (await self._state(validate_session_id(session_id))).system_prompt

    async def set_system_prompt(self, session_id: str, prompt: str | None) -> None:
        """Set (or with ``None`` remove) the session's system prompt, kept apart from input."""
        if prompt is not None:
            self._check_text(prompt)
        async with self._session_lock(session_id):
            await self.store.set_state(
                validate_session_id(session_id), metadata={_SYSTEM_PROMPT_KEY: prompt}
            )
            self._cache.pop(session_id, None)

    async def close(self) -> None:
        await self.agent.aclose()
        await self.store.close()

    # ------------------------------------------------------------------ the turn

    async def _run_turn(
        self, session_id: str, text: str, turn: _TurnLog
    ) -> AsyncGenerator[StreamEvent, None]:
        state = await self._state(session_id)
        user = Message(role="user", content=text, tokens=self._tokens(text))
        await self._append(session_id, state, [user])
        cleanup = await self._maybe_trim(session_id, state)
        turn.history_length = len(state.window) - 1

        progress = _Progress()
        try:
            for attempt in (1, 2):
                context = self._context(session_id, state, text)
                try:
                    # Closed here, not by the garbage collector, so an interrupted turn ends
                    # the provider's stream (and returns its connection) at once.
                    events = self.agent.stream_events(context)
                    try:
                        async for event in events:
                            if progress.observe(event):
                                yield event
                    finally:
                        close = getattr(events, "aclose", None)
                        if close is not None:
                            await close()
                    break
                except ContextLengthError:
                    # The provider counted more than we did: trim harder and retry once,
                    # unless part of the answer already reached the caller or tools ran
                    # (running them again could repeat their effects).
                    if attempt == 2 or progress.chunks or progress.calls:
                        raise
                    cleanup = await self._apply(
                        session_id, state, self._plan(state, hard=True), reason="context_length"
                    )
        except (GeneratorExit, asyncio.CancelledError):
            partial = self._interrupted(progress)
            await asyncio.shield(self._store_outcome(session_id, state, partial))
            raise
        except Exception as exc:
            await asyncio.shield(self._store_failure(session_id, state, exc, progress))
            if isinstance(exc, AgentCLIError):
                raise
            raise AgentError(f"the agent failed: {type(exc).__name__}: {exc}") from exc

        response = progress.response or AgentResponse(output="".join(progress.chunks))
        response = await self._record(session_id, state, response, cleanup)
        turn.tokens = response.tokens or 0
        if response.is_error:
            turn.outcome = "agent_error"
        yield TurnComplete(response)

    def _context(self, session_id: str, state: _State, text: str) -> AgentContext:
        # Built without re-validation: every message in the window was validated when made,
        # and walking 1,000 of them again would make each turn cost grow with the history.
        return AgentContext.model_construct(
            input=text,
            session_id=session_id,
            conversation_history=state.window[:-1],
            system_prompt=state.system_prompt,
            metadata={},
        )

    async def _record(
        self,
        session_id: str,
        state: _State,
        response: AgentResponse,
        cleanup: CleanupReport | None,
    ) -> AgentResponse:
        """Store the agent's tool units and answer, calibrate tokens, trim, and report."""
        metadata = dict(response.metadata)
        units = complete_units(response.messages)
        # After tool rounds, completion_tokens sums every round; the rounds' own tokens are on
        # their tool-call messages, so the answer is counted on its own.
        tokens = (None if units else response.completion_tokens) or self._tokens(response.output)
        failed = response.is_error
        added = sum(m.tokens for m in units) + (0 if failed else tokens)
        overhead = _reported_overhead(metadata, state.tracker.tokens - state.overhead + added)
        stored = _usage_metadata(metadata)
        if overhead is not None:
            # Kept on the answer, so a later process starts from the provider's exact count.
            stored[_OVERHEAD_KEY] = overhead
        answer = Message(
            role="assistant",
            content=response.output,
            tokens=tokens,
            status="failed" if failed else "complete",
            metadata=stored or None,
        )
        await self._append(session_id, state, [*units, answer])
        if overhead is not None:
            state.tracker.tokens += overhead - state.overhead
            state.overhead = overhead
        after = await self._maybe_trim(session_id, state)
        cleanup = after or cleanup
        if cleanup is not None:
            metadata["cleanup"] = cleanup.as_dict()
        metadata["context"] = {
            "tokens": state.tracker.tokens,
            "window": state.tracker.window_size,
            "fraction": round(state.tracker.fraction, 4),
            "level": state.tracker.level.value,
        }
        return response.model_copy(update={"metadata": metadata})

    async def _store_failure(
        self, session_id: str, state: _State, exc: BaseException, progress: _Progress
    ) -> None:
        """Keep the tool calls that finished (their effects happened) and mark the failure."""
        failed = Message(
            role="assistant",
            status="failed",
            metadata={"error": f"{type(exc).__name__}: {_short(str(exc))}"},
        )
        await self._store_outcome(session_id, state, [*self._finished_tools(progress), failed])

    @staticmethod
    def _finished_tools(progress: _Progress) -> list[Message]:
        """The tool calls whose results arrived, as whole units."""
        calls = progress.calls
        done = [r for r in progress.results if r.tool_call_id in calls]
        if not done:
            return []
        answered = tuple(calls[r.tool_call_id] for r in done if r.tool_call_id)
        return complete_units([Message(role="assistant", tool_calls=answered), *done])

    def _interrupted(self, progress: _Progress) -> list[Message]:
        """What an interrupted turn keeps: the tool calls that finished, and the partial text."""
        text = "".join(progress.chunks)
        return [
            *self._finished_tools(progress),
            Message(
                role="assistant",
                content=text,
                tokens=self._tokens(text),
                status="interrupted",
            ),
        ]

    async def _store_outcome(self, session_id: str, state: _State, messages: list[Message]) -> None:
        try:
            await self._append(session_id, state, messages)
        except Exception:
            # The turn is already failing; keep its original error, log this one.
            logger.exception(
                "could not record the outcome of a turn", extra={"session_id": session_id}
            )
            self._cache.pop(session_id, None)

    # ------------------------------------------------------------------ window state

    async def _state(self, session_id: str) -> _State:
        state = self._cache.get(session_id)
        if state is not None:
            self._cache.move_to_end(session_id)
            return state
        state = await self._load(session_id)
        self._cache[session_id] = state
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return state

    async def _load(self, session_id: str) -> _State:
        info = await self.store.info(session_id)
        transcript = await self.store.read(session_id) if info else []
        window_start = info.window_start if info else 1
        metadata = info.metadata if info else {}
        prompt = metadata.get(_SYSTEM_PROMPT_KEY)
        system_prompt = prompt if isinstance(prompt, str) else self.system_prompt
        window = [
            m for m in transcript if m.in_window and (m.seq >= window_start or m.role == "system")
        ]
        overhead = _stored_overhead(window)
        if overhead is None:
            overhead = self._tokens(system_prompt) if system_prompt else 0
        tracker = ContextTracker(
            self.context_window_size,
            threshold=self.cleanup_threshold,
            target=self.cleanup_target,
            min_keep=self.min_messages_to_keep,
            tokens=overhead + sum(m.tokens for m in window),
        )
        trimmed = sum(1 for m in transcript if m.seq < window_start and m.role != "system")
        return _State(
            window=window,
            tracker=tracker,
            last_seq=info.last_seq if info else 0,
            overhead=overhead,
            trimmed=trimmed,
            system_prompt=system_prompt,
        )

    async def _append(self, session_id: str, state: _State, messages: list[Message]) -> None:
        if not messages:
            return
        stored = await self.store.append(session_id, messages)
        if stored[0].seq != state.last_seq + 1:
            # Another process wrote to this session since we cached it: reload from the store.
            fresh = await self._load(session_id)
            for name in _State.__slots__:
                setattr(state, name, getattr(fresh, name))
            return
        state.last_seq = stored[-1].seq
        for message in stored:
            if message.in_window:
                state.window.append(message)
                state.tracker.add(message.tokens)

    async def _maybe_trim(self, session_id: str, state: _State) -> CleanupReport | None:
        if not state.tracker.needs_cleanup:
            return None
        return await self._apply(session_id, state, self._plan(state))

    def _plan(self, state: _State, *, hard: bool = False) -> TrimPlan:
        """Plan a trim to the cleanup target; ``hard`` (the provider said the request is too
        long) halves what is there and keeps only the newest message."""
        tracker = state.tracker
        if hard:
            # Our count was too low, so aim well below both the target and what we counted.
            target, keep = min(tracker.target, tracker.fraction) / 2, 1
        else:
            # The newest message is the input being answered: it always stays.
            target, keep = tracker.target, max(1, tracker.min_keep)
        return tracker.plan(state.window, state.overhead, target=target, min_keep=keep)

    async def _apply(
        self, session_id: str, state: _State, plan: TrimPlan, reason: str = "threshold"
    ) -> CleanupReport:
        before = state.tracker.tokens
        if plan.changed:
            window = apply_trim(state.window, plan.drop)
            start = next((m.seq for m in window if m.role != "system"), state.last_seq + 1)
            await self.store.set_state(session_id, window_start=start)
            state.window = window
            state.trimmed += plan.drop
            state.tracker.tokens = plan.tokens_after
        state.warning = plan.warning
        report = CleanupReport(
            trimmed=plan.drop,
            tokens_before=before,
            tokens_after=state.tracker.tokens,
            window=state.tracker.window_size,
            warning=plan.warning,
        )
        if plan.changed or plan.warning:
            logger.info(
                "context cleanup",
                extra={"session_id": session_id, "reason": reason, **report.as_dict()},
            )
        return report

    # ------------------------------------------------------------------ helpers

    def _check_input(self, text: str) -> None:
        if not isinstance(text, str):
            raise InvalidInputError(f"input must be text, not {type(text).__name__}")
        if not text.strip():
            raise InvalidInputError("input is empty")
        if len(text) > self.max_input_chars:
            raise InvalidInputError(
                f"input is {len(text):,} characters, over the limit of {self.max_input_chars:,} "
                "(raise max_input_chars / AGENTCLI_MAX_INPUT_CHARS to allow more)"
            )
        self._check_text(text)

    @staticmethod
    def _check_text(text: str) -> None:
        try:
            check_storable(text)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None

    def _tokens(self, text: str) -> int:
        if self._count is not None:
            return self._count(text)
        from .tokens import count_message_tokens

        return count_message_tokens(text)

    @asynccontextmanager
    async def _session_lock(self, session_id: str) -> AsyncIterator[None]:
        entry = self._locks.get(session_id)
        if entry is None:
            entry = self._locks[session_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[session_id]

    def __repr__(self) -> str:
        return (
            f"SessionManager(agent={self.agent!r}, store={type(self.store).__name__}, "
            f"window={self.context_window_size})"
        )


def _reported_overhead(metadata: dict[str, Any], message_tokens: int) -> int | None:
    """What the window costs beyond its messages (system prompt, tool schemas, framing), from
    the provider's own count: ``context_tokens``, else prompt plus completion tokens."""
    used = metadata.get("context_tokens")
    if not isinstance(used, int):
        prompt, completion = metadata.get("prompt_tokens"), metadata.get("completion_tokens")
        if not (isinstance(prompt, int) and isinstance(completion, int)):
            return None
        used = prompt + completion
    return max(0, used - message_tokens)


def _stored_overhead(window: list[Message]) -> int | None:
    """The overhead kept on the newest answer of the window that has one."""
    for message in reversed(window):
        value = (message.metadata or {}).get(_OVERHEAD_KEY)
        if isinstance(value, int):
            return value
    return None


_USAGE_KEYS = (
    "tokens",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost",
    "cost_note",
    "model",
    "provider",
    "error",
)


def _usage_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe usage fields of a response, kept on the stored answer."""
    return {
        k: v
        for k, v in metadata.items()
        if k in _USAGE_KEYS and isinstance(v, str | int | float | bool) and v is not None
    }


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
