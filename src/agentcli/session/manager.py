"""The session manager: the library's front door for running turns and reading sessions.

Every turn and every change of a session runs under two guards: a per-session lock in this
process (turns queue in order, for free) and the store's session lease (one turn at a time
across processes and machines; a crashed holder blocks the session for at most the lease's
time to live). Under the lease the cached window is checked against the store's last ``seq``
and reloaded if another process moved it, and appends name the ``seq`` they follow.

With a session budget (``max_session_cost``, USD), a turn first reads the session's spend
counter in the store, under the lease, and is refused with ``BudgetExceededError`` before
anything is stored once it is spent; after the answer is stored, its ``usage.cost`` is added to
the counter (still under the lease, so the next turn anywhere sees it). Without a budget no
counter is kept.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

from ..agent import AgentInterface, StreamEvent, TextDelta, TurnComplete
from ..context import (
    DEFAULT_CLEANUP_TARGET,
    DEFAULT_CLEANUP_THRESHOLD,
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_MIN_MESSAGES_TO_KEEP,
    ContextTracker,
    ContextUsage,
)
from ..errors import AgentCLIError, BudgetExceededError, ConfigError, InvalidInputError
from ..messages import AgentResponse, Message, check_storable
from ..stores.base import SessionStore, validate_session_id
from ..stores.lease import DEFAULT_LEASE_TTL, DEFAULT_LEASE_WAIT, check_lease_times
from ..usage import CleanupReport
from .budget import check_session_budget, record_session_spend
from .locks import KeyedLocks
from .options import Changes, Options, update_options
from .pins import pin_exchange, unpin_exchange
from .summarize import (
    CleanupStrategy,
    Compaction,
    check_compaction,
    compact_now,
    summary_agent_from,
)
from .turn import Turn, TurnLog
from .window_cache import (
    SYSTEM_PROMPT_KEY,
    SessionSnapshot,
    WindowCache,
    WindowState,
    load_window,
)
from .writing import Writing

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["SessionManager"]


class SessionManager:
    """Runs turns for many sessions against one agent and one store.

    The defaults are the specification's: a 100,000-token window (or the agent's own, when it
    knows its model's), cleanup at 90 % down to 60 %, always keeping the last 5 messages.
    ``lease_wait`` is how long a turn waits for a session another turn holds before it fails
    with ``SessionBusyError``; ``lease_ttl`` is how long a crashed holder can block it.
    ``max_session_cost`` (USD) refuses a session's turns once its answers cost that much.
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
        lease_ttl: float = DEFAULT_LEASE_TTL,
        lease_wait: float = DEFAULT_LEASE_WAIT,
        max_session_cost: float | None = None,
        pin_first_message: bool = False,
        cleanup_strategy: CleanupStrategy = "fifo",
        summary_agent: AgentInterface | None = None,
        summary_timeout: float = 60.0,
    ) -> None:
        if max_session_cost is not None and not (
            math.isfinite(max_session_cost) and max_session_cost > 0
        ):
            raise ConfigError(
                f"max_session_cost must be a positive number of USD, not {max_session_cost!r}"
            )
        if store is None:
            from ..stores.memory import MemoryStore

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
        check_lease_times(lease_ttl, lease_wait)
        check_compaction(cleanup_strategy, summary_timeout)
        self.cleanup_threshold = cleanup_threshold
        self.cleanup_target = cleanup_target
        self.min_messages_to_keep = min_messages_to_keep
        self.max_input_chars = max_input_chars
        self.system_prompt = system_prompt
        self.lease_ttl = lease_ttl
        self.lease_wait = lease_wait
        self.max_session_cost = max_session_cost
        self.pin_first_message = pin_first_message  # pins each session's first user message
        self.cleanup_strategy: CleanupStrategy = cleanup_strategy
        self.summary_agent = summary_agent  # None: the session's own agent summarises
        self.summary_timeout = summary_timeout
        self._count = token_counter
        self._cache = WindowCache(cache_size)
        self._locks = KeyedLocks()

    @classmethod
    def from_settings(
        cls,
        agent: AgentInterface,
        settings: Settings,
        *,
        store: SessionStore,
        system_prompt: str | None = None,
        lease_wait: float | None = None,
    ) -> SessionManager:
        """A manager with the window policy, input limit, lease times and session budget of
        ``settings``."""
        return cls(
            agent,
            store=store,
            context_window_size=settings.context_window,
            cleanup_threshold=settings.cleanup_threshold,
            cleanup_target=settings.cleanup_target,
            min_messages_to_keep=settings.min_messages_to_keep,
            max_input_chars=settings.max_input_chars,
            system_prompt=system_prompt,
            lease_ttl=settings.lease_ttl,
            lease_wait=settings.lease_wait if lease_wait is None else lease_wait,
            max_session_cost=settings.max_session_cost,
            pin_first_message=settings.pin_first_message,
            cleanup_strategy=settings.cleanup_strategy,
            summary_agent=summary_agent_from(settings),
            summary_timeout=settings.summary_timeout,
        )

    @property
    def context_window_size(self) -> int:
        return self._window_override or self.agent.context_window or DEFAULT_CONTEXT_WINDOW

    def set_agent(self, agent: AgentInterface) -> None:
        """Switch the agent for later turns (the window size may change with it)."""
        self.agent = agent
        for state in self._cache:
            state.tracker.window_size = self.context_window_size

    # ------------------------------------------------------------------ turns

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

    async def stream_events(
        self, session_id: str, text: str, *, on_hold: Callable[[], object] | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Run one turn, yielding text, tool calls and tool results, then ``TurnComplete``.

        If the consumer stops early (Ctrl-C, a client that went away), the partial answer is
        stored marked ``interrupted`` and the session stays usable. ``on_hold`` is called once
        the session is held for this turn (a server answers 409 until then, not after), and
        within the session's budget (``BudgetExceededError`` comes before it).
        """
        if session_id not in self._cache:  # ids in the cache were checked when they came in
            validate_session_id(session_id)
        self._check_input(text)
        log = TurnLog(session_id, len(text))
        try:
            async with self._writing(session_id) as writer:
                if self.max_session_cost is not None:
                    await check_session_budget(self.store, session_id, self.max_session_cost)
                if on_hold is not None:
                    on_hold()
                turn = Turn(self.agent, writer, text, count_tokens=self._tokens, log=log)
                events = turn.run()
                try:
                    async for event in events:
                        if isinstance(event, TurnComplete) and self.max_session_cost:
                            # The answer is stored: count its cost before anyone sees it.
                            await record_session_spend(self.store, session_id, event.response)
                        yield event
                finally:
                    # Closing the turn here (not at garbage collection) stores a partial
                    # answer while this turn still holds the session.
                    await events.aclose()
        except (GeneratorExit, asyncio.CancelledError):
            log.outcome = "interrupted"
            raise
        except BudgetExceededError:
            log.outcome = "budget_exceeded"
            raise
        except AgentCLIError:
            log.outcome = "error"
            raise
        finally:
            log.emit(self.agent.name)

    # ------------------------------------------------------------------ reading

    async def history(self, session_id: str) -> list[Message]:
        """The whole transcript, trimmed part included, in order."""
        return await self.store.read(validate_session_id(session_id))

    async def window(self, session_id: str) -> list[Message]:
        """The messages the agent sees on the next turn."""
        return list((await self.snapshot(session_id)).window)

    async def usage(self, session_id: str) -> ContextUsage:
        """How full the session's window is: tokens, window size, fraction, level, trimmed."""
        return (await self.snapshot(session_id)).usage

    async def system_prompt_for(self, session_id: str) -> str | None:
        """The system prompt the session's next turn will use (its own, else the default)."""
        return (await self.snapshot(session_id)).system_prompt

    async def snapshot(self, session_id: str) -> SessionSnapshot:
        """The session's window, usage, overhead and system prompt as of now."""
        validate_session_id(session_id)
        async with self._locks.hold(session_id):
            info = await self.store.info(session_id)
            state = await self._state(
                session_id, info.last_seq if info else 0, info.revision if info else ""
            )
            prompt = state.system_prompt
            return SessionSnapshot(
                session_id=session_id,
                window=tuple(state.window),
                usage=state.usage(),
                overhead=state.overhead,
                system_prompt=prompt,
                system_prompt_tokens=self._tokens(prompt) if prompt else 0,
                last_seq=state.last_seq,
                pinned=state.pinned,
                pins=tuple(sorted(state.pins)),
            )

    # ------------------------------------------------------------------ changing

    async def compact(self, session_id: str, instructions: str | None = None) -> CleanupReport:
        """Clean the window up to the cleanup target now, whatever its level, by the cleanup
        strategy. With ``instructions`` (for the summary) everything but the last exchanges is
        summarised, under either strategy."""
        instructions = instructions.strip() if instructions else None
        if instructions:
            self._check_input(instructions)
        strategy = "summarize" if instructions else self.cleanup_strategy
        async with self._writing(validate_session_id(session_id)) as writer:
            return await compact_now(writer, self._compaction(strategy), instructions)

    async def pin(self, session_id: str, seq: int) -> tuple[int, ...]:
        """Keep message ``seq``'s exchange through cleanups (``session.pins``); the pins now."""
        async with self._writing(validate_session_id(session_id)) as writer:
            return await pin_exchange(writer, seq)

    async def unpin(self, session_id: str, seq: int) -> tuple[int, ...]:
        """Let cleanup drop message ``seq``'s exchange again; the pins now."""
        async with self._writing(validate_session_id(session_id)) as writer:
            return await unpin_exchange(writer, seq)

    async def clear(self, session_id: str) -> None:
        """Delete the session and its transcript."""
        async with self._writing(validate_session_id(session_id)):
            await self.store.delete(session_id)
            self._cache.drop(session_id)

    async def set_system_prompt(self, session_id: str, prompt: str | None) -> None:
        """Set (or with ``None`` remove) the session's system prompt, kept apart from input."""
        if prompt is not None:
            self._check_text(prompt)
        async with self._writing(validate_session_id(session_id)):
            await self.store.set_state(session_id, metadata={SYSTEM_PROMPT_KEY: prompt})
            self._cache.drop(session_id)  # the next turn reloads it with the new revision

    async def update_options(self, session_id: str, changes: Changes) -> Options:
        """Apply ``changes`` to the session's request options (``-o``); the options now."""
        async with self._writing(validate_session_id(session_id)) as writer:
            return await update_options(writer, changes)

    async def close(self) -> None:
        await self.agent.aclose()
        if self.summary_agent is not None and self.summary_agent is not self.agent:
            await self.summary_agent.aclose()
        await self.store.close()

    # ------------------------------------------------------------------ guards and state

    def _writing(self, session_id: str) -> Writing:
        """Hold the session (local lock, then the store's lease) with a current window."""
        return Writing(self, session_id)

    async def _state(self, session_id: str, last_seq: int, revision: str) -> WindowState:
        """The cached window if it is current (the store's last ``seq`` and revision are
        these), else a fresh one read from the store."""
        state = self._cache.get(session_id)
        if state is not None and state.last_seq == last_seq and state.revision == revision:
            return state
        state = await load_window(
            self.store,
            session_id,
            default_system_prompt=self.system_prompt,
            new_tracker=self._new_tracker,
            count_tokens=self._tokens,
        )
        self._cache.put(session_id, state)
        return state

    def _compaction(self, strategy: CleanupStrategy) -> Compaction | None:
        """How this manager's cleanups run (``None``: first-in first-out)."""
        if strategy != "summarize":
            return None
        return Compaction(
            strategy,
            lambda: self.summary_agent or self.agent,
            self.summary_timeout,
            self._tokens,
            record_spend=self.max_session_cost is not None,
        )

    def _new_tracker(self, tokens: int) -> ContextTracker:
        return ContextTracker(
            self.context_window_size,
            threshold=self.cleanup_threshold,
            target=self.cleanup_target,
            min_keep=self.min_messages_to_keep,
            tokens=tokens,
        )

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
        from ..tokens import count_message_tokens

        return count_message_tokens(text)

    def __repr__(self) -> str:
        return (
            f"SessionManager(agent={self.agent!r}, store={type(self.store).__name__}, "
            f"window={self.context_window_size})"
        )
