"""Text files attached to a message: ``-f FILE`` on ``run`` and ``chat``, ``@path`` in a chat.

A file goes into the user message as a fenced block whose info string is its path, after the
message's own text, so the model reads it and the window (and the gauge) counts it. Only text
is taken: a NUL byte or invalid UTF-8 is refused, as is a file over ``MAX_FILE_BYTES`` or a
message over ``max_input_chars`` with its files. In a chat, ``@path`` attaches a file when the
path names an existing regular file (a trailing ``.,;:!?`` is tried without); otherwise the
text stays as typed. ``@@`` writes a literal ``@``.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

from ..errors import AgentCLIError, InvalidInputError
from .exits import print_error
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from rich.console import Console

    from .repl import Repl

__all__ = [
    "MAX_FILE_BYTES",
    "Attachment",
    "attach_files",
    "compose",
    "find_mentions",
    "read_attachment",
    "send_message",
    "show_attached",
]

MAX_FILE_BYTES = 100 * 1024
_MENTION = re.compile(r"(?<!\S)@(\S+)")
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str  # the path as the user wrote it
    text: str

    def block(self) -> str:
        """The file as a fenced block, the fence longer than any run of its marks inside."""
        name = sanitize_inline(self.name, 500)
        mark = "~" if "`" in name else "`"
        longest = max((len(run) for run in re.findall(re.escape(mark) + "+", self.text)), default=0)
        fence = mark * max(3, longest + 1)
        body = self.text if self.text.endswith("\n") or not self.text else self.text + "\n"
        return f"{fence}{name}\n{body}{fence}"


def read_attachment(name: str) -> Attachment:
    """The text of the file at ``name`` (``~`` expanded), or ``InvalidInputError`` saying why
    it cannot be attached."""
    shown = sanitize_inline(name, 200)
    path = os.path.expanduser(name)
    try:
        # Non-blocking: a FIFO at the name must not hang the open; it is refused below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise InvalidInputError(f"cannot attach {shown}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInputError(f"cannot attach {shown}: it is not a regular file")
    with os.fdopen(fd, "rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInputError(
            f"cannot attach {shown}: it is larger than {MAX_FILE_BYTES // 1024} KB, "
            "the limit for one file"
        )
    try:
        if b"\0" in data:
            raise ValueError
        text = data.decode("utf-8-sig")
    except ValueError:
        raise InvalidInputError(
            f"cannot attach {shown}: it is not a text file (only UTF-8 text can be attached)"
        ) from None
    return Attachment(name, text)


def find_mentions(text: str) -> tuple[str, list[str]]:
    """``text`` with each ``@path`` of an existing regular file written as the bare path and
    ``@@`` as ``@``, and those paths (each once, in order)."""
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("@"):
            return token  # "@@name": a literal "@name"
        candidate = token
        while candidate:
            if os.path.isfile(os.path.expanduser(candidate)):
                if candidate not in names:
                    names.append(candidate)
                return token
            if candidate[-1] not in _TRAILING:
                break
            candidate = candidate[:-1]
        return match.group(0)

    return _MENTION.sub(replace, text), names


def compose(text: str, attachments: list[Attachment], max_chars: int) -> str:
    """The message: its text, then each file as a block; refused over ``max_chars``."""
    message = "\n\n".join([text, *(attachment.block() for attachment in attachments)])
    if attachments and len(message) > max_chars:
        raise InvalidInputError(
            f"the message with its attachments is {len(message):,} characters, over the limit "
            f"of {max_chars:,} (attach less, or raise AGENTCLI_MAX_INPUT_CHARS)"
        )
    return message


def show_attached(console: Console, attachments: list[Attachment]) -> None:
    """One ``attached NAME (N tokens)`` line per file."""
    from ..tokens import count_tokens

    for attachment in attachments:
        tokens = count_tokens(attachment.block())
        shown = sanitize_inline(attachment.name, 200)
        console.print(Text(f"attached {shown} ({tokens:,} tokens)", "dim"), soft_wrap=True)


def attach_files(text: str, names: list[str], max_chars: int, console: Console) -> str:
    """``run -f``: the prompt with the files attached, shown when ``console`` is a terminal."""
    attachments = [read_attachment(name) for name in names]
    message = compose(text, attachments, max_chars)
    if console.is_terminal:
        show_attached(console, attachments)
    return message


async def send_message(repl: Repl, text: str) -> None:
    """Send a chat message with the ``-f`` files (on the first message) and its ``@path``
    files. A refused file sends nothing; the text waits at the next prompt to be fixed."""
    try:
        plain, names = find_mentions(text)
        files = [*repl.options.files, *(read_attachment(name) for name in names)]
        message = compose(plain, files, repl.settings.max_input_chars)
    except AgentCLIError as exc:
        print_error(str(exc))
        repl.draft = text
        return
    repl.options.files = []
    show_attached(repl.err, files)
    await repl.turn(message)
