"""A turn's usage and cost, added up over its requests into the typed ``Usage``.

Each request is priced alone: long-context price tiers apply per request, so two 150k prompts
are not priced as one 300k prompt. ``genai-prices`` is imported only when a price is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..pricing import Price, price
from ..usage import MAX_TOKENS, Usage
from .wire.base import Round, RoundUsage

__all__ = ["TurnUsage", "price_rounds"]


@dataclass(slots=True)
class TurnUsage:
    """What a turn's rounds used, kept per request."""

    rounds: list[RoundUsage] = field(default_factory=list)
    requests: int = 0
    complete: bool = True  # every request reported its usage
    cut_short: bool = False  # the last answer hit its token limit
    model: str | None = None  # the model the server named (a snapshot of the alias asked for)

    def add(self, result: Round) -> None:
        self.requests += 1
        self.cut_short = result.cut_short
        self.model = result.model or self.model
        if result.usage is None:
            self.complete = False
        else:
            self.rounds.append(result.usage)

    def usage(self, requested_model: str, provider: str, display_name: str) -> Usage:
        """The typed usage: tokens summed, the window the last request filled, and the cost
        (or a note saying why it is unknown, never a made-up 0)."""
        model = self.model or requested_model
        rounds = self.rounds
        if not self.complete or not rounds:
            note = f"{display_name} did not report token usage, so the cost is unknown"
            return Usage(model=model, provider=provider, requests=self.requests, cost_note=note)
        found = price_rounds(model, provider, rounds)
        if found.cost is None and model != requested_model:
            # The server named a snapshot the price table lacks; the requested alias may be known.
            found = price_rounds(requested_model, provider, rounds)
        prompt = sum(u.input_tokens for u in rounds)
        completion = sum(u.output_tokens for u in rounds)
        last = rounds[-1]
        return Usage(
            input_tokens=_count(prompt),
            output_tokens=_count(completion),
            total_tokens=_count(prompt + completion),
            context_tokens=_count(last.input_tokens + last.output_tokens),
            cached_tokens=_total(u.cache_read_tokens for u in rounds),
            cache_write_tokens=_total(u.cache_write_tokens for u in rounds),
            reasoning_tokens=_total(u.reasoning_tokens for u in rounds),
            cost=found.cost,
            cost_note=None if found.cost is not None else found.note or "price unknown",
            model=model,
            provider=provider,
            requests=self.requests,
        )


def price_rounds(model: str, provider: str, rounds: Sequence[RoundUsage]) -> Price:
    """The cost of ``rounds``, each priced as the request it was; unknown if any is."""
    total = 0.0
    for usage in rounds:
        found = price(
            model,
            provider,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens or 0,
            cache_write_tokens=usage.cache_write_tokens or 0,
        )
        if found.cost is None:
            return found
        total += found.cost
    return Price(total)


def _count(value: int) -> int | None:
    """A count ``Usage`` accepts; a server's absurd number is dropped, not a failed turn."""
    return value if 0 <= value <= MAX_TOKENS else None


def _total(values: Iterable[int | None]) -> int | None:
    """The sum of the values reported; ``None`` if none was."""
    present = [value for value in values if value is not None]
    return _count(sum(present)) if present else None
