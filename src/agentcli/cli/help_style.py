"""Help that reads like a man page: no ``<bool>`` after a flag, no ``<str>`` after an argument
whose name already says what it is (``PROMPT``, ``ID``), and ``ID`` rather than ``{ID}`` in the
usage line.

Typer (0.29) writes a type placeholder after every parameter, flags and ``--help`` included.
The root group, made once per run when the app is turned into a command, walks its commands and
gives each one the classes below: subclasses of Typer's own that change only what help shows
(nothing at import time, nothing in how values are parsed).

Typer draws help and usage errors in rich panels. Where they go to a pipe or a file, they are
written the way click writes them instead: ``Error: ...`` on one line, help without box
characters (``agentcli run --help | grep temperature`` finds a line, not a panel row), and
rich is not even imported for them.
"""

from __future__ import annotations

import sys
from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from .console import is_terminal

__all__ = ["HelpGroup"]


class NamedArgument(TyperArgument):
    """An argument shown by its metavar alone (its help says what it holds)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        if not self.metavar and self.nargs != 1:
            name += "..."
        return [name if self.required else f"[{name}]"]


def _quiet_flag(option: Any) -> None:
    """A flag takes no value: an empty metavar keeps a placeholder from being shown."""
    if isinstance(option, TyperOption) and option.is_flag and option.metavar is None:
        option.metavar = ""


def _help_in_panels_only_on_terminals(
    command: Any, format_help: Any, ctx: Any, formatter: Any
) -> None:
    """Run Typer's ``format_help`` with its rich panels only when standard output is a
    terminal (on a terminal, the mode the app asked for)."""
    chosen = command.rich_markup_mode
    on_terminal = getattr(command, "help_markup_mode", chosen)
    command.rich_markup_mode = on_terminal if is_terminal(sys.stdout) else None
    try:
        format_help(command, ctx, formatter)
    finally:
        command.rich_markup_mode = chosen


class PlainHelpCommand(TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _quiet_flag(option)
        return option

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _help_in_panels_only_on_terminals(self, TyperCommand.format_help, ctx, formatter)


class HelpGroup(TyperGroup):
    """The root group: settles the help of every command below it when it is built."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _settle(self)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Typer formats usage errors with the mode the root group has when it starts: a plain
        # one-line error on standard error when that is not a terminal. Help keeps its own.
        if "help_markup_mode" not in vars(self):
            self.help_markup_mode = self.rich_markup_mode
        self.rich_markup_mode = self.help_markup_mode if is_terminal(sys.stderr) else None
        return super().main(*args, **kwargs)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _help_in_panels_only_on_terminals(self, TyperGroup.format_help, ctx, formatter)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _quiet_flag(option)
        return option


def _settle(command: Any) -> None:
    # Only Typer's own classes are given ours: a command class of someone else's is left be.
    if type(command) is TyperCommand:
        command.__class__ = PlainHelpCommand
    elif type(command) is TyperGroup:
        command.__class__ = HelpGroup
    for param in command.params:
        if type(param) is TyperArgument and param.metavar:
            param.__class__ = NamedArgument
        _quiet_flag(param)
    if command.help and not command.short_help:
        # A group's list shows each command's whole first paragraph, as the panels do, not
        # click's cut at 45 characters ("Answer one prompt and exit: 0 ok, 2 usage, 4...").
        command.short_help = command.help.split("\n\n", 1)[0]
    for sub in getattr(command, "commands", {}).values():
        _settle(sub)
