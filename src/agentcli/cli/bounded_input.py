"""Standard input read with a limit: refused as soon as it passes ``max_input_chars``.

Text is read (and decoded) a bounded number of characters at a time, so ``yes | agentcli run``
or ``cat /dev/zero | agentcli chat`` stops at the limit instead of filling memory with a
stream that never ends.
"""

from __future__ import annotations

from typing import TextIO

from .exits import USAGE, CLIExit

__all__ = ["read_line", "read_piped"]


def read_piped(stream: TextIO, max_chars: int) -> str:
    """All of ``stream``, trailing newlines removed (``agentcli run``)."""
    text = stream.read(max_chars + 1)
    # One character over is fine if it is the final newline of text exactly at the limit.
    if len(text) > max_chars and (not text.endswith("\n") or stream.read(1)):
        raise _too_long("standard input", max_chars)
    return text.rstrip("\n")


def read_line(stream: TextIO, max_chars: int) -> str | None:
    """One line of ``stream`` without its newline, ``None`` at the end (``agentcli chat``)."""
    line = stream.readline(max_chars + 1)
    if not line:
        return None
    if len(line) > max_chars and not line.endswith("\n"):
        # The rest of the line may never come: stop here rather than skip to its end.
        raise _too_long("a line of standard input", max_chars)
    return line.rstrip("\n")


def _too_long(what: str, max_chars: int) -> CLIExit:
    return CLIExit(
        USAGE,
        f"{what} is over the limit of {max_chars:,} characters; stopped reading "
        "(set AGENTCLI_MAX_INPUT_CHARS to allow more)",
    )
