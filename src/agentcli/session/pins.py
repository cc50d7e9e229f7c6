"""Pinned messages: exchanges that cleanup keeps in the window, like system messages.

A pin names one message, and its whole exchange stays (the user message, its answer, every
tool call and result in between), so the window the model sees stays valid. The pins are a
list of seqs in the session's metadata (``PINNED_KEY``), changed only under the session's lease.
Pinning is refused when the pinned exchanges, with the system prompt and the system messages,
would no longer fit under the cleanup target: cleanup could then never bring the window down.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..context import TrimPlan, pinned_exchange_seqs
from ..errors import InvalidInputError
from ..messages import Message

if TYPE_CHECKING:
    from .window_cache import WindowState
    from .writer import SessionWriter

__all__ = ["over_capacity", "pin_exchange", "pin_first_message", "unpin_exchange"]

logger = logging.getLogger("agentcli.session")


async def pin_exchange(writer: SessionWriter, seq: int) -> tuple[int, ...]:
    """Pin message ``seq`` (so its exchange) of the writer's session; the pins after it.

    Pinning a message that is already kept by a pin changes nothing.
    """
    state = writer.state
    message = next((m for m in state.window if m.seq == seq), None)
    if message is None:
        raise InvalidInputError(await _not_in_window(writer, seq))
    if message.role == "system":
        raise InvalidInputError(
            f"message #{seq} is a system message: those always stay in the window"
        )
    if seq not in state.pinned:
        refusal = over_capacity(state, seq)
        if refusal is not None:
            raise InvalidInputError(f"cannot pin message #{seq}: {refusal}")
        await writer.set_pins(state.pins | {seq})
    return tuple(sorted(state.pins))


async def unpin_exchange(writer: SessionWriter, seq: int) -> tuple[int, ...]:
    """Unpin message ``seq``, or the pins of the exchange it belongs to; the pins after it.

    An exchange from before the window's start leaves the window at once: cleanup had already
    passed it, and the transcript and exports count everything before the start as trimmed.
    """
    state = writer.state
    if seq in state.pins:
        remaining = state.pins - {seq}
    elif seq in state.pinned:  # an answer or tool message of a pinned exchange
        remaining = state.pins - pinned_exchange_seqs(state.window, (seq,))
    else:
        pinned = ", ".join(f"#{s}" for s in sorted(state.pins)) or "none"
        raise InvalidInputError(f"message #{seq} is not pinned (pinned: {pinned})")
    await writer.set_pins(remaining)
    await _release_before_start(writer)
    return tuple(sorted(state.pins))


async def _release_before_start(writer: SessionWriter) -> None:
    state = writer.state
    info = await writer.store.info(writer.session_id)
    start = info.window_start if info else 1
    freed = [
        m
        for m in state.window
        if m.seq < start and m.role != "system" and m.seq not in state.pinned
    ]
    if not freed:
        return
    # They are the oldest droppable messages of the window: a plain trim of that many.
    tokens, tracker = state.tracker.tokens, state.tracker
    after = tokens - sum(m.tokens for m in freed)
    target = int(tracker.window_size * tracker.target)
    await writer.apply(TrimPlan(len(freed), tokens, after, target, state.warning), reason="unpin")


async def pin_first_message(writer: SessionWriter, message: Message) -> None:
    """Pin ``message`` if it is the session's first user message and fits (else log why)."""
    state = writer.state
    first = next((m for m in state.window if m.role == "user"), None)
    if first is None or first.seq != message.seq:
        return
    refusal = over_capacity(state, message.seq)
    if refusal is not None:
        logger.warning(
            "the first message was not pinned: %s",
            refusal,
            extra={"session_id": writer.session_id},
        )
        return
    await writer.set_pins(state.pins | {message.seq})


def over_capacity(state: WindowState, seq: int) -> str | None:
    """Why pinning ``seq`` too would leave cleanup unable to reach its target, or ``None``."""
    tracker = state.tracker
    window = tracker.window_size
    target = int(window * tracker.target)
    pinned = pinned_exchange_seqs(state.window, state.pins | {seq})
    pinned_tokens = sum(m.tokens for m in state.window if m.seq in pinned)
    fixed = state.overhead + sum(m.tokens for m in state.window if m.role == "system")
    if fixed + pinned_tokens <= target:
        return None
    return (
        f"the pinned exchanges would take {_share(pinned_tokens, window)} of the context "
        f"window and the system prompt and system messages {_share(fixed, window)}, "
        f"{_share(fixed + pinned_tokens, window)} together, above the cleanup target of "
        f"{tracker.target:.0%}; unpin something first"
    )


async def _not_in_window(writer: SessionWriter, seq: int) -> str:
    """Why message ``seq`` cannot be pinned, when it is not in the window."""
    state = writer.state
    if not 1 <= seq <= state.last_seq:
        count = f"messages #1 to #{state.last_seq}" if state.last_seq else "no messages yet"
        return f"there is no message #{seq} in this session (it has {count})"
    found = await writer.store.read_seqs(writer.session_id, [seq])
    if found and not found[0].in_window:
        return f"message #{seq} is a failed turn's entry, never sent to the model"
    return (
        f"message #{seq} is no longer in the context window (cleanup moved it out; the "
        "transcript keeps it): only messages in the window can be pinned"
    )


def _share(tokens: int, window: int) -> str:
    return f"{tokens / window:.0%}" if window else "?"
