"""``/copy [N] [FILE] [--force]``: a code block of the last answer to the clipboard or a file.

Without N, the last block (or the whole answer when it has none). On a terminal the text goes
to the clipboard through OSC 52; with FILE, or when standard output is not a terminal, it is
written to a file instead (``clipboard.txt`` in the data directory by default).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from ..errors import InvalidInputError
from .sanitize import sanitize, sanitize_inline

if TYPE_CHECKING:
    from rich.console import Console

    from ..stores.base import SessionStore
    from .repl import Repl

__all__ = ["CopyRequest", "choose_copy", "copy_command", "last_answer", "parse_copy_args"]

DEFAULT_FILE = "clipboard.txt"
_RECENT = 50  # messages read back to find the last answer


@dataclass(frozen=True, slots=True)
class CopyRequest:
    block: int | None  # 1-based; None: the last block, or the whole answer
    path: str | None
    force: bool


def parse_copy_args(args: list[str]) -> CopyRequest:
    """``[N] [FILE] [--force]``: a first argument that is a whole number is N."""
    force = "--force" in args
    rest = [arg for arg in args if arg != "--force"]
    block = None
    if rest and rest[0].lstrip("-").isdigit():
        block = int(rest.pop(0))
        if block < 1:
            raise ValueError("N must be 1 or more")
    if len(rest) > 1:
        raise ValueError("give at most one file")
    return CopyRequest(block, os.path.expanduser(rest[0]) if rest else None, force)


async def last_answer(store: SessionStore, session_id: str) -> str | None:
    """The text of the session's last answer (its rounds joined), or None before any."""
    parts: list[str] = []
    for message in reversed(await store.read(session_id, last=_RECENT)):
        if message.role == "user":
            break
        if message.role == "assistant" and message.content:
            parts.append(message.content)
    return "\n\n".join(reversed(parts)) if parts else None


def choose_copy(answer: str, block: int | None) -> tuple[str, str]:
    """The text to copy and what to call it ("block 2", "the answer")."""
    from .code_blocks import code_blocks

    blocks = code_blocks(answer)
    if block is None:
        return (blocks[-1].code, f"block {len(blocks)}") if blocks else (answer, "the answer")
    if not blocks:
        raise InvalidInputError("the last answer has no code blocks; /copy copies all of it")
    if block > len(blocks):
        if len(blocks) == 1:
            raise InvalidInputError("the last answer has 1 code block: /copy 1, or /copy")
        raise InvalidInputError(
            f"the last answer has {len(blocks)} code blocks; give N from 1 to {len(blocks)}"
        )
    return blocks[block - 1].code, f"block {block}"


async def copy_command(repl: Repl, out: Console, args: list[str]) -> None:
    request = parse_copy_args(args)
    answer = await last_answer(repl.store, repl.session_id)
    if answer is None:
        raise InvalidInputError("no answer to copy from yet")
    # Sanitised as it was shown: pasted into a shell, an escape sequence could act.
    text, what = choose_copy(sanitize(answer), request.block)
    lines = len(text.splitlines())
    size = f"{what} ({lines} line{'' if lines == 1 else 's'})"
    if request.path is None and _stdout_is_terminal():
        from .clipboard import write_clipboard

        sys.stdout.flush()
        # Without its final newline: pasted into a shell, it must not run at once.
        write_clipboard(text.rstrip("\n"), sys.stdout.buffer)
        out.print(Text(f"copied {size}", "green"))
        return
    path = _target(repl, request)
    _write(text, path, request.force or request.path is None)
    out.print(Text(f"wrote {size} to {sanitize_inline(str(path), 300)}", "green"))


def _stdout_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # replaced or closed stdout
        return False


def _target(repl: Repl, request: CopyRequest) -> Path:
    if request.path is not None:
        return Path(request.path)
    if repl.options.ephemeral:
        raise InvalidInputError("no terminal to copy to: name a file, /copy [N] FILE")
    return repl.settings.data_dir / DEFAULT_FILE


def _write(text: str, path: Path, replace: bool) -> None:
    from .._private_files import TargetExistsError, TargetIsLinkError
    from .clipboard import write_copy_file

    shown = sanitize_inline(str(path), 300)
    try:
        write_copy_file(text, path, replace=replace)
    except TargetExistsError:
        raise InvalidInputError(f"{shown} exists: add --force to replace it") from None
    except TargetIsLinkError:
        raise InvalidInputError(f"refusing to write {shown}: it is a symbolic link") from None
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InvalidInputError(f"cannot write {shown}: {detail}") from None
