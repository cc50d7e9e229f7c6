"""The window of each recently used session, cached so a turn costs the same at 1,000 messages
as at none, and loaded from the store when it is not cached (or is stale).

A cached window is only trusted while its ``last_seq`` matches the store's: the manager checks
that under the session's lease before every turn, so another process's turns are never missed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..context import ContextTracker, ContextUsage
from ..messages import Message
from ..stores.base import SessionStore

__all__ = ["OVERHEAD_KEY", "SYSTEM_PROMPT_KEY", "SessionSnapshot", "WindowCache", "WindowState"]

SYSTEM_PROMPT_KEY = "system_prompt"  # in the session's metadata
OVERHEAD_KEY = "overhead_tokens"  # on an answer: what the provider counted beyond the messages


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
    transcript = await store.read(session_id) if info else []
    window_start = info.window_start if info else 1
    metadata = info.metadata if info else {}
    prompt = metadata.get(SYSTEM_PROMPT_KEY)
    system_prompt = prompt if isinstance(prompt, str) else default_system_prompt
    window = [
        m for m in transcript if m.in_window and (m.seq >= window_start or m.role == "system")
    ]
    overhead = stored_overhead(window)
    if overhead is None:
        overhead = count_tokens(system_prompt) if system_prompt else 0
    trimmed = sum(1 for m in transcript if m.seq < window_start and m.role != "system")
    return WindowState(
        window=window,
        tracker=new_tracker(overhead + sum(m.tokens for m in window)),
        last_seq=info.last_seq if info else 0,
        overhead=overhead,
        trimmed=trimmed,
        system_prompt=system_prompt,
    )


def stored_overhead(window: list[Message]) -> int | None:
    """The overhead kept on the newest answer of the window that has one."""
    for message in reversed(window):
        value = (message.metadata or {}).get(OVERHEAD_KEY)
        if isinstance(value, int):
            return value
    return None
