"""Cost in US dollars and context window sizes, from the data bundled with ``genai-prices``.

Nothing is fetched: the package ships its price table. It costs about 0.3 s to import, so it is
imported on the first price or window lookup, never when agentcli starts. A model the table does
not know has no price: the caller gets a note saying so, never a cost of 0.

``calc_price`` takes about 70 us, a good part of what a turn may add to the SDK call. Most models
are priced per token with no tiers, so their rates are read once (by asking genai-prices for
probe usages, and checking that the price is linear) and a turn's cost is four multiplications.
Tiered models, and any whose probes disagree, are always priced by ``calc_price``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Price", "context_window", "price"]

# Providers whose models genai-prices prices; anything else (ollama, a local server) has no price.
_PRICED_PROVIDERS = frozenset({"openai", "anthropic"})

# Used only when genai-prices does not know a model name, e.g. a dated snapshot newer than the
# bundled table. Longest matching prefix wins.
_WINDOW_FALLBACK: Mapping[str, int] = {
    "claude-": 200_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
}

# Lookups that failed (a miss costs ~0.7 ms in genai-prices). These caches need no lock: a set
# add and a dict store are atomic, and two threads racing only compute the same value twice.
_unknown: set[tuple[str, str]] = set()

_PROBE = 1_000_000
# Usages (input, output, cache read, cache write) at which a linear price must match exactly;
# they straddle the thresholds tiered prices use (128k, 200k, 272k).
_CHECKS = (
    (3_000, 2_000, 1_000, 500),
    (150_000, 10, 0, 0),
    (250_000, 10, 50_000, 0),
    (600_000, 1_000, 0, 100_000),
)
_RATES_TTL = 600.0  # seconds: re-read now and then, as prices may change on a date
_rates: dict[tuple[str, str], tuple[_Rates | None, float]] = {}


@dataclass(frozen=True, slots=True)
class _Rates:
    """Per-token prices of a model priced linearly."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> Decimal:
        uncached = input_tokens - cache_read - cache_write
        return (
            uncached * self.input
            + cache_read * self.cache_read
            + cache_write * self.cache_write
            + output_tokens * self.output
        )


@dataclass(frozen=True, slots=True)
class Price:
    """The cost of some usage: ``cost`` in USD, or ``None`` with a ``note`` saying why."""

    cost: float | None
    note: str | None = None


def price(
    model: str,
    provider: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> Price:
    """Price one turn's usage. ``input_tokens`` counts every prompt token, cached ones included."""
    if provider not in _PRICED_PROVIDERS:
        return Price(None, f"no price for {provider} model {model!r}")
    key = (model, provider)
    if key in _unknown:
        return _unknown_price(model, provider)
    try:
        rates = _linear_rates(key)
        if rates is not None:
            total = rates.cost(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
        else:
            total = _exact(key, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
    except LookupError:
        _unknown.add(key)
        return _unknown_price(model, provider)
    return Price(float(total))


def context_window(model: str, provider: str) -> int | None:
    """The model's context window in tokens, when genai-prices or our small table knows it."""
    if provider not in _PRICED_PROVIDERS:
        return None
    if (model, provider) not in _unknown:
        from genai_prices import Usage, calc_price

        try:
            info = calc_price(Usage(input_tokens=0, output_tokens=0), model, provider_id=provider)
        except LookupError:
            _unknown.add((model, provider))
        else:
            if info.model.context_window:
                return int(info.model.context_window)
    matches = [prefix for prefix in _WINDOW_FALLBACK if model.startswith(prefix)]
    return _WINDOW_FALLBACK[max(matches, key=len)] if matches else None


def _exact(
    key: tuple[str, str], input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
) -> Decimal:
    """The price genai-prices computes; raises ``LookupError`` for an unknown model."""
    from genai_prices import Usage, calc_price

    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read or None,
        cache_write_tokens=cache_write or None,
    )
    total: Decimal = calc_price(usage, key[0], provider_id=key[1]).total_price
    return total


def _linear_rates(key: tuple[str, str]) -> _Rates | None:
    """The model's per-token rates if its price is linear (cached), else ``None``."""
    now = time.monotonic()
    cached = _rates.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    whole = _PROBE
    linear = _Rates(
        input=_exact(key, whole, 0, 0, 0) / whole,
        output=_exact(key, 0, whole, 0, 0) / whole,
        cache_read=_exact(key, whole, 0, whole, 0) / whole,
        cache_write=_exact(key, whole, 0, 0, whole) / whole,
    )
    # Tiered or otherwise not linear: always ask genai-prices.
    found = linear if all(linear.cost(*c) == _exact(key, *c) for c in _CHECKS) else None
    _rates[key] = (found, now + _RATES_TTL)
    return found


def _unknown_price(model: str, provider: str) -> Price:
    return Price(None, f"price unknown: genai-prices has no {provider} model {model!r}")
