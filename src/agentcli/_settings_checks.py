"""Reading settings safely: the ``.env`` file checked before it is parsed, setting values
checked as they are read, and every failure turned into one line naming the variable (or the
``.env`` line) and the fix. A value is never quoted back: it may be a key."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = [
    "check_env_file",
    "describe_problems",
    "http_url_or_none",
    "json_string_list",
    "usable_path",
]

MAX_ENV_FILE_BYTES = 1024 * 1024
_BOM = b"\xef\xbb\xbf"
# A name is shown only when it looks like one (upper case, then space or '='): a secret pasted
# on a line of its own must not be mistaken for a name and printed.
_VARIABLE = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Z_][A-Z0-9_]{0,63})(?=[ \t]|=)")
_FIX = "set a valid value in the environment or .env, or unset it for the default"


def check_env_file(path: Path) -> None:
    """Raise ``ConfigError`` naming the first line of ``path`` that is not UTF-8 or does not
    parse, by its number and variable name: never its text, which may hold a key."""
    if not path.is_file():  # absent, or a directory (a virtualenv called .env): not ours
        return
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_ENV_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot read {path}: {reason} (fix its permissions or remove it)"
        ) from None
    if len(data) > MAX_ENV_FILE_BYTES:
        raise ConfigError(f"{path} is larger than 1 MiB: is it really a .env file?")
    if data.startswith(_BOM):
        raise ConfigError(f"{path} starts with a byte order mark: save it as UTF-8 without one")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = data.count(b"\n", 0, exc.start) + 1
        line = data.split(b"\n")[number - 1].decode("utf-8", "replace")
        raise ConfigError(
            f"{path}: line {number}{_named(line)} is not UTF-8 text: save the file as UTF-8"
        ) from None
    _check_lines(path, text)


def _check_lines(path: Path, text: str) -> None:
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.string
            match = _VARIABLE.match(line)
            if match is None:
                what = "does not start with NAME= (the line is not shown: it may hold a secret)"
            elif line[match.end() :].lstrip(" \t").startswith("="):
                what = f"has a value for {match[1]} that does not parse (an unclosed quote?)"
            else:
                what = f"has no '=' after {match[1]} (its value is not shown)"
            raise ConfigError(
                f"{path}: line {binding.original.line} {what}: write NAME=value, quote values "
                "with spaces, start comments with #"
            )


def _named(line: str) -> str:
    match = _VARIABLE.match(line)
    return f" ({match[1]})" if match else ""


# ---------------------------------------------------------------------- values


def usable_path(value: object) -> object:
    """A path setting with ``~`` expanded; empty is refused (it would mean the current
    directory) and so is ``~user`` for a user who does not exist."""
    if isinstance(value, str | Path):
        text = str(value)
        if not text.strip():
            raise ValueError("is empty: set a path, or unset it for the default")
        try:
            return Path(text).expanduser()
        except RuntimeError:
            user = text.split("/", 1)[0]
            raise ValueError(
                f"starts with {user}, a user that does not exist: write the full path"
            ) from None
    return value


def http_url_or_none(value: object) -> object:
    """An ``http(s)://host...`` URL setting; empty counts as unset. Errors never quote it."""
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    if not isinstance(text, str):
        return value
    if not text.strip():
        return None
    try:
        parts = urlsplit(text.strip())
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a bad port or bracket
        usable = False
    if not usable:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. https://host/v1")
    return value


def json_string_list(value: object) -> object:
    """A list setting written as JSON (``["a", "b"]``); empty counts as an empty list."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError('must be a JSON list of strings, e.g. ["first", "second"]') from None
    if not isinstance(parsed, list):
        raise ValueError('must be a JSON list of strings, e.g. ["first", "second"]')
    return parsed


# ---------------------------------------------------------------------- errors


def describe_problems(errors: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    """One line for a settings ``ValidationError``: each problem with its variable (``names``
    maps a field name or alias, lower case, to what to call it) and the fix; never the input."""
    problems = []
    for err in errors:
        message = str(err["msg"]).removeprefix("Value error, ")
        loc = [str(part) for part in err["loc"]]
        if not loc:  # the model's own check: its message names the variables and the fix
            problems.append(message)
            continue
        variable = names.get(loc[0].lower(), loc[0].upper())
        item = f" (item {int(loc[1]) + 1})" if len(loc) > 1 and loc[1].isdigit() else ""
        # Our own checks (value_error) say the fix themselves; pydantic's only the rule.
        fix = "" if err["type"] == "value_error" else f"; {_FIX}"
        problems.append(f"{variable}{item}: {message}{fix}")
    return "invalid setting: " + "; ".join(problems)
