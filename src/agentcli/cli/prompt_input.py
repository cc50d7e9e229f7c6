"""Reading the user's input with prompt-toolkit: history, completion, multi-line keys.

Keys:
- Enter sends; Esc then Enter (Alt+Enter in most terminals) inserts a new line;
- a message that starts with three double quotes is a block: Enter adds lines until a line
  ends with three double quotes again (the quotes are not sent);
- Tab completes slash commands (and session ids after ``/resume``, specs after ``/agent``);
  Esc closes the completion menu;
- Ctrl-C clears the line, Ctrl-D on an empty line exits, Up/Down and Ctrl-R search history.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition, has_completions
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

if TYPE_CHECKING:
    from prompt_toolkit.formatted_text import AnyFormattedText

__all__ = ["BLOCK", "SlashCompleter", "make_prompt_session", "unwrap_block"]

BLOCK = '"""'
PROMPT: AnyFormattedText = [("bold ansicyan", "› ")]  # noqa: RUF001 - the prompt sign


def unwrap_block(text: str) -> str:
    """The text of a triple-quoted block without its quotes; other text unchanged."""
    stripped = text.strip()
    if stripped.startswith(BLOCK):
        body = stripped[len(BLOCK) :]
        if body.endswith(BLOCK):
            body = body[: -len(BLOCK)]
        return body.strip("\n")
    return text


def _in_open_block(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith(BLOCK) and (len(stripped) < 6 or not stripped.endswith(BLOCK))


class SlashCompleter(Completer):
    """Completes ``/commands`` and their first argument, or every argument of the commands
    in ``repeated`` (``/set a=1 b=2`` takes several)."""

    def __init__(
        self,
        commands: Mapping[str, str],
        arguments: Mapping[str, Callable[[], Sequence[str]]],
        repeated: frozenset[str] = frozenset(),
    ) -> None:
        self.commands = commands
        self.arguments = arguments
        self.repeated = repeated

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        name, space, arg = text.partition(" ")
        if not space:
            for command, meta in self.commands.items():
                if command.startswith(name):
                    yield Completion(command, -len(name), display_meta=meta)
            return
        values = self.arguments.get(name)
        if values is None:
            return
        if " " in arg:
            if name not in self.repeated:
                return
            arg = arg.rsplit(" ", 1)[1]
        for value in values():
            if value.startswith(arg):
                yield Completion(value, -len(arg))


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    # Eager: with the menu open, Esc closes it at once (and an Enter after it sends the line
    # rather than being read as Esc+Enter, a new line).
    @bindings.add("escape", filter=has_completions, eager=True)
    def _close_menu(event: KeyPressEvent) -> None:
        event.current_buffer.cancel_completion()

    @bindings.add("enter", filter=Condition(lambda: _block_is_open()))
    def _block_newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


def _block_is_open() -> bool:
    from prompt_toolkit.application.current import get_app

    return _in_open_block(get_app().current_buffer.text)


def _history(path: Path | None) -> History:
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # What you type may be private: only you may read the history file.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
    except OSError:
        return InMemoryHistory()  # an unwritable data directory costs the history, not the chat
    return FileHistory(str(path))


def make_prompt_session(history_file: Path | None, completer: Completer) -> PromptSession[str]:
    return PromptSession(
        PROMPT,
        history=_history(history_file),
        completer=completer,
        complete_while_typing=True,
        key_bindings=_key_bindings(),
        multiline=False,
        enable_open_in_editor=False,
    )
