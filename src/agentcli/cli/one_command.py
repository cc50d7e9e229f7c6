"""Turn only the command being run into a click command.

Typer makes every command of the app, and every group below it, into a click command before it
parses anything: it reads each function's signature and evaluates its annotations. For
``agentcli run`` that cost as much as a tenth of the whole start. An app narrowed to the one
command named first builds only that one; it parses, helps and fails the same way, because
the command, its group class and the app's callback are the same objects. The whole app is
kept for everything else: ``agentcli --help``, and a name that is no command, whose error
must suggest the nearest one.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

__all__ = ["narrowed"]


def narrowed(app: typer.Typer, args: list[str]) -> typer.Typer:
    """``app`` with only the command or group ``args`` start with, or ``app`` itself."""
    if not args or args[0].startswith("-"):
        return app
    from typer.main import get_command_name

    name = args[0]
    commands = [
        command
        for command in app.registered_commands
        if command.callback is not None
        and (command.name or get_command_name(command.callback.__name__)) == name
    ]
    groups = [group for group in app.registered_groups if group.name == name]
    if not commands and not groups:
        return app
    lean = copy.copy(app)
    lean.registered_commands = commands
    lean.registered_groups = groups
    return lean
