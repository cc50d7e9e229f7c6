"""``/set [NAME=VALUE ...]``: the session's request options in the chat.

Without arguments it lists them. ``NAME=VALUE`` is checked for the current agent as ``-o`` is
(the same messages), then together with what the session keeps, so nothing is saved that the
next turn would refuse (Anthropic's temperature or top_p, not both); ``NAME=`` drops one. On any
error nothing changes. The options are the session's: ``/resume`` brings another session's,
``/clear`` starts with the ``-o`` options the chat was started with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from ..request_options import (
    NAMES,
    check_options,
    describe_options,
    merge_options,
    stored_options,
)
from .request_flags import checked_changes, ignores_options, spec_wire
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from pydantic import JsonValue
    from rich.console import Console

    from ..stores.base import SessionStore
    from .repl import Repl

__all__ = ["completions", "options_line", "session_options", "set_command"]

_SHOWN = 400  # characters of the options line (each stop sequence may be long)


def completions() -> list[str]:
    """What Tab offers after ``/set ``: each option's name with its ``=``."""
    return [f"{name}=" for name in NAMES]


async def session_options(store: SessionStore, session_id: str) -> dict[str, JsonValue]:
    """The options stored with the session (none for a session not stored yet)."""
    info = await store.info(session_id)
    return stored_options(info.metadata) if info is not None else {}


def options_line(options: dict[str, JsonValue]) -> Text:
    """``options: max_output_tokens=500 temperature=0.2``, made safe for a terminal."""
    return Text.assemble(("options: ", "bold"), sanitize_inline(describe_options(options), _SHOWN))


async def set_command(repl: Repl, out: Console, args: list[str]) -> None:
    # The manager first: the agent as it now is (a failed one fell back to echo), and the
    # chat's own -o options applied to this session before these change them.
    manager = await repl.manager()
    session_id, spec = repl.session_id, repl.spec
    current = await session_options(repl.store, session_id)
    if not args:
        if current:
            out.print(options_line(current))
        else:
            names = ", ".join(NAMES)
            out.print(Text(f"no options set; /set NAME=VALUE sets one of {names}", "dim"))
        return
    changes = checked_changes(args, spec, "/set")
    check_options(merge_options(current, changes), spec_wire(spec))
    options = await manager.update_options(session_id, changes)
    unset = sorted(name for name, value in changes.items() if value is None and name not in current)
    if unset:
        out.print(Text(f"not set before: {', '.join(unset)}", "dim"))
    if options:
        out.print(options_line(options))
    else:
        out.print(Text("no options set: the agent's defaults apply", "green"))
    if ignores_options(spec):
        out.print(Text("options are saved but ignored by the echo agent", "yellow"))
