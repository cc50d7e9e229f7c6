"""What an import accepts before anything is stored: a bounded size, a bounded depth, and only
values every store can hold.

The limits are checked on the raw JSON, so a hostile file fails with ``InvalidInputError``
naming the problem (and where it is), never with an error of the store or the JSON parser:

- at most ``MAX_IMPORT_BYTES`` (64 MiB) of JSON, read no further (``read_limited``);
- arrays and objects nested at most ``MAX_IMPORT_DEPTH`` (64) deep, checked without recursion;
- integers within signed 64 bits (SQLite's and PostgreSQL's ``bigint``), floats finite (NaN
  and infinities are not JSON, and PostgreSQL's ``json`` refuses them);
- text without NUL or lone surrogates, in every string and every object key
  (``messages.check_storable``): PostgreSQL refuses NUL, and nothing encodes a lone surrogate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import IO, Any, Final

from .errors import InvalidInputError
from .messages import check_storable
from .stores.base import INT64_MAX, INT64_MIN

__all__ = [
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_DEPTH",
    "check_values",
    "load_json",
    "read_limited",
]

MAX_IMPORT_BYTES: Final = 64 * 1024 * 1024
MAX_IMPORT_DEPTH: Final = 64

_CHUNK = 1024 * 1024
_LIMIT_TEXT = f"{MAX_IMPORT_BYTES // (1024 * 1024)} MiB"


def read_limited(stream: IO[bytes], limit: int = MAX_IMPORT_BYTES) -> bytes:
    """At most ``limit`` bytes of ``stream``; ``InvalidInputError`` if it holds more (reading
    stops one byte past the limit: ``/dev/zero`` costs no more memory than the limit)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise _too_large()


def load_json(data: str | bytes) -> Any:
    """The JSON value ``data`` holds, refused whole if it is too large or too deep to parse
    safely (``InvalidInputError``)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise _too_large()
    try:
        return json.loads(data)
    except RecursionError:
        # The parser recurses once per level: far deeper than the limit, refused here whole.
        raise _too_deep(None) from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        if "integer string conversion" in str(exc):  # Python's cap on digits (4,300)
            raise InvalidInputError(
                "invalid session export: an integer of thousands of digits is outside the "
                "signed 64-bit range"
            ) from None
        raise InvalidInputError(f"not a session export: the data is not JSON ({exc})") from None


def check_values(document: object) -> None:
    """Refuse (``InvalidInputError``) a value no store can hold, or a nesting deeper than
    ``MAX_IMPORT_DEPTH``, anywhere in ``document`` (a parsed JSON value).

    Depth first with a stack of iterators, one per open container: memory grows with the
    depth (at most the limit), never with the number of values, and no recursion."""
    if not isinstance(document, dict | list):
        _check_scalar(document, [], None)
        return
    keys: list[str | int] = []  # the path to the innermost open container
    stack = [_children(document, keys)]
    while stack:
        for key, value in stack[-1]:
            kind = type(value)  # exact types: json.loads makes no subclasses
            if kind is str:
                _check_text(value, keys, key)
            elif kind is int:
                if not INT64_MIN <= value <= INT64_MAX:
                    raise _out_of_range(value, [*keys, key])
            elif kind is dict or kind is list:
                if len(stack) >= MAX_IMPORT_DEPTH:
                    raise _too_deep([*keys, key])
                if not value:
                    continue  # nothing inside: no need to open it
                keys.append(key)
                stack.append(_children(value, keys))
                break
            else:
                _check_scalar(value, keys, key)
        else:
            stack.pop()
            if keys:
                keys.pop()


def _children(container: dict[Any, Any] | list[Any], keys: list[str | int]) -> Iterator[Any]:
    """(key or index, value) of each child; an object's keys are checked first."""
    if isinstance(container, list):
        return enumerate(container)
    for key in container:
        _check_text(key, keys, key, is_key=True)
    return iter(container.items())


def _check_scalar(value: object, keys: list[str | int], key: str | int | None) -> None:
    if isinstance(value, str):
        _check_text(value, keys, key)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _out_of_range(value, _path(keys, key))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(_path(keys, key), f"{value} is not a finite number")
    else:  # pragma: no cover - json.loads makes nothing else
        raise _invalid(_path(keys, key), f"unexpected {type(value).__name__}")


def _path(keys: list[str | int], key: str | int | None) -> list[str | int]:
    return keys if key is None else [*keys, key]


def _check_text(
    text: str, keys: list[str | int], key: str | int | None, *, is_key: bool = False
) -> None:
    try:
        check_storable(text)
    except ValueError as exc:
        raise _invalid(_path(keys, key), f"{'the key: ' if is_key else ''}{exc}") from None


def _invalid(path: list[str | int], problem: str) -> InvalidInputError:
    return InvalidInputError(f"invalid session export: {_where(path)}: {problem}")


def _out_of_range(value: int, path: list[str | int]) -> InvalidInputError:
    return _invalid(path, f"the integer {value} is outside the signed 64-bit range")


def _too_large() -> InvalidInputError:
    return InvalidInputError(
        f"the session export is larger than {_LIMIT_TEXT}, the most an import reads; "
        "split the session, or trim its largest messages"
    )


def _too_deep(path: list[str | int] | None) -> InvalidInputError:
    where = f" at {_where(path)}" if path else ""
    return InvalidInputError(
        f"invalid session export: arrays and objects are nested more than {MAX_IMPORT_DEPTH} "
        f"levels deep{where}"
    )


def _where(path: list[str | int]) -> str:
    """``messages.0.metadata.key``, as pydantic names a place; odd keys quoted and escaped."""
    parts: list[str] = []
    for part in path:
        plain = isinstance(part, int) or (
            part.isascii() and part.isprintable() and part != "" and "." not in part
        )
        parts.append(str(part) if plain else ascii(part))
    return ".".join(parts) or "document"
