"""Saved prompts on screen: ``agentcli prompts list`` and the chat's ``/prompt``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from .console import err_console, out_console, print_json
from .sanitize import sanitize_inline
from .session_table import ago

if TYPE_CHECKING:
    from rich.console import Console

    from .prompt_store import SavedPrompt
    from .repl import Repl

__all__ = ["print_prompt_list", "prompt_command"]

NONE_SAVED = "no saved prompts yet: agentcli prompts save NAME TEXT"


def print_prompt_list(prompts: Sequence[SavedPrompt], *, json_output: bool) -> None:
    """A table on a terminal; piped, one tab-separated line each (name, characters, saved at,
    the start of the text); or JSON with the whole text."""
    if json_output:
        print_json(
            [{"name": p.name, "text": p.text, "saved_at": p.saved_at.isoformat()} for p in prompts]
        )
        return
    if not prompts:
        err_console().print(Text(NONE_SAVED, style="dim"))
        return
    from rich.table import Table

    from .rows import tab_line

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("name", style="cyan", no_wrap=True)
    table.add_column("characters", justify="right")
    table.add_column("saved", no_wrap=True)
    table.add_column("text", overflow="ellipsis", no_wrap=True, ratio=1)
    rows = []
    for p in prompts:
        preview = sanitize_inline(p.text, 200)
        table.add_row(p.name, f"{len(p.text):,}", ago(p.saved_at), preview)
        rows.append([p.name, str(len(p.text)), p.saved_at.isoformat(), preview])
    if out_console().is_terminal:
        out_console().print(table)
    else:  # written as is: a console would turn the tabs into spaces
        sys.stdout.write("".join(tab_line(row) + "\n" for row in rows))


async def prompt_command(repl: Repl, out: Console, args: list[str]) -> None:
    """``/prompt NAME`` sets the saved prompt as this session's system prompt; ``/prompt``
    alone lists the names."""
    from .prompt_store import load_prompt, prompt_names
    from .slash import UsageProblem

    data_dir = repl.settings.data_dir
    if not args:
        names = prompt_names(data_dir)
        shown = ", ".join(names) if names else NONE_SAVED
        out.print(Text.assemble(("saved prompts: ", "bold"), shown if names else (shown, "dim")))
        return
    if len(args) != 1:
        raise UsageProblem("give one prompt name")
    prompt = load_prompt(data_dir, args[0])
    manager = await repl.manager()
    await manager.set_system_prompt(repl.session_id, prompt.text)
    out.print(
        Text(
            f"system prompt set from saved prompt {prompt.name}: {sanitize_inline(prompt.text, 80)}"
        )
    )
