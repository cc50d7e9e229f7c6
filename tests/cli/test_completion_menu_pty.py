"""Esc closes the chat's completion menu, through a real pseudo-terminal: an Enter after it
sends the line (with the menu closed, Esc then Enter still makes a new line)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .terminal import Terminal, visible

pytestmark = pytest.mark.pty

Spawn = Callable[..., Terminal]
MENU_ENTRY = b"show commands and keys"  # /help's line in the menu: the menu is open


def test_esc_closes_the_menu_and_enter_then_sends(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", "echo")
    term.prompt()
    term.send("/he")
    term.expect(MENU_ENTRY)
    term.send("\x1b")
    term.send("\r")
    shown = visible(term.prompt())
    assert "unknown command /he" in shown  # sent as typed, not a new line in the input
    assert term.exit() == 0


def test_esc_after_tab_goes_back_to_what_was_typed(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", "echo")
    term.prompt()
    term.send("/hi")  # /history
    term.expect(b"/history")
    term.send("\t")  # the first completion is put in the line
    term.send("\x1b\r")  # Esc, Enter in one read, as a fast typist's keys arrive
    shown = visible(term.prompt())
    assert "unknown command /hi" in shown
    assert term.exit() == 0


def test_esc_enter_without_a_menu_is_still_a_new_line(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", "echo")
    term.prompt()
    term.send("first\x1b\rsecond")
    term.send("\r")
    shown = visible(term.prompt())
    assert "You said: first" in shown
    assert "second" in shown.split("You said: first", 1)[1]
    assert term.exit() == 0
