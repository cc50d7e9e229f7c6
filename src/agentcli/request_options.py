"""Request options (``-o temperature=0.2``): parsed, checked per provider, kept per session.

A session keeps its options in its metadata (``OPTIONS_KEY``); each turn hands them to the
agent in ``AgentContext.metadata[OPTIONS_KEY]``. Provider agents put them into the request
(``max_output_tokens`` overrides ``AGENTCLI_MAX_OUTPUT_TOKENS`` for that session); other agents
may read them there or ignore them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from .errors import InvalidInputError

__all__ = [
    "NAMES",
    "OPTIONS_KEY",
    "check_options",
    "describe_options",
    "merge_options",
    "parse_options",
    "stored_options",
    "turn_options",
]

OPTIONS_KEY = "options"  # in the session's metadata, and in a turn's AgentContext.metadata
MAX_OUTPUT_TOKENS = 10**7  # the same cap as AGENTCLI_MAX_OUTPUT_TOKENS
_INT64 = 2**63
_MAX_STOPS = 4  # OpenAI takes at most four stop sequences


@dataclass(frozen=True, slots=True)
class _Option:
    """One option: how its text becomes a value, and the range every provider accepts."""

    read: Callable[[str], JsonValue]
    low: float
    high: float
    kind: str  # what the text must be, for messages


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _text(text: str) -> str:
    if not text:
        raise ValueError(text)
    return text


_OPTIONS: Mapping[str, _Option] = {
    "temperature": _Option(_number, 0, 2, "a number"),
    "top_p": _Option(_number, 0, 1, "a number"),
    "max_output_tokens": _Option(int, 1, MAX_OUTPUT_TOKENS, "a whole number"),
    "seed": _Option(int, -_INT64, _INT64 - 1, "a whole number"),
    "stop": _Option(_text, 0, 0, "text"),  # repeat -o stop=... for more (up to 4)
}
NAMES: tuple[str, ...] = tuple(_OPTIONS)
# What a provider speaking the Anthropic wire format takes differently.
_ANTHROPIC_HIGH = {"temperature": 1.0}
_ANTHROPIC_REFUSES = frozenset({"seed"})


def _valid_names() -> str:
    return ", ".join(NAMES)


def parse_options(pairs: Sequence[str], given_as: str = "-o") -> dict[str, JsonValue]:
    """``NAME=VALUE`` texts as changes: a value, or ``None`` (``NAME=``) to drop a saved one.

    ``stop`` may be given more than once; its values form a list. ``given_as`` (``-o`` or
    ``/set``) starts an error message, so it names what the user typed.
    """
    changes: dict[str, JsonValue] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        option = _OPTIONS.get(name)
        if not equals or option is None:
            raise InvalidInputError(
                f"{given_as} {pair!r}: use NAME=VALUE with one of {_valid_names()} (NAME= drops it)"
            )
        if name != "stop":
            text = text.strip()  # a stop sequence may be made of spaces or line breaks
        if not text:
            changes[name] = None
            continue
        try:
            value = option.read(text)
        except ValueError:
            raise InvalidInputError(f"{given_as} {name}: {text!r} is not {option.kind}") from None
        if name == "stop":
            earlier = changes.get("stop")
            value = [*(earlier if isinstance(earlier, list) else []), value]
        changes[name] = value
    check_options({k: v for k, v in changes.items() if v is not None}, None)
    return changes


def check_options(options: Mapping[str, JsonValue], wire: str | None) -> None:
    """Refuse values out of range for ``wire`` (``"openai"``, ``"anthropic"``, or ``None``
    for an agent of our own, which gets the widest ranges)."""
    for name, value in options.items():
        option = _OPTIONS.get(name)
        if option is None:
            raise InvalidInputError(f"unknown option {name!r}: use one of {_valid_names()}")
        if wire == "anthropic" and name in _ANTHROPIC_REFUSES:
            raise InvalidInputError(f"option {name} is not supported by Anthropic models")
        if name == "stop":
            _check_stop(value, wire)
            continue
        if wire == "anthropic" and name == "top_p" and "temperature" in options:
            raise InvalidInputError("Anthropic models take temperature or top_p, not both")
        high = _ANTHROPIC_HIGH.get(name, option.high) if wire == "anthropic" else option.high
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not option.low <= value <= high
        ):
            where = " for Anthropic models" if high != option.high else ""
            raise InvalidInputError(
                f"option {name}={value!r}: use {option.kind} from {_shown(option.low)} to "
                f"{_shown(high)}{where}"
            )


def _shown(bound: float) -> str:
    return f"{int(bound):,}" if bound == int(bound) else f"{bound:g}"


def _check_stop(value: JsonValue, wire: str | None) -> None:
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise InvalidInputError("option stop: use non-empty text")
    if wire == "openai" and len(value) > _MAX_STOPS:
        raise InvalidInputError(f"option stop: at most {_MAX_STOPS} stop sequences")


def merge_options(
    current: Mapping[str, JsonValue], changes: Mapping[str, JsonValue]
) -> dict[str, JsonValue]:
    """``current`` with ``changes`` applied (a ``None`` change drops the option)."""
    merged = dict(current)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def describe_options(options: Mapping[str, JsonValue]) -> str:
    """``options`` as ``NAME=VALUE`` pairs in name order, the way ``-o`` takes them: text in
    JSON quotes (escapes visible), one ``stop=`` per stop sequence; ``""`` without any. Not yet
    safe for a terminal: callers sanitise it as they show it."""
    pairs: list[str] = []
    for name in sorted(options):
        value = options[name]
        values = value if name == "stop" and isinstance(value, list) else [value]
        pairs.extend(f"{name}={json.dumps(one, ensure_ascii=False)}" for one in values)
    return " ".join(pairs)


def stored_options(metadata: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The options in session (or turn) metadata; anything unreadable is left out."""
    value = metadata.get(OPTIONS_KEY)
    if not isinstance(value, dict):
        return {}
    kept: dict[str, JsonValue] = {}
    for name, option in value.items():
        try:
            check_options({name: option}, None)
        except InvalidInputError:
            continue  # edited by hand or by a newer version: a turn still runs
        kept[name] = option
    return kept


def turn_options(metadata: Mapping[str, JsonValue], wire: str) -> dict[str, JsonValue]:
    """A turn's options, checked for the provider's ``wire`` format (the session may have been
    set up for another provider)."""
    options = stored_options(metadata)
    try:
        check_options(options, wire)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"{exc}; change it with -o NAME=VALUE, or /set NAME=VALUE in the chat (NAME= drops it)"
        ) from None
    return options
