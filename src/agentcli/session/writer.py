"""Writes to one session while its lease is held: appends that name the ``seq`` they follow,
and trims of the window (the store keeps the whole transcript; only the window's start moves).
"""

from __future__ import annotations

import logging

from pydantic import JsonValue

from ..context import TrimPlan, apply_trim, pinned_exchange_seqs
from ..errors import SessionConflictError
from ..messages import Message
from ..stores.base import SessionStore
from ..usage import CleanupReport
from .pins import pin_first_message
from .summarize import Compaction, summarize_dropped
from .window_cache import PINNED_KEY, WINDOW_KEY, WindowCache, WindowState, marker_value

__all__ = ["SessionWriter"]

logger = logging.getLogger("agentcli.session")


class SessionWriter:
    """Appends and trims for ``session_id``, keeping the cached ``state`` in step."""

    __slots__ = ("cache", "compaction", "pin_first", "session_id", "state", "store")

    def __init__(
        self,
        store: SessionStore,
        cache: WindowCache,
        session_id: str,
        state: WindowState,
        *,
        pin_first: bool = False,
        compaction: Compaction | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.session_id = session_id
        self.state = state
        self.pin_first = pin_first  # pin the session's first user message when it is stored
        self.compaction = compaction  # how cleanups are done (``None``: first-in first-out)

    async def append(self, messages: list[Message]) -> None:
        """Store ``messages`` right after the last one we know of, or write nothing."""
        if not messages:
            return
        state = self.state
        try:
            stored = await self.store.append(
                self.session_id, messages, expected_last_seq=state.last_seq
            )
        except SessionConflictError:
            # We lost the lease and another turn was stored: our window is stale.
            self.cache.drop(self.session_id)
            raise
        state.last_seq = stored[-1].seq
        for message in stored:
            if message.in_window:
                if state.pinned and _continues_pinned(state, message):
                    state.pinned = state.pinned | {message.seq}
                state.window.append(message)
                state.tracker.add(message.tokens)
        if self.pin_first and not state.pins and not state.trimmed and stored[0].role == "user":
            await pin_first_message(self, stored[0])

    async def set_pins(self, pins: frozenset[int]) -> None:
        """Store the session's pins and keep the cached window's view of them in step."""
        state = self.state
        state.revision = await self.store.set_state(
            self.session_id, metadata={PINNED_KEY: list[JsonValue](sorted(pins))}
        )
        state.pins = pins
        state.pinned = pinned_exchange_seqs(state.window, pins)

    async def maybe_trim(self) -> CleanupReport | None:
        """Trim to the cleanup target if the window reached the threshold."""
        if not self.state.tracker.needs_cleanup:
            return None
        plan = self.plan()
        compaction = self.compaction
        if compaction is not None and compaction.strategy == "summarize" and plan.changed:
            return await summarize_dropped(self, plan, compaction)
        return await self.apply(plan)

    def plan(self, *, hard: bool = False) -> TrimPlan:
        """Plan a trim to the cleanup target; ``hard`` (the provider said the request is too
        long) halves what is there and keeps only the newest message."""
        state = self.state
        tracker = state.tracker
        if hard:
            # Our count was too low, so aim well below both the target and what we counted.
            target, keep = min(tracker.target, tracker.fraction) / 2, 1
        else:
            # The newest message is the input being answered: it always stays.
            target, keep = tracker.target, max(1, tracker.min_keep)
        # The pins as given (few): the plan finds their exchanges, cheaper than every seq.
        return tracker.plan(
            state.window, state.overhead, target=target, min_keep=keep, pinned=state.pins
        )

    async def apply(self, plan: TrimPlan, reason: str = "threshold") -> CleanupReport:
        """Move the window's start as ``plan`` says, in the store and in the cache."""
        state = self.state
        before = state.tracker.tokens
        if plan.changed:
            pinned = state.pinned
            window = apply_trim(state.window, plan.drop, state.pins)
            start = next(
                (m.seq for m in window if m.role != "system" and m.seq not in pinned),
                state.last_seq + 1,
            )
            trimmed = state.trimmed + plan.drop
            # What a cold load needs to read only the window (``window_cache.load_window``).
            kept = [m.seq for m in window if m.seq < start]
            state.revision = await self.store.set_state(
                self.session_id,
                window_start=start,
                metadata={WINDOW_KEY: marker_value(kept, trimmed)},
            )
            state.window = window
            state.trimmed = trimmed
            state.tracker.tokens = plan.tokens_after
        state.warning = plan.warning
        report = CleanupReport(
            trimmed=plan.drop,
            tokens_before=before,
            tokens_after=state.tracker.tokens,
            window=state.tracker.window_size,
            reason=reason,
            warning=plan.warning,
        )
        if plan.changed or plan.warning:
            logger.info(
                "context cleanup",
                extra={"session_id": self.session_id, **report.model_dump()},
            )
        return report


def _continues_pinned(state: WindowState, message: Message) -> bool:
    """Whether ``message`` belongs to the pinned exchange the window ends with."""
    return (
        message.role not in {"user", "system"}
        and bool(state.window)
        and state.window[-1].seq in state.pinned
    )
