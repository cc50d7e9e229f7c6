"""The window of each recently used session, cached so a turn costs the same at 1,000 messages
as at none, and loaded from the store when it is not cached (or is stale).

A cached window is only trusted while its ``last_seq`` and ``revision`` match the store's: the
manager checks both under the session's lease before every turn, so another process's turns,
trims and prompt changes are never missed.

A cold load reads only the window, not the whole transcript: the messages from the window's
start, plus the few kept from before it (system messages and pinned exchanges), whose ``seq``
numbers the last trim recorded in the session's metadata (``WINDOW_KEY``) along with how many it
trimmed. The pins are the seqs in ``PINNED_KEY``; each keeps its whole exchange.

A summary (summarising compaction) is a system message whose metadata says which messages it
covers (``SUMMARY_KEY``). Only the newest summary is live: ``window_order`` keeps it right
after the leading system messages and leaves the older ones (still in the transcript) out, the
same way after a cleanup and on a cold load, so the cache and the store always agree.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import JsonValue

from ..context import ContextTracker, ContextUsage, pinned_exchange_seqs
from ..messages import Message
from ..request_options import stored_options
from ..stores.base import SessionInfo, SessionStore

__all__ = [
    "OVERHEAD_KEY",
    "PINNED_KEY",
    "SYSTEM_PROMPT_KEY",
    "WINDOW_KEY",
    "SessionSnapshot",
    "WindowCache",
    "WindowState",
    "read_pins",
    "summary_range",
    "window_marker",
    "window_order",
]

SYSTEM_PROMPT_KEY = "system_prompt"  # in the session's metadata
OVERHEAD_KEY = "overhead_tokens"  # on an answer: what the provider counted beyond the messages
WINDOW_KEY = "window"  # in the session's metadata: {"kept": [seq, ...], "trimmed": n}
SUMMARY_KEY = "summary"  # on a summary message: {"from": seq, "to": seq, "messages": n}
PINNED_KEY = "pinned"  # in the session's metadata: the pinned seqs, as the user gave them


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """What a session looks like now, for views (``/context``, a server's usage endpoint).

    ``overhead`` is what the window costs beyond its messages: the system prompt, tool schemas
    and the provider's framing (calibrated from the provider's own count when it reported one).
    """

    session_id: str
    window: tuple[Message, ...]
    usage: ContextUsage
    overhead: int
    system_prompt: str | None
    system_prompt_tokens: int
    last_seq: int
    pinned: frozenset[int] = frozenset()  # every message of a pinned exchange
    pins: tuple[int, ...] = ()  # the pinned seqs as given (``PINNED_KEY``), in order

    @property
    def trimmed(self) -> int:
        return self.usage.trimmed


@dataclass(slots=True)
class WindowState:
    """The cached window of one session."""

    window: list[Message]
    tracker: ContextTracker
    last_seq: int
    overhead: int
    trimmed: int
    system_prompt: str | None
    warning: str | None = None
    revision: str = ""
    # Every message of a pinned exchange (from ``PINNED_KEY``): kept like system messages.
    pinned: frozenset[int] = frozenset()
    pins: frozenset[int] = frozenset()  # the pinned seqs as given
    options: dict[str, JsonValue] = field(default_factory=dict)  # -o NAME=VALUE, checked

    def usage(self) -> ContextUsage:
        return self.tracker.usage(len(self.window), self.trimmed, self.warning)

    def replace_with(self, fresh: WindowState) -> None:
        """Take ``fresh``'s contents (callers keep references to this object)."""
        for name in WindowState.__slots__:
            setattr(self, name, getattr(fresh, name))


class WindowCache:
    """Least recently used windows, at most ``size`` of them."""

    __slots__ = ("_states", "size")

    def __init__(self, size: int = 512) -> None:
        if size < 1:
            raise ValueError("the window cache needs room for at least one session")
        self.size = size
        self._states: OrderedDict[str, WindowState] = OrderedDict()

    def get(self, session_id: str) -> WindowState | None:
        state = self._states.get(session_id)
        if state is not None:
            self._states.move_to_end(session_id)
        return state

    def put(self, session_id: str, state: WindowState) -> None:
        self._states[session_id] = state
        self._states.move_to_end(session_id)
        if len(self._states) > self.size:
            self._states.popitem(last=False)

    def drop(self, session_id: str) -> None:
        self._states.pop(session_id, None)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._states

    def __len__(self) -> int:
        return len(self._states)

    def __iter__(self) -> Iterator[WindowState]:
        return iter(list(self._states.values()))


async def load_window(
    store: SessionStore,
    session_id: str,
    *,
    default_system_prompt: str | None,
    new_tracker: Callable[[int], ContextTracker],
    count_tokens: Callable[[str], int],
) -> WindowState:
    """Read a session's window from the store (a new session loads as empty)."""
    info = await store.info(session_id)
    metadata = info.metadata if info else {}
    prompt = metadata.get(SYSTEM_PROMPT_KEY)
    system_prompt = prompt if isinstance(prompt, str) else default_system_prompt
    pins = read_pins(metadata)
    window, trimmed = await _read_window(store, session_id, info, pins) if info else ([], 0)
    overhead = stored_overhead(window)
    if overhead is None:
        overhead = count_tokens(system_prompt) if system_prompt else 0
    return WindowState(
        window=window,
        tracker=new_tracker(overhead + sum(m.tokens for m in window)),
        last_seq=info.last_seq if info else 0,
        overhead=overhead,
        trimmed=trimmed,
        system_prompt=system_prompt,
        revision=info.revision if info else "",
        pinned=pinned_exchange_seqs(window, pins),
        pins=pins,
        options=stored_options(metadata),
    )


async def _read_window(
    store: SessionStore, session_id: str, info: SessionInfo, pins: frozenset[int]
) -> tuple[list[Message], int]:
    """The window's messages and how many were trimmed, reading as little as possible."""
    start = info.window_start
    marker = window_marker(info.metadata) if start > 1 else ((), 0)
    if marker is None:
        # Trimmed before the marker existed (or imported): find out from the whole transcript.
        transcript = await store.read(session_id)
        pinned = pinned_exchange_seqs([m for m in transcript if m.in_window], pins)
        early = [m for m in transcript if m.seq < start and m.role != "system"]
        trimmed = sum(1 for m in early if m.seq not in pinned)
        window = [
            m
            for m in transcript
            if m.in_window and (m.seq >= start or m.role == "system" or m.seq in pinned)
        ]
        return window_order(window), trimmed
    kept_seqs, trimmed = marker
    kept = await store.read_seqs(session_id, kept_seqs) if kept_seqs else []
    recent = await store.read(session_id, since_seq=start)
    return window_order([m for m in (*kept, *recent) if m.in_window]), trimmed


def summary_range(message: Message) -> tuple[int, int] | None:
    """The ``(first, last)`` seq a summary message covers; ``None`` if it is no summary."""
    if message.role != "system" or not message.metadata:
        return None
    value = message.metadata.get(SUMMARY_KEY)
    if not isinstance(value, dict):
        return None
    first, last = value.get("from"), value.get("to")
    if isinstance(first, int) and isinstance(last, int):
        return first, last
    return None


def window_order(messages: list[Message]) -> list[Message]:
    """The window with only its newest summary, placed right after the leading system
    messages (older summaries stay in the transcript only). Unchanged if there is none."""
    summaries = [m for m in messages if summary_range(m) is not None]
    if not summaries:
        return messages
    rest = [m for m in messages if summary_range(m) is None]
    at = next((i for i, m in enumerate(rest) if m.role != "system"), len(rest))
    return [*rest[:at], summaries[-1], *rest[at:]]


def window_marker(metadata: dict[str, JsonValue]) -> tuple[tuple[int, ...], int] | None:
    """The ``(kept seqs, trimmed count)`` the last trim recorded, or ``None``."""
    value = metadata.get(WINDOW_KEY)
    if not isinstance(value, dict):
        return None
    kept, trimmed = value.get("kept"), value.get("trimmed")
    if not isinstance(kept, list) or not isinstance(trimmed, int):
        return None
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in kept):
        return None
    return tuple(s for s in kept if isinstance(s, int)), trimmed


def read_pins(metadata: dict[str, JsonValue]) -> frozenset[int]:
    """The pinned seqs in ``metadata``; anything that is not a list of seqs is ignored."""
    value = metadata.get(PINNED_KEY)
    if not isinstance(value, list):
        return frozenset()
    return frozenset(s for s in value if isinstance(s, int) and not isinstance(s, bool) and s > 0)


def marker_value(kept: list[int], trimmed: int) -> dict[str, JsonValue]:
    return {"kept": list[JsonValue](kept), "trimmed": trimmed}


def stored_overhead(window: list[Message]) -> int | None:
    """The overhead kept on the newest answer of the window that has one."""
    for message in reversed(window):
        value = (message.metadata or {}).get(OVERHEAD_KEY)
        if isinstance(value, int):
            return value
    return None
