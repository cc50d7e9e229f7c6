"""The context window policy: token counting per window, usage levels, and trimming.

Pure: no I/O, no clocks. The numbers are the specification's: levels green below 70 %, yellow
70-89 %, red at 90 % and above; at 90 % the window is trimmed first-in first-out down to 60 %,
always keeping system messages and the last ``min_messages_to_keep`` messages.

Trimming drops whole exchanges (a user message, its answer, and every tool call and result in
between), oldest first. Pinned exchanges stay like system messages: pinning any message of an
exchange keeps all of it, so the window always holds whole exchanges.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .messages import Message
from .usage import UsageLevel

__all__ = [
    "DEFAULT_CLEANUP_TARGET",
    "DEFAULT_CLEANUP_THRESHOLD",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MIN_MESSAGES_TO_KEEP",
    "ContextTracker",
    "ContextUsage",
    "TrimPlan",
    "UsageLevel",
    "apply_trim",
    "pinned_exchange_seqs",
    "plan_trim",
    "usage_level",
]

DEFAULT_CONTEXT_WINDOW = 100_000
DEFAULT_CLEANUP_THRESHOLD = 0.90
DEFAULT_CLEANUP_TARGET = 0.60
DEFAULT_MIN_MESSAGES_TO_KEEP = 5
YELLOW_AT = 0.70


def usage_level(fraction: float, red_at: float = DEFAULT_CLEANUP_THRESHOLD) -> UsageLevel:
    """Green below 70 %, yellow from 70 % up to the red mark (90 %), red from there."""
    if fraction >= red_at:
        return UsageLevel.RED
    if fraction >= YELLOW_AT:
        return UsageLevel.YELLOW
    return UsageLevel.GREEN


@dataclass(frozen=True, slots=True)
class ContextUsage:
    """How full a session's window is. ``trimmed`` counts messages moved out of the window."""

    tokens: int
    window: int
    fraction: float
    level: UsageLevel
    messages: int
    trimmed: int = 0
    warning: str | None = None

    @property
    def percent(self) -> float:
        return self.fraction * 100


@dataclass(frozen=True, slots=True)
class TrimPlan:
    """What a trim does: drop the first ``drop`` droppable messages of the window (those that
    are neither system messages nor in a pinned exchange)."""

    drop: int
    tokens_before: int
    tokens_after: int
    target: int
    warning: str | None = None

    @property
    def changed(self) -> bool:
        return self.drop > 0


def pinned_exchange_seqs(window: Sequence[Message], pinned: Collection[int]) -> frozenset[int]:
    """The seqs of every message in an exchange one of ``pinned`` belongs to.

    An exchange runs from a user message up to the next one; system messages belong to none
    (they stay anyway), and a window trimmed long ago may start with an exchange without its
    question.
    """
    if not pinned:
        return frozenset()
    body = [m for m in window if m.role != "system"]
    return frozenset(m.seq for first, end in _pinned_spans(body, pinned) for m in body[first:end])


def _pinned_spans(body: Sequence[Message], pinned: Collection[int]) -> list[tuple[int, int]]:
    """The ``[first, end)`` index ranges of ``body`` (no system messages) that pinned exchanges
    cover, in order and apart. Each pin is found by bisection (a window is in seq order) and
    checked, so a plan costs about the same with pins as without on 10,000 messages."""
    spans: list[tuple[int, int]] = []
    for seq in pinned:
        spot = bisect_left(body, seq, key=_seq)
        if spot >= len(body) or body[spot].seq != seq:
            # Not in seq order after all, or not in the window: look the slow way.
            spot = next((i for i, m in enumerate(body) if m.seq == seq), -1)
            if spot < 0:
                continue
        first = spot
        while first > 0 and body[first].role != "user":
            first -= 1
        end = spot + 1
        while end < len(body) and body[end].role != "user":
            end += 1
        spans.append((first, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for first, end in spans:
        if merged and first < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((first, end))
    return merged


def _seq(message: Message) -> int:
    return message.seq


def plan_trim(
    window: Sequence[Message],
    *,
    window_size: int,
    target: float = DEFAULT_CLEANUP_TARGET,
    min_keep: int = DEFAULT_MIN_MESSAGES_TO_KEEP,
    overhead: int = 0,
    pinned: Collection[int] = (),
) -> TrimPlan:
    """Plan the smallest first-in first-out drop that brings the window to ``target``.

    Whole exchanges go, oldest first: a user message, its answer, and every tool call and
    result in between. So the kept part starts with a user message (never an answer whose
    question is gone, nor a tool result without its call), and keeping the last ``min_keep``
    messages is rounded up to the start of the exchange the earliest of them is in. System
    messages and the exchanges of the ``pinned`` seqs are never dropped.

    ``overhead`` is what the window costs beyond its messages (a system prompt, tool schemas).
    If no allowed drop reaches the target (the kept messages alone are too large), the plan
    drops as much as the rules allow and says so in ``warning``. Applying a plan and planning
    again gives an empty plan.
    """
    target_tokens = int(window_size * target)
    total = overhead + sum(m.tokens for m in window)
    if total <= target_tokens:
        return TrimPlan(0, total, total, target_tokens)

    body = [m for m in window if m.role != "system"]
    spans = _pinned_spans(body, pinned) if pinned else []
    keep = frozenset(m.seq for first, end in spans for m in body[first:end])
    if spans:  # the droppable messages: the body without the pinned exchanges, by slices
        ends = [0, *(i for span in spans for i in span), len(body)]
        droppable: list[Message] = []
        for start, stop in zip(ends[0::2], ends[1::2], strict=True):
            droppable.extend(body[start:stop])
        body = droppable
    last_cut = max(0, len(body) - _droppable_among_last(window, keep, min_keep))
    remaining = total
    best = 0
    best_remaining = total
    for cut in range(1, last_cut + 1):
        remaining -= body[cut - 1].tokens
        if cut < len(body) and body[cut].role != "user":
            continue  # only whole exchanges go: the window then starts with a question
        best, best_remaining = cut, remaining
        if remaining <= target_tokens:
            return TrimPlan(best, total, best_remaining, target_tokens)

    pins = " (pinned exchanges included)" if keep else ""
    warning = (
        f"the messages that must be kept{pins} need {best_remaining:,} tokens, above the "
        f"cleanup target of {target_tokens:,}; the window cannot shrink further without "
        f"dropping one of the last {min_keep} messages or splitting an exchange"
    )
    return TrimPlan(best, total, best_remaining, target_tokens, warning)


def _droppable_among_last(window: Sequence[Message], keep: frozenset[int], count: int) -> int:
    """How many of the last ``count`` non-system messages are droppable (not pinned)."""
    seen = droppable = 0
    for message in reversed(window):
        if seen >= count:
            break
        if message.role == "system":
            continue
        seen += 1
        if message.seq not in keep:
            droppable += 1
    return droppable


def apply_trim(window: Sequence[Message], drop: int, pinned: Collection[int] = ()) -> list[Message]:
    """The window without its first ``drop`` droppable messages: system messages and the
    exchanges of the ``pinned`` seqs stay where they are."""
    if drop <= 0:
        return list(window)
    keep = pinned_exchange_seqs(window, pinned)
    kept: list[Message] = []
    dropped = 0
    for message in window:
        if dropped < drop and message.role != "system" and message.seq not in keep:
            dropped += 1
            continue
        kept.append(message)
    return kept


class ContextTracker:
    """Counts the window's tokens as one integer, updated per message: O(1) per change."""

    __slots__ = ("min_keep", "target", "threshold", "tokens", "window_size")

    def __init__(
        self,
        window_size: int = DEFAULT_CONTEXT_WINDOW,
        *,
        threshold: float = DEFAULT_CLEANUP_THRESHOLD,
        target: float = DEFAULT_CLEANUP_TARGET,
        min_keep: int = DEFAULT_MIN_MESSAGES_TO_KEEP,
        tokens: int = 0,
    ) -> None:
        if window_size <= 0:
            raise ValueError("context window size must be positive")
        if not 0 < target < threshold <= 1:
            raise ValueError(
                f"need 0 < cleanup_target < cleanup_threshold <= 1, got {target} and {threshold}"
            )
        if min_keep < 0:
            raise ValueError("min_messages_to_keep cannot be negative")
        self.window_size = window_size
        self.threshold = threshold
        self.target = target
        self.min_keep = min_keep
        self.tokens = tokens

    def add(self, tokens: int) -> None:
        self.tokens += tokens

    def remove(self, tokens: int) -> None:
        self.tokens = max(0, self.tokens - tokens)

    @property
    def fraction(self) -> float:
        return self.tokens / self.window_size

    @property
    def level(self) -> UsageLevel:
        return usage_level(self.fraction, self.threshold)

    @property
    def needs_cleanup(self) -> bool:
        return self.fraction >= self.threshold

    def plan(
        self,
        window: Sequence[Message],
        overhead: int = 0,
        *,
        target: float | None = None,
        min_keep: int | None = None,
        pinned: Collection[int] = (),
    ) -> TrimPlan:
        """Plan a trim of ``window`` under this tracker's policy (or the overrides given)."""
        return plan_trim(
            window,
            window_size=self.window_size,
            target=self.target if target is None else target,
            min_keep=self.min_keep if min_keep is None else min_keep,
            overhead=overhead,
            pinned=pinned,
        )

    def usage(self, messages: int, trimmed: int = 0, warning: str | None = None) -> ContextUsage:
        return ContextUsage(
            tokens=self.tokens,
            window=self.window_size,
            fraction=self.fraction,
            level=self.level,
            messages=messages,
            trimmed=trimmed,
            warning=warning,
        )

    def __repr__(self) -> str:
        return f"ContextTracker({self.tokens}/{self.window_size}, {self.level.value})"
