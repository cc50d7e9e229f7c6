"""Typed accounting of a turn: what it used, how full the window is, what cleanup did.

Agents may still report usage the specification's way, as ``metadata`` keys (``tokens``,
``prompt_tokens``, ``completion_tokens``, ``cost``); :meth:`Usage.from_metadata` reads them once,
when the response is made, and every consumer (the session, the CLI, pricing, a server's
metrics) reads the typed fields from then on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

__all__ = ["MAX_TOKENS", "CleanupReport", "ContextReport", "Usage", "UsageLevel", "checked_usage"]

logger = logging.getLogger("agentcli.usage")

# Counts above this are not tokens but a bug (or an attack). It is below 2**53, so every
# count is exact as a JSON number in any reader, and far below a database's int64 column.
# A count outside 0..MAX_TOKENS (or not an integer) is dropped with a warning, never stored,
# and never allowed to fail the turn: the answer it came with is still kept.
MAX_TOKENS = 10**15


class UsageLevel(StrEnum):
    """How full a window looks: green below 70 %, yellow to 89 %, red from 90 %."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


_Count = Annotated[int | None, Field(ge=0, le=MAX_TOKENS)]

_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "context_tokens",
    "requests",
)

# The specification's metadata keys and ours, by typed field.
_METADATA_KEYS = {
    "input_tokens": ("prompt_tokens", "input_tokens"),
    "output_tokens": ("completion_tokens", "output_tokens"),
    "total_tokens": ("tokens", "total_tokens"),
    "cached_tokens": ("cached_tokens",),
    "cache_write_tokens": ("cache_write_tokens",),
    "reasoning_tokens": ("reasoning_tokens",),
    "context_tokens": ("context_tokens",),
    "requests": ("requests",),
}


class Usage(BaseModel):
    """Tokens and cost of one answer (all of its model requests together).

    ``cost`` is in USD, or ``None`` with ``cost_note`` saying why (never a made-up 0).
    ``context_tokens`` is the provider's own count of the last request plus its answer: how
    much of the window the conversation really fills, framing and tool schemas included.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: _Count = None
    output_tokens: _Count = None
    total_tokens: _Count = None
    cached_tokens: _Count = None
    cache_write_tokens: _Count = None
    reasoning_tokens: _Count = None
    context_tokens: _Count = None
    cost: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None
    cost_note: str | None = None
    model: str | None = None
    provider: str | None = None
    requests: _Count = None

    @model_validator(mode="wrap")
    @classmethod
    def _drop_absurd_counts(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Free when the counts are fine: only a failed validation pays for the second look.
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, Mapping):
                raise
            bad = {
                str(error["loc"][0])
                for error in exc.errors()
                if error["loc"] and error["loc"][0] in _COUNT_FIELDS
            }
            if not bad:
                raise
            _warn_ignored({key: data.get(key) for key in sorted(bad)})
            return handler({k: v for k, v in data.items() if k not in bad})

    @property
    def tokens(self) -> int | None:
        """Total tokens: as reported, else input plus output when both are known."""
        if self.total_tokens is not None:
            return self.total_tokens
        if self.input_tokens is not None and self.output_tokens is not None:
            return self.input_tokens + self.output_tokens
        return None

    @property
    def reported(self) -> bool:
        """Whether any token count was reported at all."""
        return any(
            v is not None for v in (self.input_tokens, self.output_tokens, self.total_tokens)
        )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Usage | None:
        """Read the usage keys an agent put in ``metadata``; ``None`` if there are none.

        Values of the wrong type (a string, a bool, a negative or non-finite number) are
        ignored, so a careless agent cannot break the accounting of the turn.
        """
        found: dict[str, Any] = {}
        ignored: dict[str, object] = {}
        for field, keys in _METADATA_KEYS.items():
            for key in keys:
                raw = metadata.get(key)
                value = _count(raw)
                if value is not None:
                    found[field] = value
                    break
                if raw is not None:
                    ignored[key] = raw
        if ignored:
            _warn_ignored(ignored)
        cost = metadata.get("cost")
        if (
            isinstance(cost, int | float)
            and not isinstance(cost, bool)
            and math.isfinite(cost)
            and 0 <= cost <= MAX_TOKENS
        ):
            found["cost"] = float(cost)
        for key in ("cost_note", "model", "provider"):
            value = metadata.get(key)
            if isinstance(value, str) and value:
                found[key] = value
        return cls(**found) if found else None

    def as_metadata(self) -> dict[str, Any]:
        """The specification's metadata keys (``tokens``, ``prompt_tokens``, ...) for this usage."""
        out: dict[str, Any] = {}
        for key, value in (
            ("tokens", self.tokens),
            ("prompt_tokens", self.input_tokens),
            ("completion_tokens", self.output_tokens),
            ("cached_tokens", self.cached_tokens),
            ("reasoning_tokens", self.reasoning_tokens),
            ("cost", self.cost),
            ("cost_note", self.cost_note),
            ("model", self.model),
        ):
            if value is not None:
                out[key] = value
        return out


class ContextReport(BaseModel):
    """How full the window is after a turn: tokens, window size, fraction and level."""

    model_config = ConfigDict(frozen=True)

    tokens: NonNegativeInt
    window: Annotated[int, Field(gt=0)]
    fraction: float
    level: UsageLevel


class CleanupReport(BaseModel):
    """What a context cleanup did: how many messages left the window, tokens before and after."""

    model_config = ConfigDict(frozen=True)

    trimmed: NonNegativeInt
    tokens_before: NonNegativeInt
    tokens_after: NonNegativeInt
    window: Annotated[int, Field(gt=0)]
    reason: str = "threshold"
    warning: str | None = None
    # How many messages one summary replaced (``summarize``: the live summary counts as one).
    summarized: NonNegativeInt = 0
    strategy: Literal["fifo", "summarize"] = "fifo"  # what was done (a failed summary: fifo)

    @property
    def changed(self) -> bool:
        return self.trimmed > 0


def checked_usage(usage: Usage | None) -> Usage | None:
    """``usage`` validated again, counts outside 0..MAX_TOKENS dropped with a warning: one made
    with ``model_construct`` skipped validation, and the store must still hold it. Usage that
    is wrong beyond its counts is dropped whole (the answer matters more than its accounting).
    """
    if usage is None:
        return None
    try:
        return Usage.model_validate(dict(usage.__dict__))
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        logger.warning("ignored the usage the agent reported: %s", reasons)
        return None


def _warn_ignored(values: Mapping[str, object]) -> None:
    shown = ", ".join(f"{key}={_preview(value)}" for key, value in values.items())
    logger.warning(
        "ignored token counts the agent reported (not whole numbers from 0 to 10**15): %s",
        shown,
    )


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        return None
    return value
