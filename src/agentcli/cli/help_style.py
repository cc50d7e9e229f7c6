"""Help that reads like a man page: no ``<bool>`` after a flag, no ``<str>`` after an argument
whose name already says what it is (``PROMPT``, ``ID``), and ``ID`` rather than ``{ID}`` in the
usage line.

Typer (0.29) writes a type placeholder after every parameter, flags and ``--help`` included.
The root group, made once per run when the app is turned into a command, walks its commands and
gives each one the classes below: subclasses of Typer's own that change only what help shows
(nothing at import time, nothing in how values are parsed).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

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


class PlainHelpCommand(TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _quiet_flag(option)
        return option


class HelpGroup(TyperGroup):
    """The root group: settles the help of every command below it when it is built."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _settle(self)

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
    for sub in getattr(command, "commands", {}).values():
        _settle(sub)
