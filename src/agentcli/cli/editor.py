"""``/edit [TEXT]``: write a long message in ``$VISUAL`` or ``$EDITOR`` (else ``vi``).

The editor gets a temporary file, mode 0600 (the message may be private), holding TEXT, or
the draft a refused message left, or nothing. What is saved is sent as the next message;
an empty file sends nothing. While the editor runs, Ctrl-C belongs to it, not to the chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
from typing import TYPE_CHECKING

from rich.text import Text

from ..errors import InvalidInputError
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from rich.console import Console

    from .repl import Repl

__all__ = ["edit_command", "edit_text", "editor_command"]


def editor_command(environ: dict[str, str] | None = None) -> list[str]:
    """The editor to run, split as a shell would (``code --wait`` is two words)."""
    env = os.environ if environ is None else environ
    chosen = env.get("VISUAL") or env.get("EDITOR") or "vi"
    try:
        words = shlex.split(chosen)
    except ValueError:
        words = []
    if not words:
        raise InvalidInputError(f"cannot read the editor command {sanitize_inline(chosen)!r}")
    return words


def edit_text(initial: str, environ: dict[str, str] | None = None) -> str:
    """Run the editor on a private temporary file holding ``initial``; return what was saved.
    Raises ``InvalidInputError`` when the editor cannot start or fails."""
    command = editor_command(environ)
    fd, path = tempfile.mkstemp(prefix="agentcli-", suffix=".md")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(initial)
        try:
            # The user's own editor setting, run as their shell would run it.
            status = subprocess.run([*command, path], check=False).returncode  # noqa: S603
        except OSError as exc:
            name = sanitize_inline(command[0])
            raise InvalidInputError(
                f"cannot start the editor {name}: {exc.strerror or exc} (set VISUAL or EDITOR)"
            ) from None
        if status != 0:
            raise InvalidInputError(f"the editor exited with status {status}: nothing sent")
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


async def edit_command(repl: Repl, out: Console, args: list[str]) -> None:
    from .attachments import send_message

    initial = args[0] if args else repl.draft
    text = await _edit_ignoring_ctrl_c(initial)  # if the editor fails, the draft stays
    repl.draft = ""
    if not text.strip():
        out.print(Text("the message is empty: nothing sent", "dim"))
        return
    await send_message(repl, text.rstrip("\n"))


async def _edit_ignoring_ctrl_c(initial: str) -> str:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, lambda: None)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False  # not the main thread (tests), or no signals here
    try:
        return await asyncio.to_thread(edit_text, initial)
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
